"""Crossing requests a second through the outbox, against pre-signed raw batches, same run.

    .venv/bin/python scripts/bench/outbox_throughput.py                  # N = 1,000 and 3,000
    .venv/bin/python scripts/bench/outbox_throughput.py --requests 500 --json
    .venv/bin/python scripts/bench/outbox_throughput.py --database-url postgresql+psycopg://...

Goal: the outbox sustains at least 0.3 of the raw baseline's rate, measured in the same run
on the same fresh anvil.

* raw baseline: N ``requestCrossing`` transactions signed beforehand, sent in one batched
  JSON-RPC call (``eth_sendRawTransaction`` x N), timed until every receipt is in. No store,
  no checks: the node's own ceiling for this call.
* outbox: N requests through ``services.bulk.request_crossings`` in batches of ``--batch``,
  timed from the first call until the last returns. Each request is checked, its row and
  sealed companion and its signed transaction (nonce and idempotency key) are committed to
  the SQL store before anything is broadcast, and it is numbered in the store from its
  receipt: what a deployment does.
* a click: ``request_crossing`` one at a time, each waiting for its receipt (latency).
* officers at once: ``--officers`` threads, one border officer each, calling
  ``request_crossing`` concurrently.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ledger_client.chain.anvil import DEV_PRIVATE_KEY, running_anvil
from ledger_client.contracts.sender import GAS_MARGIN, current_fees, unsigned_transaction
from ledger_client.contracts.types import ChildId, Direction
from ledger_client.outbox.batching import receipts_many
from ledger_client.services import bulk, children, crossings, staff
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings
from ledger_client.store.models import Child, CrossingRequest, StaffMember

GOAL_RATIO = 0.3
# A permissioned chain's settings: gas is free (no base fee) and blocks are large. anvil
# 1.5.1's defaults stall a burst of a few hundred transactions: full blocks raise the base
# fee beyond the 2x margin the sender signs with, and its automine leaves what did not fit
# in a block pending until another transaction arrives (foundry-rs/foundry#10122).
ANVIL_FLAGS = ("--block-base-fee-per-gas", "0", "--gas-limit", "1000000000")
BORDER = "MD-LEUSENI"


@contextmanager
def bench_tutela(database_url: str | None, officers: int, kids: int) -> Iterator[Tutela]:
    """A fresh anvil and data folder, the staff of tests/conftest.py, and a few children."""
    # Cheap keys for the set-up only: nothing below creates keys while measuring.
    os.environ["TUTELA_KEYSTORE_WORK_FACTOR"] = "1024"
    os.environ["TUTELA_FUNDER_PRIVATE_KEY"] = DEV_PRIVATE_KEY
    if database_url:
        os.environ["TUTELA_DATABASE_URL"] = database_url
    with (
        tempfile.TemporaryDirectory(prefix="tutela-outbox-") as folder,
        running_anvil(*ANVIL_FLAGS) as url,
    ):
        settings = load_settings(Path(folder) / "data", url)
        initialise(settings)
        with open_tutela(settings) as tutela:
            staff.add_staff(tutela, "registrar", "registrar")
            staff.add_staff(tutela, "protector", "child-protection")
            for name in ["officer", "raw-officer"] + [f"officer-{n}" for n in range(officers)]:
                staff.add_staff(tutela, name, "border-officer")
            for n in range(kids):
                children.enrol_child(
                    tutela,
                    given_name=f"Child{n}",
                    family_name="Bench",
                    birth_date="2016-04-12",
                    birth_place="Chisinau",
                    guardian_specs=[f"Guardian {n};MD-0000-{n:04d};g{n}@example.org"],
                )
            yield tutela


class Nudger:
    """Asks anvil for a block when transactions wait in its pool and none came for a while.

    anvil 1.5.1's automine leaves the tail of a burst in its pool until another transaction
    arrives (foundry-rs/foundry#10122): seen here with its default flags (a full block, then
    empty ones while 1,297 valid transactions waited) and, less often, with the flags above
    (a raw run of 3,000 took 60 s instead of 6). A real network mines on a timer; this stands
    in for it, the same for both figures, and counts how often it had to.
    """

    def __init__(self, url: str, quiet: float = 0.25) -> None:
        self.url, self.quiet, self.nudges = url, quiet, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Nudger:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        seen, since = (-1, -1), time.monotonic()
        while not self._stop.wait(self.quiet / 5):
            try:
                pending = int(self._call("txpool_status")["pending"], 16)
                now = (int(self._call("eth_blockNumber"), 16), pending)
                if now != seen:  # a block came, or transactions are still arriving
                    seen, since = now, time.monotonic()
                elif pending and time.monotonic() - since > self.quiet:
                    self._call("evm_mine")
                    self.nudges += 1
                    since = time.monotonic()
            except OSError:  # anvil busy with a batch: look again
                continue

    def _call(self, method: str) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
        request = urllib.request.Request(  # noqa: S310 - the anvil this script started
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())["result"]


class Companions:
    """A new companion document each time, so that no two requests are the same action."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self._next += 1
            return f"BX{self._next:010d}"


