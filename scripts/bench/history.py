"""A child's crossing history from an index of 1,000,000 crossing events, and by eth_getLogs.

    .venv/bin/python scripts/bench/history.py                        # 1,000,000 events
    .venv/bin/python scripts/bench/history.py --keep /var/tmp/hist   # keep the SQLite index
    .venv/bin/python scripts/bench/history.py --events 20000 --span-samples 0 --json

Goal (issue): ``child_history`` of one child within 10 ms at the 99th percentile, on SQLite
and on PostgreSQL, timed as ``tutela history`` reads: ``database.transaction()``,
``child_history(session, [child_id])``, commit. Random children and the busiest are timed
apart. SQLite runs in this thread, so its CPU time is shown too: on a shared machine the
wall clock's tail is mostly other processes holding the cores.

The rows are synthetic: a million events through a chain and the indexer would take hours.
The events are drawn at random and turned into rows by the indexer's own ``row_of``; each
request's derived ``status`` follows the indexer's rule, checked against ``refresh_requests``
before timing. Shape: a child per 20 events (50,000); one child in 500 commutes to school
across the border on 120-240 days (the busiest: 600-1,200 events); the others make trips,
an exit and an entry 1-21 days later. An exit is approved by a guardian (90%), approved
after the family rule set the travelling guardian's approval aside (5%), denied (4%; a third
of those overridden by court order) or left undecided; most approved requests end crossed.
Each event is its own transaction, at its time on a year of 5-second blocks (6.3 million).
Only the tables ``child_history`` reads, ``index_blocks`` and the checkpoint are filled.

The same events then go to anvil through ``contracts/HistoryEmitter.sol`` (the ledger's event
declarations; 500 events a transaction, so ~2,000 blocks), and ``eth_getLogs`` by the child's
topic (requests and outcomes; decisions would need a second query by request id) is timed for
the same children. Then empty blocks are mined up to the index's year of blocks and
``--span-samples`` random children are timed again: eth_getLogs walks every block of its range.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import solcx
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types
from eth_utils.address import to_checksum_address
from sqlalchemy import Table, func, insert, select, text
from web3 import Web3

from ledger_client.chain.anvil import DEV_PRIVATE_KEY, running_anvil
from ledger_client.contracts.artifacts import load_artifact
from ledger_client.contracts.types import Direction, Outcome, RequestStatus
from ledger_client.contracts.wrappers import encode_border_point
from ledger_client.indexer.derived import refresh_requests
from ledger_client.indexer.events import DecodedEvent, event_specs
from ledger_client.indexer.fetch import REORG_WINDOW
from ledger_client.indexer.queries import child_history
from ledger_client.indexer.rows import row_of
from ledger_client.indexer.tables import BLOCKS, CHECKPOINTS, ChainRequest, event_table
from ledger_client.store.database import Database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # scripts/ and tests/ are not installed packages
from scripts.compile_contracts import EVM_VERSION, find_solc  # noqa: E402
from tests.support.postgres import throwaway_cluster  # noqa: E402

GOAL_MS = 10.0
BLOCK_TIME, START = 5, 1_735_689_600  # 5-second blocks from 2025-01-01T00:00Z
MINUTE, HOUR, DAY = 60, 3600, 86_400
YEAR = 365 * DAY
EVENTS_PER_TX = 500
EMITTER = ROOT / "scripts" / "bench" / "contracts" / "HistoryEmitter.sol"
REQUESTS = event_table(ChainRequest)
BORDER_POINTS = ["MD-LEUSENI", "MD-SCULENI", "MD-GIURGIULESTI", "MD-OTACI", "RO-ALBITA"]
# emitBatch takes one array of each, in this order.
KINDS = ("CrossingRequested", "GuardianDecided", "ProtectionDecided", "CrossingOverridden")
KINDS += ("CrossingRecorded",)
Step = tuple[int, str, dict[str, Any]]  # seconds after the request, event name, its args


@dataclass
class Synthetic:
    events: list[DecodedEvent]  # in chain order
    statuses: dict[int, str]  # each request's stored status after all its events
    children: list[str]
    history_events: Counter[str]  # per child: events child_history returns
    log_matches: Counter[str]  # per child: CrossingRequested + CrossingRecorded
    blocks: list[dict[str, Any]]  # index_blocks rows
    checkpoint: dict[str, Any]


def note(message: str) -> None:
    """Progress, on stderr: stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def _hex(rng: random.Random, size: int) -> str:
    return "0x" + rng.randbytes(size).hex()


