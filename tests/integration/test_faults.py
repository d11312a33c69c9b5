"""Fault tests with real processes: nothing is mocked, processes are killed with SIGKILL.

A submitter (``tests/support/submitter.py``) sends crossing requests through the outbox, each
under its own idempotency key. It is killed and restarted; the node under it is killed and
restarted; four of them share one account; the database goes away under them. Each test then
reads the chain: every key maps to exactly one ``CrossingRequested`` event, the ledger's
counter agrees, the store knows every transaction the chain holds, the account's nonce stops
at the store's counter, and ``tutela index`` then ``tutela verify`` find the index equal to
the chain. Errors told to the submitter about its own requests are asserted last: the chain
and the store can be right while a user was still told something wrong.

Kill moments come from a seed shown in failure messages; ``TUTELA_FAULT_SEED`` replays one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import HTTPProvider, Web3

from ledger_client.cards import format_card
from ledger_client.chain.anvil import ANVIL, DEV_PRIVATE_KEY, free_port, wait_for_rpc
from ledger_client.contracts.sender import rpc
from ledger_client.outbox.models import AccountNonce, ActionState, OutboxItem
from ledger_client.outbox.reconciler import reconcile_once
from ledger_client.services import children, staff
from ledger_client.services.context import open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import Settings, load_settings
from ledger_client.store.database import Database
from ledger_client.store.models import Child, CrossingRequest, Deployment, StaffMember
from tests.support.postgres import Cluster
from tests.support.processes import ready_line
from tests.support.submitter import Progress, Submitter, errors_in, resends_in, run_to_the_end

TUTELA = Path(sys.prefix) / "bin" / "tutela"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")} | {
    "TUTELA_KEYSTORE_WORK_FACTOR": "1024"
}
SEED = int(os.environ.get("TUTELA_FAULT_SEED") or time.time_ns() % 10**6)
CHILDREN = 3
OFFICER = "officer"
PATIENCE = 60.0  # long enough for a node or a database to come back
T = TypeVar("T")


@dataclass(frozen=True)
class Folder:
    """An initialised data folder: a registrar, a border officer and a few children."""

    data_dir: Path
    env: dict[str, str]
    chain_url: str | None

    def settings(self, chain_url: str | None = None) -> Settings:
        return load_settings(self.data_dir, chain_url or self.chain_url, self.env)

    def read(self, query: Callable[[Session], T]) -> T:
        """One read of the store, from this process, beside the processes under test."""
        database = Database(self.env["TUTELA_DATABASE_URL"])
        try:
            with database.transaction() as session:
                return query(session)
        finally:
            database.dispose()

    def officer(self) -> str:
        address = self.read(
            lambda s: s.scalar(select(StaffMember.address).where(StaffMember.name == OFFICER))
        )
        assert address is not None
        return str(Web3.to_checksum_address(address))

    def submitter(self, progress: Progress, log: Path, **options: Any) -> Submitter:
        return Submitter(
            self.env, progress, log, data_dir=self.data_dir, children=CHILDREN, **options
        )


def prepare_folder(data_dir: Path, chain_url: str | None, database_url: str) -> Folder:
    """Initialises a folder in this process; the processes under test get ``env``."""
    env = ENV | {"TUTELA_DATABASE_URL": database_url}
    if chain_url is not None:
        env["TUTELA_FUNDER_PRIVATE_KEY"] = DEV_PRIVATE_KEY
    folder = Folder(data_dir, env, chain_url)
    initialise(folder.settings())
    with open_tutela(folder.settings()) as tutela:
        staff.add_staff(tutela, "registrar", "registrar")
        staff.add_staff(tutela, OFFICER, "border-officer")
        for n in range(CHILDREN):
            children.enrol_child(
                tutela,
                given_name=f"Ana{'BCDEFGH'[n]}",
                family_name="Faultline",
                birth_date=f"2015-03-{n + 1:02d}",
                birth_place="Orhei",
                guardian_specs=[f"Ion Faultline;MD-7000-{n:04d};ion{n}@example.org"],
            )
    return folder


# -- the other processes -----------------------------------------------------------------------


class Anvil:
    """anvil of its own, optionally keeping its chain in a state file dumped every second.

    ``--prune-history`` keeps anvil's per-block snapshots off the disk. Bare, it keeps so few
    states in memory that anvil 1.5.1 answers an ``eth_call`` at ``latest`` made while it
    mines with ``BlockOutOfRangeError: block height is N but requested was N-1`` (62 calls
    of 400 here; none with a number of states): processes running side by side need one.
    """

    def __init__(self, folder: Path, *, keep_state: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = folder / "anvil-state.json"
        self.cache = folder / "anvil-cache"
        self.keep_state = keep_state
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent",
            "--cache-path", str(self.cache), "--prune-history", "256",
        ]  # fmt: skip
        if self.keep_state:
            command += ["--state", str(self.state), "--state-interval", "1"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_rpc(self.url)

    def dumped_nonce(self, address: str) -> int:
        """An account's nonce in the last state anvil dumped: what a restart comes back to."""
        account = json.loads(self.state.read_text())["accounts"].get(address.lower())
        return int(account["nonce"]) if account else 0

    def stop(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


class Node:
    """``tutela node``: the embedded chain over HTTP, with its reconciler and indexer."""

    def __init__(self, folder: Folder, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(TUTELA), "node", "--data-dir", str(folder.data_dir)]
        with log.open("a") as stderr:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), "--json"],
                env=folder.env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert ready_line(self.process, log, self.stop)["url"] == self.url

    def stop(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


class Reaper:
    """Whatever a test started is killed when it ends, passed or failed."""

    def __init__(self) -> None:
        self.started: list[Submitter | Anvil | Node] = []

    def add(self, thing: T) -> T:
        assert isinstance(thing, Submitter | Anvil | Node)
        self.started.append(thing)
        return thing


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    reaper = Reaper()
    yield reaper
    for thing in reversed(reaper.started):
        with suppress(Exception):
            if isinstance(thing, Submitter):
                thing.kill()
            else:
                thing.stop(signal.SIGKILL)


def tutela(folder: Folder, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs a command; ``-v`` first puts the traceback of an unexpected failure on stderr."""
    return subprocess.run(
        [str(TUTELA), *args, "--data-dir", str(folder.data_dir)],
        env=folder.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def index_and_verify(folder: Folder) -> None:
    """``tutela index`` then ``tutela verify``, as an operator runs them after an incident."""
    indexed = tutela(folder, "-v", "index")
    assert indexed.returncode == 0, indexed.stderr[-3000:]
    verified = tutela(folder, "verify", "--json")
    assert verified.returncode == 0, f"verify found differences: {verified.stdout[-3000:]}"
    assert json.loads(verified.stdout)["matches"] is True


# -- what the chain holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """The crossing requests on chain, the outbox and store rows, and the officer's nonces."""

    event_numbers: dict[str, list[int]]  # tx hash -> request numbers of its CrossingRequested
    next_request_id: int
    items: dict[str, OutboxItem]  # by key
    stored: dict[str, tuple[int | None, str | None]]  # action key -> (request number, tx hash)
    officer_nonces: list[int]  # of the officer's outbox rows, sorted
    store_counter: int
    chain_latest: int
    chain_pending: int


def read_ledger(settings: Settings) -> Ledger:
    with open_tutela(settings) as t, t.database.transaction() as session:
        deploy_block = session.scalar(select(Deployment.deploy_block)) or 0
        officer = session.scalar(select(StaffMember.address).where(StaffMember.name == OFFICER))
        assert officer is not None
        items = {i.key: i for i in session.scalars(select(OutboxItem))}
        rows = session.scalars(select(CrossingRequest))
        stored = {r.action_key: (r.request_id, r.tx_hash) for r in rows}
        counter = session.scalar(
            select(AccountNonce.next_nonce).where(AccountNonce.address == officer)
        )
        numbers: dict[str, list[int]] = {}
        for event in t.ledger.events("CrossingRequested", from_block=deploy_block):
            numbers.setdefault(event.tx_hash.lower(), []).append(int(event.args["requestId"]))
        address = Web3.to_checksum_address(officer)
        return Ledger(
            event_numbers=numbers,
            next_request_id=int(t.ledger.contract.functions.nextRequestId().call()),
            items=items,
            stored=stored,
            officer_nonces=sorted(i.nonce for i in items.values() if i.sender == officer),
            store_counter=int(counter or 0),
            chain_latest=rpc(lambda: t.w3.eth.get_transaction_count(address, "latest")),
            chain_pending=rpc(lambda: t.w3.eth.get_transaction_count(address, "pending")),
        )


def assert_each_key_once(ledger: Ledger, keys: Sequence[str]) -> None:
    """Each key: one confirmed outbox row, one CrossingRequested in its transaction, no more."""
    seed = f"seed {SEED}"
    requests = {k: i for k, i in ledger.items.items() if i.purpose == "crossing-request"}
    assert sorted(requests) == sorted(keys), seed
    states = Counter(str(i.state) for i in requests.values())
    assert states == {ActionState.CONFIRMED: len(keys)}, seed
    # No request on chain the store does not know of, none twice, none missing.
    hashes = [i.tx_hash.lower() for i in requests.values()]
    assert sorted(ledger.event_numbers) == sorted(hashes), seed
    assert all(len(n) == 1 for n in ledger.event_numbers.values()), seed
    numbers = sorted(n for (n,) in ledger.event_numbers.values())
    assert numbers == list(range(1, len(keys) + 1)), seed
    assert ledger.next_request_id == len(keys) + 1, seed
    for key, item in requests.items():
        (number,) = ledger.event_numbers[item.tx_hash.lower()]
        assert ledger.stored[key] == (number, item.tx_hash), f"{key} ({seed})"
    # Every nonce the store handed the officer was used once, and the chain used them all.
    assert ledger.officer_nonces == list(range(len(keys))), seed
    assert ledger.store_counter == ledger.chain_latest == ledger.chain_pending == len(keys), seed


def keys_of(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(count)]


def reached(progress: Progress, count: int) -> Callable[[], bool]:
    return lambda: len(progress) >= count


# -- 1. the submitter is killed ----------------------------------------------------------------

REQUESTS = 300
KILLS = 5


@pytest.mark.anvil
def test_a_submitter_killed_five_times_leaves_each_request_once(
    tmp_path: Path, anvil_url: str, database_url: str, reaper: Reaper
) -> None:
    folder = prepare_folder(tmp_path / "data", anvil_url, database_url)
    chooser = random.Random(SEED)
    # Each kill comes after some new requests, then a pause of up to a few requests' time,
    # so that it lands anywhere in a request's life: before, inside or after its commit,
    # before or after the broadcast, before or after the receipt is recorded.
    targets = sorted(chooser.sample(range(10, REQUESTS - 10), KILLS))
    progress, log = Progress(), tmp_path / "submitter.log"

    def start() -> Submitter:
        return reaper.add(folder.submitter(progress, log, count=REQUESTS, prefix="kill"))

    for target in targets:
        run = start()
        target = max(target, len(progress) + 1)  # after at least one new request
        assert run.follow(reached(progress, target)), f"ended: {run.stderr()}"
        time.sleep(chooser.uniform(0.0, 0.15))
        run.kill()
        assert run.process.returncode == -signal.SIGKILL
    assert start().finish() == 0, f"seed {SEED}: {log.read_text()[-3000:]}"

    keys = keys_of("kill", REQUESTS)
    assert sorted(progress.numbers) == sorted(keys)
    assert progress.shown_twice() == [], f"seed {SEED}"
    assert_each_key_once(read_ledger(folder.settings()), keys)
    index_and_verify(folder)
    # The node lost nothing: no action needed sending again, nor was anyone told an error.
    assert resends_in(log) == [], f"seed {SEED}"
    assert errors_in(log) == [], f"seed {SEED}"


# -- 2. the node is killed ---------------------------------------------------------------------

NODE_REQUESTS = 150
# The embedded chain estimates gas by running the EVM: a request costs several times more.
EMBEDDED_REQUESTS = 30


def confirmed_nonces(folder: Folder, address: str) -> list[int]:
    query = select(OutboxItem.nonce).where(
        OutboxItem.sender == address, OutboxItem.state == ActionState.CONFIRMED
    )
    return sorted(folder.read(lambda s: list(s.scalars(query))))


@pytest.mark.anvil
def test_anvil_killed_mid_run_loses_its_last_blocks_and_the_outbox_sends_them_again(
    tmp_path: Path, reaper: Reaper
) -> None:
    anvil = reaper.add(Anvil(tmp_path, keep_state=True))
    anvil.start()
    folder = prepare_folder(tmp_path / "data", anvil.url, f"sqlite:///{tmp_path / 'store.db'}")
    officer = folder.officer()
    chooser = random.Random(SEED)
    progress, log = Progress(), tmp_path / "submitter.log"

    def start(patience: float = 0.0) -> Submitter:
        options = {"count": NODE_REQUESTS, "prefix": "node", "patience": patience}
        return reaper.add(folder.submitter(progress, log, **options))

    run = start(PATIENCE)
    # An indexer follows the chain throughout: blocks it has indexed are about to be lost,
    # and others will be mined at their heights, which it must take for a reorganisation.
    with (tmp_path / "indexer.log").open("w") as indexer_log:
        indexer = subprocess.Popen(
            [str(TUTELA), "index", "--follow", "--poll", "0.1", "--data-dir", str(folder.data_dir)],
            env=folder.env,
            stdout=indexer_log,
            stderr=subprocess.STDOUT,
        )
    lost: list[int] = []
    # anvil dumps its state every second: a kill loses up to a second of blocks, maybe none.
    for attempt in range(5):
        ahead = chooser.randint(15, 30) if attempt == 0 else chooser.randint(5, 10)
        target = run.drain() + ahead  # requests confirmed since anvil (re)started
        assert run.follow(reached(progress, target)), f"ended: {run.stderr()}"
        time.sleep(chooser.uniform(0.0, 0.15))
        assert run.process.poll() is None, "the submitter finished before anvil lost anything"
        anvil.stop(signal.SIGKILL)
        # Confirmed in the store means mined; what anvil comes back with is its last dump.
        kept = anvil.dumped_nonce(officer)
        lost = [n for n in confirmed_nonces(folder, officer) if n >= kept]
        anvil.start()
        if lost:
            # The submitter's own settle loop recovers what its node lost too; both may run.
            reconciled = tutela(folder, "-v", "reconcile", "--json")
            assert reconciled.returncode == 0, reconciled.stderr[-3000:]
            break
    assert lost, f"anvil lost no confirmed transaction in five kills (seed {SEED})"
    run_to_the_end(start, run)

    again = tutela(folder, "reconcile", "--json")
    assert json.loads(again.stdout)["reconciled"] == {
        "reopened": 0, "sent": 0, "settled": 0, "waiting": 0
    }  # fmt: skip
    ledger = read_ledger(folder.settings())
    assert_each_key_once(ledger, keys_of("node", NODE_REQUESTS))
    # What anvil lost is back on chain, once each (above), and was broadcast again to get there.
    back = [i for i in ledger.items.values() if i.sender == officer and i.nonce in lost]
    assert len(back) == len(lost)
    assert all(i.attempts >= 2 for i in back), f"never sent again: {back} (seed {SEED})"
    indexer.send_signal(signal.SIGTERM)
    assert indexer.wait(timeout=60) == 0, (tmp_path / "indexer.log").read_text()[-3000:]
    index_and_verify(folder)
    assert errors_in(log) == [], f"seed {SEED}"


def test_tutela_node_killed_mid_run_resumes_with_nothing_lost_or_doubled(
    tmp_path: Path, reaper: Reaper
) -> None:
    folder = prepare_folder(tmp_path / "data", None, f"sqlite:///{tmp_path / 'store.db'}")
    node_log = tmp_path / "node.log"
    node = reaper.add(Node(folder, node_log))
    chooser = random.Random(SEED)
    progress, log = Progress(), tmp_path / "submitter.log"
    options = {"count": EMBEDDED_REQUESTS, "prefix": "node", "chain_url": node.url}

    def start(patience: float = 0.0) -> Submitter:
        return reaper.add(folder.submitter(progress, log, patience=patience, **options))

    run = start(PATIENCE)
    target = chooser.randint(10, EMBEDDED_REQUESTS - 10)
    assert run.follow(reached(progress, target)), f"ended: {run.stderr()}"
    time.sleep(chooser.uniform(0.0, 0.15))
    node.stop(signal.SIGKILL)
    time.sleep(0.5)  # the submitter finds the node gone and waits
    node = reaper.add(Node(folder, node_log, port=node.port))
    run_to_the_end(start, run)

    assert_each_key_once(read_ledger(folder.settings(node.url)), keys_of("node", EMBEDDED_REQUESTS))
    index_and_verify(folder)
    # The embedded chain keeps every block it answered for: nothing is ever sent again.
    assert resends_in(node_log) == resends_in(log) == [], f"seed {SEED}"
    assert errors_in(log) == [], f"seed {SEED}"
    node.stop(signal.SIGTERM)


# -- 3. four processes, one account ------------------------------------------------------------

SUBMITTERS = 4
EACH = 50


@pytest.mark.anvil
def test_four_submitters_sharing_one_officer_key_collide_on_no_nonce(
    tmp_path: Path, database_url: str, reaper: Reaper
) -> None:
    anvil = reaper.add(Anvil(tmp_path, keep_state=False))  # not the shared one: see Anvil
    anvil.start()
    folder = prepare_folder(tmp_path / "data", anvil.url, database_url)
    progress, log = Progress(), tmp_path / "submitters.log"

    def start(desk: int) -> Submitter:
        return reaper.add(folder.submitter(progress, log, count=EACH, prefix=f"desk{desk}"))

    runs = [start(desk) for desk in range(SUBMITTERS)]
    # A reconciler beside them, as in 'tutela node' but with a shorter pause between passes;
    # each run's lines are read by its own thread meanwhile.
    reopened = passes = 0
    with open_tutela(folder.settings()) as t:
        while any(run.process.poll() is None for run in runs):
            reopened += reconcile_once(t.outbox).reopened
            passes += 1
            time.sleep(0.05)  # leaves the two cores to the submitters, mostly
    for desk, run in enumerate(runs):
        run_to_the_end(partial(start, desk), run)

    keys = [key for desk in range(SUBMITTERS) for key in keys_of(f"desk{desk}", EACH)]
    assert sorted(progress.numbers) == sorted(keys)
    # One nonce per action, none skipped, none taken twice, the chain at the store's counter.
    assert_each_key_once(read_ledger(folder.settings()), keys)
    index_and_verify(folder)
    # The node lost nothing, so nothing may have been sent again, nor any desk told an error.
    assert reopened == 0, f"{reopened} actions reopened in {passes} passes, none was lost"
    assert resends_in(log) == []
    assert errors_in(log) == []


# -- 5. the database goes away ----------------------------------------------------------------


@pytest.mark.anvil
def test_a_command_while_the_database_is_down_fails_in_one_line_and_sends_nothing(
    tmp_path: Path, anvil_url: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    down: Callable[[], object]
    up: Callable[[], object]
    if database_url.startswith("sqlite"):
        # The store's folder goes away and comes back: as unreachable as a file can be.
        home, away = tmp_path / "store", tmp_path / "store-away"
        home.mkdir()
        database_url = f"sqlite:///{home / 'tutela.sqlite3'}"
        down, up = (lambda: home.rename(away)), (lambda: away.rename(home))
    else:
        cluster: Cluster = request.getfixturevalue("postgres_cluster")
        down, up = cluster.stop, cluster.start
    folder = prepare_folder(tmp_path / "data", anvil_url, database_url)
    officer = Web3.to_checksum_address(folder.officer())
    w3 = Web3(HTTPProvider(anvil_url))

    def chain() -> tuple[int, int, int]:
        count = w3.eth.get_transaction_count
        return w3.eth.block_number, count(officer, "latest"), count(officer, "pending")

    number = folder.read(lambda s: s.scalar(select(Child.card_number).order_by(Child.card_number)))
    assert number is not None
    card = format_card(number)
    ask = (
        "crossing", "request", card, "--direction", "exit", "--border-point", "MD-LEUSENI",
        "--companion-name", "Vera Faultline", "--companion-document", "MD-5550-0001",
        "--idempotency-key", "outage-1", "--json",
    )  # fmt: skip
    keys_before = folder.read(lambda s: list(s.scalars(select(OutboxItem.key))))
    before = chain()
    down()
    try:
        refused = tutela(folder, *ask)
        assert chain() == before, "something reached the chain while the store was down"
    finally:
        up()
    assert (refused.returncode, refused.stdout) == (1, ""), refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: the database at ")
    assert "is unreachable" in line
    assert folder.read(lambda s: list(s.scalars(select(OutboxItem.key)))) == keys_before

    first, again = tutela(folder, *ask), tutela(folder, *ask)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["request"] == json.loads(first.stdout)["request"]
    assert chain()[1:] == (before[1] + 1, before[2] + 1)
    assert_each_key_once(read_ledger(folder.settings()), ["outage-1"])


PG_REQUESTS = 80


@pytest.mark.anvil
@pytest.mark.postgres
def test_postgres_stopped_under_a_running_submitter_loses_and_doubles_nothing(
    tmp_path: Path, postgres_cluster: Cluster, reaper: Reaper
) -> None:
    name = f"faults_{SEED}_{time.time_ns() % 10**9}"
    postgres_cluster.create_database(name)
    anvil = reaper.add(Anvil(tmp_path, keep_state=False))
    anvil.start()
    try:
        folder = prepare_folder(tmp_path / "data", anvil.url, postgres_cluster.url(name))
        chooser = random.Random(SEED)
        progress, log = Progress(), tmp_path / "submitter.log"

        def start(patience: float = 0.0) -> Submitter:
            options = {"count": PG_REQUESTS, "prefix": "pg", "patience": patience}
            return reaper.add(folder.submitter(progress, log, **options))

        run = start(PATIENCE)
        target = chooser.randint(20, PG_REQUESTS - 40)
        assert run.follow(reached(progress, target)), f"ended: {run.stderr()}"
        time.sleep(chooser.uniform(0.0, 0.15))
        postgres_cluster.stop()
        try:
            time.sleep(1.0)  # the submitter finds the store gone and waits
        finally:
            postgres_cluster.start()
        run_to_the_end(start, run)

        assert_each_key_once(read_ledger(folder.settings()), keys_of("pg", PG_REQUESTS))
        index_and_verify(folder)
        assert "unreachable" in log.read_text(), "the submitter never saw the outage"
        assert resends_in(log) == [], f"seed {SEED}"
        assert errors_in(log) == [], f"seed {SEED}"
    finally:
        postgres_cluster.drop_database(name)
