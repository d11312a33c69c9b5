"""Investigators' searches and risk updates over 1,000,000 crossings on PostgreSQL.

    .venv/bin/python scripts/bench/investigate.py                         # 1,000,000 crossings
    .venv/bin/python scripts/bench/investigate.py --keep /var/tmp/inv     # keep the cluster
    .venv/bin/python scripts/bench/investigate.py --small                 # 20,000, to try it

Goals (issue 5): p99 of each kind of search under 100 ms; all indicators up to date within
5 s after 10,000 new crossings. The population and the year of crossings are described in
``investigate_data.py``; ``investigate_load.py`` turns them into the rows the indexer and the
services write (real sealing, real keyed look-ups) and COPYs them into a PostgreSQL cluster
started as ``tests/support/postgres.py`` starts one. With ``--keep DIR`` the cluster lives in
DIR and a rerun with the same size and seed skips the load.

Searches: ``investigation.search`` itself, in this process, with a stand-in for ``Tutela``
that holds the store and the keys (search needs no chain: the index is read as it is, as
under ``tutela serve``'s background indexer); each search writes its audit entry. ``--samples``
queries of each kind, with values drawn from the data (a request's companion, a child who
crossed...), timed in ``--runs`` passes with fresh values each.

Risk: ``update_flags`` first brings the flags up to date over the base (untimed, committed),
then, in each run, the ``--new`` crossings after the base (new requests in higher blocks with
their decisions and outcomes, and the later events of older requests) are added as the
indexer adds them, ``update_flags`` and the flush of its writes are timed (not the commit),
and the transaction is rolled back, so every run (and every rerun) starts from the same flags.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from ledger_client.crypto import MasterKey
from ledger_client.identity import CommitmentKey
from ledger_client.services.audit import Actor
from ledger_client.store.database import Database

if TYPE_CHECKING:
    from ledger_client.services.context import Tutela

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # scripts/ and tests/ are not installed packages
from scripts.bench.investigate_data import (  # noqa: E402
    BORDER_POINTS,
    DAY,
    SHAPE,
    START,
    World,
    block_of,
    build_world,
)
from scripts.bench.investigate_load import (  # noqa: E402
    COLUMNS,
    Generator,
    add_new_crossings,
    add_staff,
    checkpoint_insert,
    checkpoint_row,
    copy_rows,
    drop_indexes,
    keys_of,
    staff_of,
)
from tests.support.postgres import (  # noqa: E402
    Cluster,
    _hand_to_server_user,
    find_binaries,
    free_port,
    throwaway_cluster,
)

SEARCH_GOAL_MS = 100.0
UPDATE_GOAL_S = 5.0
BATCH = 50_000  # requests between two COPYs: bounds the rows held in memory
OUTCOMES = ("crossed", "turned-back", "denied", "expired", "pending", "approved")


def note(message: str) -> None:
    """Progress, on stderr: stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def cluster_in(folder: Path | None) -> Iterator[Cluster]:
    """A throwaway cluster, or one whose data stays in ``folder`` for the next run."""
    if folder is None:
        with throwaway_cluster() as cluster:
            yield cluster
        return
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    _hand_to_server_user(folder)
    cluster = Cluster(find_binaries(), folder, free_port())
    if not cluster.data_dir.exists():
        cluster.initialise()
    cluster.start()
    try:
        yield cluster
    finally:
        # Cluster.stop is an immediate stop: a checkpoint first leaves nothing to replay.
        with Database(cluster.url()).engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
        cluster.stop()


def tune(cluster: Cluster) -> dict[str, str]:
    """Load-friendly settings that do not change how queries run; returns what queries see."""
    database = Database(cluster.url())
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for name, value in (("max_wal_size", "8GB"), ("maintenance_work_mem", "512MB")):
            c.execute(text(f"ALTER SYSTEM SET {name} = '{value}'"))
        c.execute(text("SELECT pg_reload_conf()"))
        shown = {
            name: str(c.execute(text(f"SHOW {name}")).scalar_one())
            for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size")
        }
    database.dispose()
    return shown


def is_loaded(database: Database) -> bool:
    """A complete base: the load is one transaction and writes the checkpoint last."""
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM index_checkpoints")).scalar() == 1