def cards(tutela: Tutela) -> list[str]:
    with tutela.database.transaction() as session:
        return [str(c.card_number) for c in session.scalars(select(Child))]


def raw_baseline(tutela: Tutela, count: int, batch: int) -> float:
    """Seconds from sending ``count`` pre-signed requests, ``batch`` to a JSON-RPC call, to
    their last receipt."""
    with tutela.database.transaction() as session:
        member = session.scalars(select(StaffMember).where(StaffMember.name == "raw-officer")).one()
        signer = tutela.signer_of(member)
        child_ids = [
            ChildId(bytes.fromhex(c.child_id.removeprefix("0x")))
            for c in session.scalars(select(Child))
        ]
    w3, ledger = tutela.w3, tutela.ledger
    expires = tutela.chain_time() + 3600

    def data(n: int) -> bytes:
        function = ledger.request_crossing(
            child_ids[n % len(child_ids)], Direction.EXIT, BORDER, n.to_bytes(32, "big"), expires
        )
        return bytes.fromhex(function._encode_transaction_data().removeprefix("0x"))

    call = {"from": signer.address, "to": ledger.address, "data": data(0)}
    gas = int(w3.eth.estimate_gas(call) * GAS_MARGIN)  # type: ignore[arg-type]
    fees = current_fees(w3)
    nonce = w3.eth.get_transaction_count(signer.address, "pending")
    raws = [
        "0x"
        + signer.sign_transaction(
            unsigned_transaction(
                chain_id=tutela.chain_id,
                nonce=nonce + n,
                gas=gas,
                to=ledger.address,
                data=data(n + 1),
                value=0,
                fees=fees,
            )
        ).hex()
        for n in range(count)
    ]
    started = time.monotonic()
    hashes = []
    for start in range(0, count, batch):
        answers = w3.provider.make_batch_request(  # type: ignore[attr-defined]
            [("eth_sendRawTransaction", [raw]) for raw in raws[start : start + batch]]
        )
        hashes += [answer["result"] for answer in answers]
    waiting = hashes
    while waiting:
        receipts = receipts_many(w3, waiting)
        failed = [r for r in receipts if r is not None and r["status"] != 1]
        assert not failed, f"{len(failed)} raw transactions reverted"
        waiting = [h for h, r in zip(waiting, receipts, strict=True) if r is None]
    return time.monotonic() - started


def outbox_bulk(tutela: Tutela, count: int, batch: int, companion: Callable[[], str]) -> float:
    """Seconds for ``count`` requests through ``bulk.request_crossings``; checks each."""
    known = cards(tutela)
    inputs = [
        bulk.CrossingRequestInput(
            card=known[n % len(known)],
            direction="exit",
            border_point=BORDER,
            companion_name="Bench Companion",
            companion_document=companion(),
        )
        for n in range(count)
    ]
    started = time.monotonic()
    results: list[bulk.RequestedCrossing] = []
    for start in range(0, count, batch):
        results += bulk.request_crossings(
            tutela, inputs[start : start + batch], acting_as="officer"
        )
    seconds = time.monotonic() - started
    numbers = [r.request for r in results]
    assert None not in numbers, "some requests were not numbered"
    assert len(set(numbers)) == count, "some requests share a number"
    return seconds


def click(tutela: Tutela, card: str, companion: str, officer: str) -> float:
    started = time.monotonic()
    crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point=BORDER,
        companion_name="Bench Companion",
        companion_document=companion,
        acting_as=officer,
    )
    return time.monotonic() - started


def clicks(tutela: Tutela, count: int, companion: Callable[[], str]) -> list[float]:
    known = cards(tutela)
    return [click(tutela, known[n % len(known)], companion(), "officer") for n in range(count)]


