"""How long the embedded node takes to come back with a long history behind it.

    .venv/bin/python scripts/bench/node_restart.py                          # 100,000 tx
    .venv/bin/python scripts/bench/node_restart.py --keep /var/tmp/chain100k # build once, reuse
    .venv/bin/python scripts/bench/node_restart.py --transactions 2000 --restarts 3 --json

Goal: with 100,000 transactions in its history, ``tutela node`` answers ``eth_blockNumber``
within 10 seconds of being started.

The history is built as the node builds it: each transaction mined into its own block,
committed and fsynced on its own, so 100,000 transactions are 100,000 blocks. The
transactions are pre-signed here and handed to the chain opened in this process, which skips
HTTP but none of the chain's own work. ``--kind transfer`` (default) pays 1 wei to a new
account each time (the state grows like a registry's; ~90 tx/s, 100,000 in ~18 min on a
2-core machine); ``--kind crossing`` sends real crossing requests of a border officer (~35
tx/s: py-evm interprets the contract). With ``--keep DIR`` the data folder stays in DIR and
a later run tops it up to the size asked.

Measured, each the median of ``--restarts`` runs: a real ``tutela node --port 0`` subprocess
from its start until it answers ``eth_blockNumber`` with the stored head, the same after the
previous node was killed with SIGKILL (SQLite recovers its WAL on open), the chain opened in
this process (``EmbeddedChain.open`` + ``eth_blockNumber``), the same three on a fresh
data folder for comparison, and the bare Python start-up of the node's modules.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import select
from web3 import Web3

from ledger_client.chain.embedded import EmbeddedChain
from ledger_client.chain.node import CHAIN_FILE, open_embedded
from ledger_client.contracts.sender import GAS_MARGIN, Fees, unsigned_transaction
from ledger_client.contracts.types import ChildId, Direction
from ledger_client.keys import LocalSigner
from ledger_client.services import children, staff
from ledger_client.services.context import open_tutela, staff_acting_as
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings
from ledger_client.store.models import Child, StaffRole

ROOT = Path(__file__).resolve().parents[2]
TUTELA = ROOT / ".venv" / "bin" / "tutela"
PYTHON = ROOT / ".venv" / "bin" / "python"
GOAL_SECONDS = 10.0
# Signed this many at a time, so that each request's expiry stays in the future.
CHUNK = 1000
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Workload:
    """Who sends the history and what each transaction is."""

    signer: LocalSigner
    # (chain time) -> (to, data, value) of one more transaction
    next_call: Callable[[int], tuple[str, bytes, int]]


def prepare_folder(data_dir: Path, kind: str) -> Workload:
    """An initialised data folder with a border officer and one enrolled child."""
    os.environ.setdefault("TUTELA_KEYSTORE_WORK_FACTOR", "1024")
    settings = load_settings(data_dir)
    if not settings.initialised:
        initialise(settings)
        with open_tutela(settings) as tutela:
            staff.add_staff(tutela, "registrar", "registrar")
            staff.add_staff(tutela, "officer", "border-officer")
            children.enrol_child(
                tutela,
                given_name="Maria",
                family_name="Popescu",
                birth_date="2016-04-12",
                birth_place="Chisinau",
                guardian_specs=["Ion Popescu;MD-0912-3345;ion@example.org"],
            )
    with open_tutela(settings) as tutela, tutela.database.transaction() as session:
        if kind == "transfer":
            # The relayer was funded at genesis; each payment goes to a new account, so
            # the state grows with the history as it does with a registry's requests.
            relayer = tutela.signer_of(staff_acting_as(session, StaffRole.RELAYER, None))
            return Workload(
                relayer,
                lambda now: (Web3.to_checksum_address(secrets.token_bytes(20)), b"", 1),
            )
        officer = tutela.signer_of(staff_acting_as(session, StaffRole.BORDER_OFFICER, None))
        child_row = session.scalars(select(Child)).one()
        child = ChildId(bytes.fromhex(child_row.child_id.removeprefix("0x")))
        ledger = tutela.ledger

        def crossing(now: int) -> tuple[str, bytes, int]:
            function = ledger.request_crossing(
                child, Direction.EXIT, "MD-LEUSENI", secrets.token_bytes(32), now + 3600
            )
            return ledger.address, HexBytes(function._encode_transaction_data()), 0

        return Workload(officer, crossing)


def build_history(data_dir: Path, transactions: int, kind: str) -> int:
    """Tops the chain up to ``transactions`` mined transactions; returns the head block."""
    work = prepare_folder(data_dir, kind)
    with open_embedded(data_dir) as session:
        chain = session.chain
        assert chain is not None, "a node is serving this folder; stop it first"

        def call(method: str, *params: object) -> Any:
            return chain.request(method, list(params))

        # One transaction a block: the head's number is the number of transactions.
        head = int(call("eth_blockNumber"), 16)
        nonce = int(call("eth_getTransactionCount", work.signer.address, "latest"), 16)
        started, done = time.monotonic(), 0
        while head < transactions:
            latest = call("eth_getBlockByNumber", "latest", False)
            now = int(latest["timestamp"], 16)
            tip = 10**9
            fees = Fees(int(latest["baseFeePerGas"], 16) * 2 + tip, tip)
            to, data, value = work.next_call(now)
            probe = {"from": work.signer.address, "to": to, "data": "0x" + data.hex()}
            gas = int(int(call("eth_estimateGas", probe), 16) * GAS_MARGIN)
            for _ in range(min(CHUNK, transactions - head)):
                to, data, value = work.next_call(now)
                tx = unsigned_transaction(
                    chain_id=chain.chain_id,
                    nonce=nonce,
                    gas=gas,
                    to=Web3.to_checksum_address(to),
                    data=data,
                    value=value,
                    fees=fees,
                )
                call("eth_sendRawTransaction", "0x" + work.signer.sign_transaction(tx).hex())
                nonce, head, done = nonce + 1, head + 1, done + 1
            rate = done / (time.monotonic() - started)
            print(f"  history: {head:,} transactions ({rate:.0f} tx/s)", file=sys.stderr)
        return head


def rpc_block_number(url: str) -> int | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the node announced
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return int(json.loads(answer.read())["result"], 16)
    except (OSError, ValueError, KeyError):
        return None


def start_node(data_dir: Path, head: int) -> tuple[subprocess.Popen[str], float]:
    """Starts ``tutela node``; returns it and the seconds until it answered with ``head``."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(TUTELA), "node", "--data-dir", str(data_dir), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    announced: list[str] = []
    reader = threading.Thread(
        target=lambda: announced.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(READY_TIMEOUT)
    if not announced or not announced[0]:
        process.kill()
        raise RuntimeError(f"tutela node did not announce its URL (exit {process.poll()})")
    url = json.loads(announced[0])["url"]
    while rpc_block_number(url) != head:
        if time.monotonic() - started > READY_TIMEOUT:
            process.kill()
            raise RuntimeError(f"the node at {url} did not reach block {head}")
        time.sleep(0.005)
    return process, time.monotonic() - started


def node_restarts(data_dir: Path, head: int, count: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"node": [], "node after kill -9": [], "stop": []}
    for _ in range(count):
        process, seconds = start_node(data_dir, head)
        timings["node"].append(seconds)
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        timings["stop"].append(time.monotonic() - stopping)
    for _ in range(count):
        process, _ = start_node(data_dir, head)
        process.kill()  # SIGKILL: no clean shutdown, the next open recovers the WAL
        process.wait(timeout=60)
        process, seconds = start_node(data_dir, head)
        timings["node after kill -9"].append(seconds)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return timings


def in_process_opens(data_dir: Path, head: int, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.monotonic()
        chain = EmbeddedChain.open(data_dir / CHAIN_FILE)
        answered = int(chain.request("eth_blockNumber", []), 16)
        timings.append(time.monotonic() - started)
        chain.close()
        assert answered == head
    return timings


def python_startups(count: int) -> list[float]:
    """The interpreter and the node command's imports alone, without any chain."""
    timings = []
    for _ in range(count):
        started = time.monotonic()
        subprocess.run(
            [str(PYTHON), "-c", "import ledger_client.cli.commands, ledger_client.chain.node"],
            check=True,
        )
        timings.append(time.monotonic() - started)
    return timings


def measure(data_dir: Path, head: int, restarts: int) -> dict[str, list[float]]:
    timings = node_restarts(data_dir, head, restarts)
    timings["in process"] = in_process_opens(data_dir, head, restarts)
    return timings


def chain_size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob(CHAIN_FILE + "*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=100_000, metavar="N")
    parser.add_argument("--restarts", type=int, default=5, metavar="K")
    parser.add_argument(
        "--kind",
        choices=("transfer", "crossing"),
        default="transfer",
        help="history of payments to new accounts (~90 tx/s to build) or of crossing "
        "requests (~35 tx/s)",
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build in DIR and keep it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tutela-restart-") as scratch:
        home = args.keep.resolve() if args.keep else Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        built = time.monotonic()
        head = build_history(home / "data", args.transactions, args.kind)
        build_seconds = time.monotonic() - built
        timings = measure(home / "data", head, args.restarts)
        size = chain_size(home / "data")
        fresh_head = build_history(Path(scratch) / "fresh", 0, args.kind)
        fresh = measure(Path(scratch) / "fresh", fresh_head, args.restarts)
    startup = python_startups(args.restarts)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    fresh_medians = {name: statistics.median(values) for name, values in fresh.items()}
    verdict = medians["node"] < GOAL_SECONDS and medians["node after kill -9"] < GOAL_SECONDS
    report = {
        "history_transactions": head,
        "history_kind": args.kind,
        "history_blocks": head,
        "chain_file_bytes": size,
        "build_seconds": round(build_seconds, 1),
        "restarts": args.restarts,
        "median_seconds": {k: round(v, 3) for k, v in medians.items()},
        "max_seconds": {k: round(max(v), 3) for k, v in timings.items()},
        "fresh_folder": {
            "blocks": fresh_head,
            **{k: round(v, 3) for k, v in fresh_medians.items()},
        },
        "python_startup_seconds": round(statistics.median(startup), 3),
        "goal_seconds": GOAL_SECONDS,
        "met": verdict,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if verdict else 1
    print(
        f"Embedded node restart, {head:,} transactions ({args.kind}s) in {head:,} blocks "
        f"({size / 2**20:,.0f} MiB chain file), median of {args.restarts}\n"
    )
    print(f"{'measure':46} {'median s':>9} {'max s':>7} {'fresh s':>8}")
    labels = {
        "node": "tutela node: start -> eth_blockNumber",
        "node after kill -9": "tutela node after kill -9: start -> answer",
        "in process": "EmbeddedChain.open + eth_blockNumber",
        "stop": "tutela node: SIGTERM -> exit",
    }
    for name, label in labels.items():
        print(
            f"{label:46} {medians[name]:>9.3f} {max(timings[name]):>7.3f} "
            f"{fresh_medians[name]:>8.3f}"
        )
    print(f"{'python + imports of the node (no chain)':46} {statistics.median(startup):>9.3f}")
    goal = "ok" if verdict else "MISSED"
    print(f"\ngoal: node answers within {GOAL_SECONDS:.0f} s: {goal}")
    print(f"(history built in {build_seconds:,.0f} s this run; 'fresh' = a new data folder)")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