def _address(rng: random.Random) -> str:
    return str(to_checksum_address(rng.randbytes(20)))


def crossing_steps(
    rng: random.Random, direction: Direction, family: tuple[str, str, str], officers: list[str]
) -> tuple[str, list[Step], RequestStatus]:
    """What happens to one request: its companion, the later events, its final stored status."""
    first, second, first_document = family
    companion, steps = _hex(rng, 32), []
    status = RequestStatus.APPROVED if direction is Direction.ENTRY else RequestStatus.PENDING
    at = rng.randint(2, 60) * MINUTE

    def step(name: str, args: dict[str, Any], then: RequestStatus) -> None:
        nonlocal status
        steps.append((at, name, args))
        if then is not RequestStatus.PENDING:  # as refresh_requests: pending changes nothing
            status = then

    def guardian(who: str, approved: bool, counted: bool, then: RequestStatus) -> None:
        args = {"guardian": who, "approved": approved, "counted": counted, "status": then.ordinal}
        step("GuardianDecided", args, then)

    if direction is Direction.EXIT:
        draw, either = rng.random(), rng.choice((first, second))
        if draw < 0.90:
            guardian(either, True, True, RequestStatus.APPROVED)
        elif draw < 0.95:  # travelling with the first guardian: the family rule sets it aside
            companion = first_document
            guardian(first, True, False, RequestStatus.PENDING)
            at += rng.randint(5, 120) * MINUTE
            if rng.random() < 0.5:
                guardian(second, True, True, RequestStatus.APPROVED)
            else:
                approved = RequestStatus.APPROVED
                args = {
                    "officer": rng.choice(officers),
                    "approved": True,
                    "status": approved.ordinal,
                }
                step("ProtectionDecided", args, RequestStatus.APPROVED)
        elif draw < 0.99:
            guardian(either, False, True, RequestStatus.DENIED)
            if rng.random() < 1 / 3:
                at += rng.randint(2, 12) * HOUR
                args = {"officer": rng.choice(officers), "courtOrderHash": _hex(rng, 32)}
                step("CrossingOverridden", args, RequestStatus.OVERRIDDEN)
    draw = rng.random()
    if status in (RequestStatus.APPROVED, RequestStatus.OVERRIDDEN) and draw < 0.98:
        outcome = Outcome.CROSSED if draw < 0.96 else Outcome.TURNED_BACK
    elif status is RequestStatus.PENDING and draw < 0.5:
        outcome = Outcome.TURNED_BACK
    else:
        return companion, steps, status  # denied, or left to expire
    at += rng.randint(10, 240) * MINUTE
    step("CrossingRecorded", {"outcome": outcome.ordinal}, RequestStatus(str(outcome)))
    return companion, steps, status