def generate(
    database: Database, world: World, crossings: int, new: int, load: bool
) -> tuple[Generator, dict[str, float]]:
    """Walks the world: COPYs the base when ``load``; keeps the new stage's rows either way."""
    master, key = keys_of(world.seed)
    seconds: dict[str, float] = {}
    base_end = block_of(world.plans[crossings - 1].at)
    new_end = block_of(world.plans[crossings + new - 1].at)
    with database.engine.begin() as connection:
        staff = (
            add_staff(connection, random.Random(world.seed + 2)) if load else staff_of(connection)
        )
        generator = Generator(world, master, key, staff, base_end, new_end, seal=load)
        restore = drop_indexes(connection, list(COLUMNS)) if load else []
        driver = connection.connection.driver_connection

        def flush() -> None:
            if load:
                for table, rows in generator.base.tables.items():
                    copy_rows(driver, table, COLUMNS[table], rows)
            generator.base.clear()

        started = time.monotonic()
        generator.enrolments()
        flush()
        for request_id, plan in enumerate(world.plans, 1):
            generator.request(request_id, plan)
            if request_id % BATCH == 0:
                flush()
                note(f"{request_id:,} requests {'loaded' if load else 'walked'}")
        generator.blocks(generator.base, 1, base_end)
        generator.blocks(generator.new, base_end + 1, new_end)
        flush()
        seconds["rows built and copied" if load else "rows rebuilt (kept base)"] = (
            time.monotonic() - started
        )
        if load:
            started = time.monotonic()
            connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            for statement in restore:
                connection.execute(text(statement))
            connection.execute(checkpoint_insert(), checkpoint_row(world.seed, base_end))
            seconds["indexes and constraints rebuilt"] = time.monotonic() - started
    if load:  # as autovacuum would have, in production: statistics and the visibility map
        started = time.monotonic()
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
        seconds["VACUUM ANALYZE"] = time.monotonic() - started
    return generator, seconds


@dataclass
class BenchTutela:
    """What ``investigation.search`` uses of ``Tutela``: the store and the keys.

    No chain: the bench's index is complete, as under a background indexer, so
    ``refresh_index`` has nothing to do.
    """

    database: Database
    master_key: MasterKey
    commitment_key: CommitmentKey
    background_index: bool = True

    def refresh_index(self, *, after_write: bool = False) -> None:
        del after_write


def query_makers(world: World, crossings: int) -> dict[str, Callable[[random.Random], Any]]:
    """Each kind of search, with values drawn as an investigator would come by them."""
    from ledger_client.services.investigation import SearchQuery

    def request(rng: random.Random) -> Any:
        return world.plans[rng.randrange(crossings)]

    def kid(rng: random.Random) -> Any:
        return world.kids[request(rng).child]

    def typed(document: str, rng: random.Random) -> str:  # as typed at a desk, now and then
        return document if rng.random() < 0.7 else f"{document[:2].lower()}-{document[2:]}"

    def guardian(rng: random.Random) -> int:
        return world.guardianships[rng.randrange(len(world.guardianships))][1]

    def day(rng: random.Random, span: int) -> tuple[str, str]:
        first = START + rng.randrange(365 - span) * DAY
        return _day(first), _day(first + (span - 1) * DAY)

    def combined(rng: random.Random) -> Any:
        first, last = day(rng, rng.randint(7, 31))
        return SearchQuery(border_point=rng.choice(BORDER_POINTS), date_from=first,
                           date_to=last, outcome=rng.choice(OUTCOMES))  # fmt: skip

    def card(rng: random.Random) -> Any:
        number = kid(rng).card
        return SearchQuery(card=number if rng.random() < 0.5 else f"{number[:4]}-{number[4:]}")

    return {
        "child: card": card,
        "child: name": lambda r: SearchQuery(child_name=_child_name(kid(r))),
        "child: name + birth date": lambda r: SearchQuery(
            child_name=_child_name(k := kid(r)), birth_date=k.birth.isoformat()
        ),
        "child: birth date": lambda r: SearchQuery(birth_date=kid(r).birth.isoformat()),
        "companion: name": lambda r: SearchQuery(companion_name=world.names[request(r).companion]),
        "companion: document": lambda r: SearchQuery(
            companion_document=typed(world.documents[request(r).companion], r)
        ),
        "guardian: name": lambda r: SearchQuery(guardian_name=world.names[guardian(r)]),
        "guardian: document": lambda r: SearchQuery(
            guardian_document=typed(world.documents[guardian(r)], r)
        ),
        "border point": lambda r: SearchQuery(border_point=rng_point(r)),
        "date range (1-14 days)": lambda r: SearchQuery(
            **dict(zip(("date_from", "date_to"), day(r, r.randint(1, 14)), strict=True))
        ),
        "outcome": lambda r: SearchQuery(outcome=r.choice(OUTCOMES)),
        "border point + dates + outcome": combined,
    }


def rng_point(rng: random.Random) -> str:
    return rng.choice(BORDER_POINTS)


def _child_name(kid: Any) -> str:
    return f"{kid.given} {kid.family_name}"