def officers_at_once(
    tutela: Tutela, officers: int, each: int, companion: Callable[[], str]
) -> tuple[float, list[str]]:
    """Seconds for ``officers`` threads to make ``each`` single requests apiece; failures."""
    known = cards(tutela)
    failures: list[str] = []

    def work(officer: str) -> None:
        for n in range(each):
            try:
                click(tutela, known[n % len(known)], companion(), officer)
            except Exception as error:  # counted and shown: a bench must not hide them
                failures.append(f"{type(error).__name__}: {error}"[:160])

    threads = [threading.Thread(target=work, args=(f"officer-{n}",)) for n in range(officers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, failures


def stored_requests(tutela: Tutela) -> int:
    with tutela.database.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CrossingRequest)
                .where(CrossingRequest.request_id.is_not(None))
            )
            or 0
        )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    companion = Companions()
    report: dict[str, Any] = {"runs": []}
    with bench_tutela(args.database_url, args.officers, args.children) as tutela:
        report["store"] = tutela.database.dialect
        latencies = clicks(tutela, args.clicks, companion)
        report["click_ms"] = {
            "count": len(latencies),
            "median": round(statistics.median(latencies) * 1000, 1),
            "p95": round(sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)] * 1000, 1),
        }
        if args.officers:
            seconds, failures = officers_at_once(tutela, args.officers, args.per_officer, companion)
            made = args.officers * args.per_officer - len(failures)
            report["officers"] = {
                "threads": args.officers,
                "requests": made,
                "per_second": round(made / seconds, 1),
                "failed": len(failures),
                "first_failure": failures[0] if failures else None,
            }
        assert tutela.settings.chain_url is not None
        with Nudger(tutela.settings.chain_url) as nudger:
            for count in args.requests:
                nudged = nudger.nudges
                raw = raw_baseline(tutela, count, args.raw_batch)
                raw_nudges, nudged = nudger.nudges - nudged, nudger.nudges
                outbox = outbox_bulk(tutela, count, args.batch, companion)
                report["runs"].append(
                    {
                        "requests": count,
                        "raw_seconds": round(raw, 3),
                        "raw_per_second": round(count / raw, 1),
                        "outbox_seconds": round(outbox, 3),
                        "outbox_per_second": round(count / outbox, 1),
                        "ratio": round(raw / outbox, 3),
                        "anvil_nudges": [raw_nudges, nudger.nudges - nudged],
                    }
                )
        report["numbered_in_store"] = stored_requests(tutela)
    report["goal_ratio"] = GOAL_RATIO
    report["met"] = all(run["ratio"] >= GOAL_RATIO for run in report["runs"])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, nargs="+", default=[1000, 3000], metavar="N", help="sizes"
    )
    parser.add_argument("--batch", type=int, default=500, help="requests per bulk call")
    parser.add_argument(
        "--raw-batch", type=int, default=1000, help="raw transactions per JSON-RPC call"
    )
    parser.add_argument("--clicks", type=int, default=50, help="single requests for latency")
    parser.add_argument("--officers", type=int, default=4, help="concurrent officers (0: skip)")
    parser.add_argument("--per-officer", type=int, default=25, help="requests per officer")
    parser.add_argument("--children", type=int, default=5, help="children enrolled")
    parser.add_argument("--database-url", help="the store (default: SQLite in the data folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = measure(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["met"] else 1
    print(f"Crossing requests through the outbox, anvil 1.5.1, {report['store']} store\n")
    print(f"{'N':>6} {'raw tx/s':>10} {'outbox tx/s':>12} {'ratio':>7}  (goal >= {GOAL_RATIO})")
    for run in report["runs"]:
        mark = "ok" if run["ratio"] >= GOAL_RATIO else "MISSED"
        print(
            f"{run['requests']:>6,} {run['raw_per_second']:>10,.0f} "
            f"{run['outbox_per_second']:>12,.0f} {run['ratio']:>7.2f}  {mark}"
            f"  (anvil nudged {run['anvil_nudges'][0]}, {run['anvil_nudges'][1]})"
        )
    click_ms = report["click_ms"]
    print(
        f"\none request at a time (a click): median {click_ms['median']:.0f} ms, "
        f"p95 {click_ms['p95']:.0f} ms over {click_ms['count']}"
    )
    if "officers" in report:
        officers = report["officers"]
        print(
            f"{officers['threads']} officers at once, one request at a time each: "
            f"{officers['per_second']:.0f} requests/s over {officers['requests']}"
            + (
                f"; {officers['failed']} failed, e.g. {officers['first_failure']}"
                if officers["failed"]
                else ""
            )
        )
    print(f"numbered in the store: {report['numbered_in_store']:,}")
    print(
        f"raw: one batched call of N pre-signed transactions until the last receipt; outbox: "
        f"bulk.request_crossings in batches of {args.batch}, stored before broadcast"
    )
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