def synthesise(total: int, seed: int) -> Synthetic:
    """At least ``total`` crossing events over a year, in chain order, with their blocks."""
    rng = random.Random(seed)
    children = [_hex(rng, 16) for _ in range(max(1, total // 20))]
    families = {c: (_address(rng), _address(rng), _hex(rng, 32)) for c in children}
    officers = [_address(rng) for _ in range(300)]
    planned: list[tuple[int, str, Direction, str, list[Step], RequestStatus]] = []

    def plan(at: int, child: str, direction: Direction) -> int:
        companion, steps, status = crossing_steps(rng, direction, families[child], officers)
        planned.append((at, child, direction, companion, steps, status))
        return 1 + len(steps)

    count = 0
    for child in children[: max(1, len(children) // 500)]:  # commuters to school
        for day in rng.sample(range(360), rng.randint(120, 240)):
            count += plan(day * DAY + 7 * HOUR + rng.randrange(HOUR), child, Direction.EXIT)
            count += plan(day * DAY + 16 * HOUR + rng.randrange(HOUR), child, Direction.ENTRY)
    while count < total:  # trips: out, and back 1-21 days later
        child, leave = rng.choice(children), rng.randrange(YEAR - 30 * DAY)
        count += plan(leave, child, Direction.EXIT)
        back = leave + rng.randint(1, 21) * DAY + rng.randrange(DAY)
        count += plan(back, child, Direction.ENTRY)

    # Request ids count up in the order the requests were opened, as the contract's do.
    timed: list[tuple[int, int, int, str, dict[str, Any]]] = []
    statuses: dict[int, str] = {}
    history_events, log_matches = Counter[str](), Counter[str]()
    planned.sort(key=lambda p: (p[0], p[1]))
    for request_id, (at, child, direction, companion, steps, status) in enumerate(planned, 1):
        officer, point = rng.choice(officers), encode_border_point(rng.choice(BORDER_POINTS))
        opened = {
            "requestId": request_id,
            "childId": child,
            "companionCommitment": companion,
            "direction": direction.ordinal,
            "borderPoint": "0x" + point.hex(),
            "expiresAt": START + at + DAY,
            "officer": officer,
        }
        timed.append((at, request_id, 0, "CrossingRequested", opened))
        for order, (offset, name, args) in enumerate(steps, 1):
            if name == "CrossingRecorded":
                args = {"childId": child, **args, "officer": officer}
            timed.append((at + offset, request_id, order, name, {"requestId": request_id, **args}))
        statuses[request_id] = str(status)
        history_events[child] += 1 + len(steps)
        log_matches[child] += 1 + sum(name == "CrossingRecorded" for _, name, _ in steps)
    timed.sort(key=lambda t: t[:3])

    def block(number: int) -> tuple[str, int]:  # its hash and time
        digest = hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()
        return "0x" + digest, START + (number - 1) * BLOCK_TIME

    events, per_block = [], Counter[int]()
    for at, _, _, name, args in timed:  # one event per transaction, as the ledger emits them
        number = 1 + at // BLOCK_TIME
        located = (number, *block(number), _hex(rng, 32), per_block[number])
        events.append(DecodedEvent("CrossingLedger", name, args, *located))
        per_block[number] += 1
    last = YEAR // BLOCK_TIME
    kept = set(per_block) | set(range(last - REORG_WINDOW + 1, last + 1))  # as sync keeps them
    blocks = [
        dict(zip(("number", "hash", "time", "events"), (n, *block(n), per_block[n]), strict=True))
        for n in sorted(kept)
    ]
    checkpoint = {"registry_address": _address(rng), "ledger_address": _address(rng)}
    checkpoint |= {"deploy_block": 1, "block_number": last, "updated_at": datetime.now(UTC)}
    checkpoint["block_hash"], checkpoint["block_time"] = block(last)
    return Synthetic(events, statuses, children, history_events, log_matches, blocks, checkpoint)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load(database: Database, synthetic: Synthetic) -> None:
    """Writes the rows the indexer would write, in one transaction of big executemany batches."""
    database.migrate()
    with database.engine.begin() as connection:
        for batch in chunks(synthetic.events, 50_000):
            rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
            for event in batch:
                table, row = row_of(event, event.block_time or 0)
                if table is REQUESTS:
                    row["status"] = synthetic.statuses[row["request_id"]]
                rows[table].append(row)
            for table, table_rows in rows.items():
                connection.execute(insert(table), table_rows)
        connection.execute(insert(BLOCKS), synthetic.blocks)
        connection.execute(insert(CHECKPOINTS), [synthetic.checkpoint])


def is_loaded(database: Database) -> bool:
    if not database.is_migrated():
        return False
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(CHECKPOINTS)) == 1


def check_statuses(database: Database, synthetic: Synthetic, children: list[str]) -> None:
    """The stored statuses are the synthetic ones, and those the indexer's refresh computes."""
    with database.transaction() as session:
        stored = {r.request: r.status for r in child_history(session, children, now=0)}
        refresh_requests(session, list(stored))
        refreshed = {r.request: r.status for r in child_history(session, children, now=0)}
    if not stored or not stored == refreshed == {r: synthetic.statuses[r] for r in stored}:
        raise SystemExit("the synthetic request statuses differ from the indexer's")


def time_reads(
    read: Callable[[str], Any],
    count: Callable[[Any], int],
    children: list[str],
    expected: Counter[str],
    warmup: int = 20,
) -> tuple[list[float], list[float]]:
    """Milliseconds of each read, wall clock and this thread's CPU, after a few untimed reads.

    Raises:
        SystemExit: a read did not find what was written.
    """
    for child in children[:warmup]:
        read(child)
    wall, cpu = [], []
    for child in children:
        start, start_cpu = time.perf_counter(), time.thread_time()
        found = read(child)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        if count(found) != expected[child]:
            raise SystemExit(
                f"child {child}: {count(found)} events read, {expected[child]} written"
            )
    return wall, cpu


def summary(store: str, events: int, times: list[float]) -> dict[str, Any]:
    p99 = statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else times[0]
    return {
        "store": store, "events": events, "samples": len(times),
        "p50_ms": round(statistics.median(times), 2), "p99_ms": round(p99, 2),
        "max_ms": round(max(times), 2), "goal": "met" if p99 < GOAL_MS else "missed",
    }  # fmt: skip


def bench_index(
    label: str, database: Database, synthetic: Synthetic, samples: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Wall-clock rows; for SQLite, which runs in this thread, its CPU time too: on a shared
    machine the wall clock's tail is mostly other processes holding the cores."""
    check_statuses(database, synthetic, [c for children in samples.values() for c in children])

    def read(child: str) -> list[Any]:
        with database.transaction() as session:  # as `tutela history` reads
            return child_history(session, [child])

    def count(records: list[Any]) -> int:
        extra = sum(
            len(r.decisions) + (r.override is not None) + (r.outcome is not None) for r in records
        )
        return len(records) + extra

    rows = []
    for kind, children in samples.items():
        wall, cpu = time_reads(read, count, children, synthetic.history_events)
        rows.append(summary(f"{label}, {kind} children", len(synthetic.events), wall))
        if database.dialect == "sqlite":
            rows.append(summary(f"{label}, {kind} children, CPU time", len(synthetic.events), cpu))
    return rows


def compile_emitter() -> tuple[list[dict[str, Any]], str]:
    """ABI and bytecode of HistoryEmitter (solc 0.8.28, paris); its events must be the ledger's."""
    unit = EMITTER.relative_to(ROOT).as_posix()
    settings = {"evmVersion": EVM_VERSION, "optimizer": {"enabled": True, "runs": 200}}
    settings["outputSelection"] = {unit: {"HistoryEmitter": ["abi", "evm.bytecode.object"]}}
    source = {unit: {"content": EMITTER.read_text(encoding="utf-8")}}
    output = solcx.compile_standard(
        {"language": "Solidity", "sources": source, "settings": settings},
        base_path=ROOT, allow_paths=[ROOT], solc_binary=find_solc(),
    )  # fmt: skip
    compiled = output["contracts"][unit]["HistoryEmitter"]

    def shapes(abi: list[dict[str, Any]]) -> dict[str, list[tuple[str, str, bool]]]:
        return {
            e["name"]: [(i["name"], i["type"], i["indexed"]) for i in e["inputs"]]
            for e in abi
            if e["type"] == "event"
        }

    ledger = shapes(load_artifact("CrossingLedger").abi)
    for name, shape in shapes(compiled["abi"]).items():
        if shape != ledger[name]:
            raise SystemExit(f"HistoryEmitter's {name} is not the ledger's")
    return compiled["abi"], "0x" + compiled["evm"]["bytecode"]["object"]


def bench_anvil(
    synthetic: Synthetic, samples: dict[str, list[str]], span_samples: int, build: dict[str, float]
) -> list[dict[str, Any]]:
    abi, bytecode = compile_emitter()
    fields = {  # each event's arguments in the order of its struct, and whether they are bytesN
        e["name"]: [(i["name"], i["type"].startswith("bytes")) for i in e["inputs"]]
        for e in abi
        if e["type"] == "event"
    }
    emit_batch = next(e for e in abi if e.get("name") == "emitBatch")
    selector, types = function_abi_to_4byte_selector(emit_batch), get_abi_input_types(emit_batch)
    topic = {spec.name: spec.topic0 for spec in event_specs().values()}  # from the ledger's ABI
    rows = []
    with running_anvil() as url:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 600}))
        sender = Account.from_key(DEV_PRIVATE_KEY).address  # anvil signs for its dev accounts

        def transact(to: str | None, data: bytes) -> dict[str, Any]:
            call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(25_000_000)}
            sent = w3.provider.make_request("eth_sendTransaction", [call])["result"]
            # Polled raw: web3's own wait formats the receipt's 500 logs, slower than the send.
            while (
                receipt := w3.provider.make_request("eth_getTransactionReceipt", [sent])["result"]
            ) is None:
                time.sleep(0.002)
            if receipt["status"] != "0x1":
                raise SystemExit(f"transaction {sent} failed")
            return dict(receipt)

        emitter = transact(None, bytes.fromhex(bytecode[2:]))["contractAddress"]
        first_block, started = w3.eth.block_number, time.monotonic()
        for batch in chunks(synthetic.events, EVENTS_PER_TX):
            arrays: dict[str, list[tuple[Any, ...]]] = {name: [] for name in KINDS}
            for e in batch:
                values = [
                    bytes.fromhex(e.args[f][2:]) if raw else e.args[f] for f, raw in fields[e.name]
                ]
                arrays[e.name].append(tuple(values))
            transact(emitter, selector + encode(types, list(arrays.values())))
        build["anvil emission"] = time.monotonic() - started
        note(f"emitted in {build['anvil emission']:.0f} s; timing eth_getLogs")

        def read(child: str) -> list[Any]:
            kinds = [topic["CrossingRequested"], topic["CrossingRecorded"]]
            query = {"address": emitter, "fromBlock": hex(first_block), "toBlock": "latest"}
            query["topics"] = [kinds, None, child.ljust(66, "0")]  # an indexed bytes16
            return list(w3.provider.make_request("eth_getLogs", [query])["result"])

        def label() -> str:
            return (
                f"{w3.client_version.split('/')[0]} eth_getLogs, {w3.eth.block_number + 1:,} blocks"
            )

        for kind, children in samples.items():
            times, _ = time_reads(read, len, children, synthetic.log_matches)
            rows.append(summary(f"{label()}, {kind} children", len(synthetic.events), times))
        if span_samples:  # empty blocks up to the index's year: eth_getLogs walks them all
            started, last = time.monotonic(), synthetic.checkpoint["block_number"]
            while (head := w3.eth.block_number) < last:
                w3.provider.make_request("anvil_mine", [hex(min(250_000, last - head)), "0x5"])
            build["anvil empty blocks"] = time.monotonic() - started
            note(f"mined to block {last:,} in {build['anvil empty blocks']:.0f} s; timing again")
            children = samples["random"][:span_samples]
            times, _ = time_reads(read, len, children, synthetic.log_matches, warmup=0)
            rows.append(summary(f"{label()}, random children", len(synthetic.events), times))
    return rows


def sqlite_index(path: Path, synthetic: Synthetic, build: dict[str, float]) -> Database:
    """The SQLite index at ``path``, loaded unless a complete one is there already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    database = Database(f"sqlite:///{path}")
    if not is_loaded(database):  # the load is one transaction: a partial one left no rows
        database.dispose()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        started = time.monotonic()
        load(database, synthetic)
        build["SQLite load"] = time.monotonic() - started
    return database


def run(args: argparse.Namespace) -> dict[str, Any]:
    build: dict[str, float] = {}
    started = time.monotonic()
    synthetic = synthesise(args.events, args.seed)
    build["synthesis"] = time.monotonic() - started
    # The bench holds a million events, `tutela history` none: keep the garbage collector's
    # passes over them out of the timings.
    gc.freeze()
    events, children = len(synthetic.events), synthetic.children
    note(f"{events:,} events synthesised in {build['synthesis']:.0f} s; timing SQLite")
    samples = {
        "random": random.Random(args.seed).sample(children, min(args.samples, len(children))),
        "busiest": [child for child, _ in synthetic.history_events.most_common(args.busiest)],
    }
    with tempfile.TemporaryDirectory(prefix="tutela-history-") as temporary:
        folder = args.keep or Path(temporary)
        sqlite = sqlite_index(
            folder / f"history-{args.events}-{args.seed}.sqlite", synthetic, build
        )
        rows = bench_index("SQLite", sqlite, synthetic, samples)
        sqlite.dispose()
    note("timing PostgreSQL")
    with throwaway_cluster() as cluster:
        cluster.create_database("history")
        postgres = Database(cluster.url("history"))
        started = time.monotonic()
        load(postgres, synthetic)
        with postgres.engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # as autovacuum would have, in production
            version = connection.execute(text("SHOW server_version")).scalar_one().split()[0]
        build["PostgreSQL load + ANALYZE"] = time.monotonic() - started
        rows += bench_index(f"PostgreSQL {version}", postgres, synthetic, samples)
        postgres.dispose()
    met = all(r["goal"] == "met" for r in rows if r["store"].endswith("random children"))
    if args.anvil:
        note("emitting the events on anvil")
        rows += bench_anvil(synthetic, samples, args.span_samples, build)
    return {
        "events": events, "requests": len(synthetic.statuses), "children": len(children),
        "goal_p99_ms": GOAL_MS, "goal_met": met, "rows": rows, "build_seconds": build,
        "load_average": os.getloadavg(), "cores": os.cpu_count(),
    }  # fmt: skip


HEADER = "{:55} {:>10} {:>7} {:>9} {:>9} {:>9}  {}"
ROW = (
    "{store:55} {events:>10,} {samples:>7,} {p50_ms:>9,.2f} {p99_ms:>9,.2f} {max_ms:>9,.2f}  {goal}"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    option = parser.add_argument
    option("--events", type=int, default=1_000_000, help="crossing events in the index")
    option("--samples", type=int, default=2000, help="random children timed")
    option("--busiest", type=int, default=100, help="busiest children timed")
    option("--span-samples", type=int, default=20, help="children timed on a year of anvil blocks")
    option("--no-anvil", dest="anvil", action="store_false", help="time the index only")
    option("--keep", type=Path, help="keep the SQLite index in this folder, and reuse it")
    option("--seed", type=int, default=2025)
    option("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"child_history vs eth_getLogs: {report['events']:,} crossing events, "
              f"{report['requests']:,} requests, {report['children']:,} children\n")  # fmt: skip
        goal = f"goal (p99 < {GOAL_MS:g} ms)"
        print(HEADER.format("store", "events", "samples", "p50 ms", "p99 ms", "max ms", goal))
        for row in report["rows"]:
            print(ROW.format(**row))
        print("\nbuild: " + ", ".join(f"{k} {v:.0f} s" for k, v in report["build_seconds"].items()))
        one, five, fifteen = report["load_average"]
        where = f"{one:.1f} {five:.1f} {fifteen:.1f} on {report['cores']} cores"
        print(f"load average (1, 5, 15 min) at the end: {where}")
        verdict = "met" if report["goal_met"] else "MISSED"
        print(f"goal for random children on SQLite and PostgreSQL: {verdict}")
    return 0 if report["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