def _day(at: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def percentile(times: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest time at least ``share`` of them reach."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def bench_searches(
    tutela: BenchTutela, world: World, crossings: int, samples: int, runs: int
) -> list[dict[str, Any]]:
    from ledger_client.services.investigation import Case, search

    context = cast("Tutela", tutela)  # what search uses of it, see BenchTutela
    case = Case.parse("BENCH-2025-0001", "benchmark of the investigators' searches")
    with tutela.database.transaction() as session:
        member_id, address = staff_of(session.connection())["investigator"][0]
    actor = Actor("staff", member_id, "investigator-0", address)
    rows = []
    makers = query_makers(world, crossings)
    for run in range(1, runs + 1):
        for kind, make in makers.items():
            rng = random.Random(f"{world.seed}:{run}:{kind}")
            queries = [make(rng) for _ in range(samples)]
            for query in queries[:5]:  # connections and caches as a running portal has them
                search(context, actor, case, query)
            times, hits, truncated = [], [], 0
            # Drawn from requests: these must find something (a guardian's child may never travel).
            must_find = kind.startswith(("child", "companion"))
            load = os.getloadavg()[0]
            for query in queries:
                started = time.perf_counter()
                result = search(context, actor, case, query)
                times.append((time.perf_counter() - started) * 1000)
                hits.append(len(result.hits))
                truncated += result.truncated
            row: dict[str, Any] = {
                "kind": kind, "run": run, "queries": len(times),
                "hits_mean": statistics.mean(hits), "truncated": truncated,
                "empty": sum(1 for h in hits if h == 0) if must_find else 0,
                "p50_ms": percentile(times, 0.50), "p95_ms": percentile(times, 0.95),
                "p99_ms": percentile(times, 0.99), "max_ms": max(times), "load": load,
            }  # fmt: skip
            row["goal"] = "met" if row["p99_ms"] < SEARCH_GOAL_MS else "MISSED"
            if row["empty"]:
                raise SystemExit(
                    f"{kind}: {row['empty']} searches for existing values found nothing"
                )
            rows.append(row)
            note(f"run {run} {kind}: p99 {row['p99_ms']:.1f} ms")
    return rows


def check_statuses(database: Database, crossings: int, sample: int = 2000) -> None:
    """The loaded statuses are those the indexer's ``refresh_requests`` computes.

    Raises:
        SystemExit: they differ.
    """
    from ledger_client.indexer.derived import refresh_requests

    ids = random.Random(crossings).sample(range(1, crossings + 1), min(sample, crossings))
    query = text("SELECT request_id, status FROM chain_requests WHERE request_id = ANY(:ids)")
    with Session(database.engine) as session:
        loaded = {row[0]: row[1] for row in session.execute(query, {"ids": ids})}
        refresh_requests(session, ids)
        refreshed = {row[0]: row[1] for row in session.execute(query, {"ids": ids})}
        session.rollback()
    if len(loaded) != len(ids) or loaded != refreshed:
        raise SystemExit("the loaded request statuses differ from the indexer's")


def bench_flags(
    database: Database, generator: Generator, runs: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from ledger_client.risk.engine import update_flags
    from ledger_client.risk.thresholds import RiskThresholds

    thresholds = RiskThresholds()
    started = time.monotonic()
    with database.transaction() as session:
        first = update_flags(session, thresholds)
    base = {"seconds": time.monotonic() - started, **_update(first)}
    with database.engine.connect() as connection:
        by_indicator = "SELECT indicator, count(*) FROM risk_flags GROUP BY 1 ORDER BY 1"
        base["open flags"] = {str(k): int(v) for k, v in connection.execute(text(by_indicator))}
    note(f"flags brought up to date over the base in {base['seconds']:.1f} s")
    rows = []
    for run in range(1, runs + 1):
        with Session(database.engine) as session:
            added = add_new_crossings(session, generator)
            session.flush()
            load = os.getloadavg()[0]
            started = time.perf_counter()
            update = update_flags(session, thresholds)
            session.flush()
            seconds = time.perf_counter() - started
            session.rollback()  # the next run starts from the same base
        row = {"run": run, "rows_added": added, "seconds": seconds, "load": load, **_update(update)}
        row["goal"] = "met" if seconds < UPDATE_GOAL_S else "MISSED"
        rows.append(row)
        note(f"run {run}: update_flags after the new crossings took {seconds:.2f} s")
    return base, rows


def _update(update: Any) -> dict[str, Any]:
    fields = ("events_seen", "subjects_checked", "flags_opened", "flags_updated")
    return {name: getattr(update, name) for name in fields}


def run(args: argparse.Namespace) -> dict[str, Any]:
    build: dict[str, float] = {}
    started = time.monotonic()
    world = build_world(args.crossings, args.new, args.seed)
    build["world drawn"] = time.monotonic() - started
    gc.freeze()  # the world's millions of objects stay: keep the collector off them
    note(f"{len(world.plans):,} requests, {len(world.kids):,} children drawn; to PostgreSQL")
    with cluster_in(args.keep) as cluster:
        settings = tune(cluster)
        name = f"investigate_v{SHAPE}_{args.crossings}_{args.new}_{args.seed}"
        database = Database(cluster.url(name))
        try:
            loaded = database.is_migrated() and is_loaded(database)
        except Exception:
            loaded = False
        if not loaded:
            database.dispose()
            cluster.drop_database(name)
            cluster.create_database(name)
            database = Database(cluster.url(name))
        database.migrate()  # on a kept base too: later migrations apply
        generator, seconds = generate(database, world, args.crossings, args.new, not loaded)
        build |= seconds
        with database.engine.connect() as c:
            size = c.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
            settings["database size"] = str(size.scalar_one())
        check_statuses(database, args.crossings)
        # The walk left millions of objects behind (blocks, commitments, the new rows): keep
        # the collector's full passes over them out of the timings too.
        gc.collect()
        gc.freeze()
        tutela = BenchTutela(database, *keys_of(args.seed))
        searches = (
            bench_searches(tutela, world, args.crossings, args.samples, args.runs)
            if args.search
            else []
        )
        base, flags = bench_flags(database, generator, args.runs) if args.risk else ({}, [])
        database.dispose()
    return {
        "crossings": args.crossings, "new": args.new, "children": len(world.kids),
        "planted": world.planted, "reused_kept_base": loaded, "settings": settings,
        "build_seconds": build, "searches": searches, "first_update": base, "updates": flags,
        "load_average_end": os.getloadavg(), "cores": os.cpu_count(),
    }  # fmt: skip


def print_report(report: dict[str, Any]) -> None:
    print(f"investigators' searches and risk updates: {report['crossings']:,} crossing requests, "
          f"{report['children']:,} children; PostgreSQL {report['settings']['server_version']} "
          f"({report['settings']['database size']})\n")  # fmt: skip
    header = "{:31} {:>3} {:>4} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>4}  {}"
    print(header.format("search", "run", "n", "hits", "trunc", "p50 ms", "p95 ms", "p99 ms",
                        "max ms", "load", f"p99 < {SEARCH_GOAL_MS:g} ms"))  # fmt: skip
    for r in report["searches"]:
        print(header.format(r["kind"], r["run"], r["queries"], f"{r['hits_mean']:.0f}",
                            r["truncated"], f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                            f"{r['p99_ms']:.1f}", f"{r['max_ms']:.1f}", f"{r['load']:.1f}",
                            r["goal"]))  # fmt: skip
    if report["first_update"]:
        first = report["first_update"]
        print(f"\nupdate_flags over the base (untimed goal): {first['seconds']:.1f} s, "
              f"{first['events_seen']:,} events, "
              f"{first['flags_opened']:,} flags opened; flags by indicator: "
              f"{first['open flags']}")  # fmt: skip
    for r in report["updates"]:
        print(f"update_flags after {report['new']:,} new crossings ({r['rows_added']:,} rows), "
              f"run {r['run']}: {r['seconds']:.2f} s (load {r['load']:.1f}; "
              f"{r['events_seen']:,} events, {r['subjects_checked']:,} subjects, "
              f"{r['flags_opened']} opened, {r['flags_updated']} updated)  "
              f"goal < {UPDATE_GOAL_S:g} s: {r['goal']}")  # fmt: skip
    print("\nbuild: " + ", ".join(f"{k} {v:.0f} s" for k, v in report["build_seconds"].items()))
    settings = ", ".join(f"{k} {v}" for k, v in report["settings"].items())
    print(f"server: {settings}; planted: {report['planted']}")
    one, five, fifteen = report["load_average_end"]
    print(f"load average (1, 5, 15 min) at the end: {one:.1f} {five:.1f} {fifteen:.1f} "
          f"on {report['cores']} cores")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    option = parser.add_argument
    option("--crossings", type=int, default=1_000_000, help="crossing requests in the base")
    option("--small", action="store_true", help="20,000 crossings and 2,000 new: a quick try")
    option("--new", type=int, default=10_000, help="new crossings before the timed update")
    option("--samples", type=int, default=200, help="queries of each kind per run")
    option("--runs", type=int, default=2, help="passes over the timed parts")
    option("--no-risk", dest="risk", action="store_false", help="time the searches only")
    option("--no-search", dest="search", action="store_false", help="time the risk update only")
    option("--keep", type=Path, help="keep the PostgreSQL cluster in this folder, and reuse it")
    option("--seed", type=int, default=2025)
    option("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.small:
        args.crossings, args.new = 20_000, 2_000
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    met = all(r["goal"] == "met" for r in report["searches"] + report["updates"])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
