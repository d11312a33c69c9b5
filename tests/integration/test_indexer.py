"""The event index, as its users check it: the history it gives equals the chain's, a rerun
or an interrupted run adds nothing twice, and ``verify`` finds what was tampered with.

Stories run on the embedded chain and on anvil (``world``); the index is written to the
``database_url`` store, so these run on every database that fixture offers.
"""

from __future__ import annotations

import contextlib
import random
import string
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update
from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from ledger_client.contracts.artifacts import INDEXED_CONTRACT_NAMES, load_artifact
from ledger_client.errors import ChainError
from ledger_client.indexer import sync
from ledger_client.indexer.events import decode_log
from ledger_client.indexer.queries import CrossingRecord, child_history, crossing
from ledger_client.indexer.rows import HANDLED_EVENTS
from ledger_client.indexer.sync import follow, index_once
from ledger_client.indexer.tables import (
    EVENT_TABLES,
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainRequest,
    IndexCheckpoint,
)
from ledger_client.indexer.target import IndexerBusyError, IndexTarget, load_target
from ledger_client.indexer.verify import verify_index
from ledger_client.services import children, crossings
from ledger_client.services.children import child_by_card, record_chain
from ledger_client.services.context import Tutela
from ledger_client.store.database import Database
from tests.conftest import World
from tests.integration.guardian_codes import decide, keep

FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org"
FATHER_DOC, MOTHER_DOC = "MD09123345", "MD08771290"


def tell_story(tutela: Tutela, family: str = "Popescu") -> dict[str, str]:
    """Every kind of event: enrolment, guardians, correction, revocation, each decision path.

    Returns the cards of the children, by name.
    """
    maria = keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name="Maria",
            family_name=family,
            birth_date="2016-04-12",
            birth_place="Chișinău",
            guardian_specs=[FATHER, MOTHER],
        ),
    )

    def ask(card: str, direction: str = "exit", companion: str = FATHER_DOC) -> str:
        view = crossings.request_crossing(
            tutela,
            card,
            direction=direction,
            border_point="MD-LEUSENI" if direction == "exit" else "RO-ALBITA",
            companion_name="Ion Popescu" if companion == FATHER_DOC else "Vasile Rusu",
            companion_document=companion,
        )
        return str(view.request)

    # The family rule: the father travels, so the mother must approve too.
    first = ask(maria.card)
    decide(tutela, first, FATHER_DOC)
    decide(tutela, first, MOTHER_DOC)
    crossings.record_outcome(tutela, first, outcome="crossed")
    # Distinct companions: the same request twice in a minute is one request (idempotency).
    # A denial lifted by a court order.
    second = ask(maria.card, companion="MD55550002")
    decide(tutela, second, MOTHER_DOC, approve=False)
    crossings.override_by_court_order(tutela, second, court_order="CO-2024-117")
    crossings.record_outcome(tutela, second, outcome="turned-back")
    # An entry needs nobody's approval.
    crossings.record_outcome(tutela, ask(maria.card, "entry"), outcome="crossed")
    # Child protection co-approves, a guardian completes; then nobody records: it expires.
    fourth = ask(maria.card, companion="MD55550004")
    crossings.decide_as_protection(tutela, fourth, approve=True)
    decide(tutela, fourth, FATHER_DOC)
    # Guardians change, the record is corrected, and the crossings go on under the new one.
    keep(tutela, children.add_guardian(tutela, maria.card, "Ana Rusu;MD-1111-2222;ana@example.org"))
    children.remove_guardian(tutela, maria.card, "MD11112222")
    corrected = children.correct_child(tutela, maria.card, birth_place="Bălți")
    fifth = ask(corrected.card, companion="MD55550005")
    decide(tutela, fifth, FATHER_DOC)
    crossings.record_outcome(tutela, fifth, outcome="turned-back")
    ion = children.enrol_child(
        tutela,
        given_name="Ion",
        family_name=family,
        birth_date="2019-01-02",
        birth_place="Orhei",
        guardian_specs=[MOTHER],
    )
    ask(ion.card, companion="MD55550006")
    children.revoke_child(tutela, ion.card, reason="a duplicate record", code="duplicate")
    move_time(tutela.w3, 2 * 3600)
    return {"maria": corrected.card, "ion": ion.card}


def short_story(tutela: Tutela, family: str) -> str:
    """A child crosses with a stranger after a guardian's approval; returns the card."""
    child = keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name="Dan",
            family_name=family,
            birth_date="2015-05-05",
            birth_place="Soroca",
            guardian_specs=[FATHER, MOTHER],
        ),
    )
    request = crossings.request_crossing(
        tutela,
        child.card,
        direction="exit",
        border_point="MD-OTACI",
        companion_name="Vasile Rusu",
        companion_document="MD55550009",
    )
    number = str(request.request)
    decide(tutela, number, MOTHER_DOC)
    crossings.record_outcome(tutela, number, outcome="crossed")
    return child.card


def move_time(w3: Web3, seconds: int) -> None:
    """Moves the chain's clock and mines a block, so that open requests expire."""
    w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
    w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def child_ids(tutela: Tutela, card: str) -> list[str]:
    with tutela.database.transaction() as session:
        return [c.child_id for c in record_chain(session, child_by_card(session, card))]


def as_history(record: CrossingRecord) -> tuple[Any, ...]:
    """An index record in the shape of ``services.crossings.HistoryEntry``."""
    outcome = record.outcome
    return (
        record.request,
        record.direction,
        record.border_point,
        record.requested.block,
        record.requested.tx,
        record.status,
        record.timeline(),
        outcome.outcome if outcome else None,
        outcome.at.tx if outcome else None,
    )


def chain_history(tutela: Tutela, card: str) -> list[tuple[Any, ...]]:
    """The history as the service reads it from the chain today."""
    return [
        (
            e.request,
            e.direction,
            e.border_point,
            e.requested_at_block,
            e.request_tx,
            e.status,
            e.decisions,
            e.outcome,
            e.outcome_tx,
        )
        for e in crossings.history(tutela, card)
    ]


def index_history(index: Database, tutela: Tutela, card: str) -> list[tuple[Any, ...]]:
    with index.transaction() as session:
        return [as_history(r) for r in child_history(session, child_ids(tutela, card))]


def event_rows(index: Database) -> tuple[int, int]:
    """(rows, distinct (tx hash, log index)) over every event table."""
    rows = distinct = 0
    with index.transaction() as session:
        for table in EVENT_TABLES:
            rows += session.scalar(select(func.count()).select_from(table)) or 0
            logs = select(table.c.tx_hash, table.c.log_index).distinct().subquery()
            distinct += session.scalar(select(func.count()).select_from(logs)) or 0
    return rows, distinct


@pytest.fixture
def index(database_url: str) -> Iterator[Database]:
    """A migrated store of its own for the index (the world keeps its SQLite store)."""
    database = Database(database_url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def world(module_world: World) -> World:
    """One world a chain for the module: the tests only read the chain (or add children)."""
    return module_world


@pytest.fixture(scope="module")
def story(module_world: World) -> dict[str, str]:
    return tell_story(module_world.tutela)


def test_the_history_from_the_index_is_the_chains(
    world: World, story: dict[str, str], index: Database
) -> None:
    tutela = world.tutela
    report = index_once(index, tutela.w3, load_target(tutela.database))
    assert report.last_block == tutela.w3.eth.block_number
    maria = index_history(index, tutela, story["maria"])
    assert maria == chain_history(tutela, story["maria"])
    assert [h[5] for h in maria] == ["crossed", "turned-back", "crossed", "expired", "turned-back"]
    assert index_history(index, tutela, story["ion"]) == chain_history(tutela, story["ion"])
    with index.transaction() as session:
        second = crossing(session, maria[1][0])
        ion = session.scalars(select(ChainChild).where(ChainChild.status == "revoked")).one()
        superseded = session.scalars(
            select(ChainChild).where(ChainChild.status == "superseded")
        ).all()
        changes = session.scalars(select(ChainGuardianChange.change)).all()
    assert second is not None
    assert second.override is not None
    assert [(d.kind, d.approved) for d in second.decisions] == [("guardian", False)]
    assert ion.child_id == child_ids(tutela, story["ion"])[0]
    assert [c.successor_id for c in superseded] == [child_ids(tutela, story["maria"])[1]]
    assert changes.count("removed") == 1


def test_a_rerun_and_an_interrupted_run_store_nothing_twice(
    world: World, story: dict[str, str], index: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tutela = world.tutela
    target = load_target(tutela.database)
    real_store_chunk = sync._store_chunk
    calls = 0

    def crash_on_third(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ChainError("the indexer was killed")
        return real_store_chunk(*args)

    monkeypatch.setattr(sync, "_store_chunk", crash_on_third)
    with pytest.raises(ChainError):
        index_once(index, tutela.w3, target, chunk_size=4)
    monkeypatch.setattr(sync, "_store_chunk", real_store_chunk)
    with index.transaction() as session:
        stopped_at = session.scalars(select(IndexCheckpoint.block_number)).one()
    assert stopped_at == target.deploy_block - 1 + 2 * 4  # two chunks committed
    resumed = index_once(index, tutela.w3, target, chunk_size=4)
    assert resumed.first_block == stopped_at + 1
    assert index_once(index, tutela.w3, target).first_block is None

    # A checkpoint lost after its rows were written: everything is read again, nothing doubles.
    with index.transaction() as session:
        session.execute(
            update(IndexCheckpoint).values(block_number=target.deploy_block - 1, block_hash=None)
        )
    index_once(index, tutela.w3, target)
    rows, distinct = event_rows(index)
    assert rows == distinct == verify_index(index, tutela.w3, target).events
    assert index_history(index, tutela, story["maria"]) == chain_history(tutela, story["maria"])


def test_verify_reports_exactly_what_was_tampered_with(
    world: World, story: dict[str, str], index: Database
) -> None:
    tutela = world.tutela
    target = load_target(tutela.database)
    index_once(index, tutela.w3, target)
    clean = verify_index(index, tutela.w3, target)
    assert clean.matches
    assert clean.summary().startswith(f"index matches the chain: {clean.events} events in ")

    with index.transaction() as session:
        denial = session.scalars(select(ChainDecision).where(ChainDecision.approved.is_(False)))
        tampered = denial.one()
        tampered.approved = True
        request = session.scalars(select(ChainRequest).order_by(ChainRequest.id)).first()
        assert request is not None
        session.delete(request)
    report = verify_index(index, tutela.w3, target)
    assert not report.matches
    assert report.difference_count == 2
    changed, missing = sorted(report.differences, key=lambda d: d.kind)
    assert (changed.table, changed.kind, changed.tx) == (
        "chain_decisions",
        "changed",
        tampered.tx_hash,
    )
    assert [(c.column, c.index, c.chain) for c in changed.columns] == [("approved", True, False)]
    assert (missing.table, missing.kind, missing.row["request_id"]) == (
        "chain_requests",
        "missing",
        request.request_id,
    )
    assert "approved is True in the index, False on the chain" in changed.text()
    assert "on the chain, missing from the index" in missing.text()


def test_the_index_stays_the_confirmations_behind_the_head(
    world: World, story: dict[str, str], index: Database
) -> None:
    tutela = world.tutela
    head = tutela.w3.eth.block_number
    on_chain = chain_history(tutela, story["maria"])
    fifth_block = on_chain[4][3]
    report = index_once(
        index, tutela.w3, load_target(tutela.database), confirmations=head - fifth_block + 1
    )
    assert report.last_block == fifth_block - 1
    assert [h[0] for h in index_history(index, tutela, story["maria"])] == [
        h[0] for h in on_chain[:4]
    ]


class NodeWithLogLimit(JSONBaseProvider):
    """A node that refuses log queries over more than ``limit`` blocks, as geth or Besu do."""

    def __init__(self, inner: JSONBaseProvider, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.log_ranges = inner, limit, []

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_getLogs":
            first, last = (int(params[0][k], 16) for k in ("fromBlock", "toBlock"))
            self.log_ranges.append(last - first + 1)
            if last - first + 1 > self.limit:
                message = f"query exceeds max block range {self.limit}"
                return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": message}}
        return self.inner.make_request(method, params)

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        return self.inner.make_batch_request(requests)


def test_log_ranges_shrink_until_the_node_accepts_them(
    world: World, story: dict[str, str], index: Database
) -> None:
    tutela = world.tutela
    assert isinstance(tutela.w3.provider, JSONBaseProvider)
    limited = NodeWithLogLimit(tutela.w3.provider, limit=3)
    index_once(index, Web3(limited, middleware=[]), load_target(tutela.database), chunk_size=50)
    # The whole range first, then halves until the node accepts, then that size on.
    first = limited.log_ranges[0]
    halves = [first // 2**i for i in range(first.bit_length()) if first // 2**i > 3]
    assert limited.log_ranges[: len(halves)] == halves
    assert max(limited.log_ranges[len(halves) :]) <= 3
    assert index_history(index, tutela, story["maria"]) == chain_history(tutela, story["maria"])


def test_following_indexes_what_happens_and_two_indexers_double_nothing(
    world: World, index: Database
) -> None:
    tutela = world.tutela
    target = load_target(tutela.database)
    stop = threading.Event()
    seen: list[int] = []
    follower = threading.Thread(
        target=follow,
        args=(index, tutela.w3, target),
        kwargs={
            "stop_event": stop,
            "poll_interval": 0.05,
            "on_report": lambda r: seen.append(r.last_block),
        },
    )
    follower.start()
    try:
        card = short_story(tutela, "Ursu" + "".join(random.choices(string.ascii_lowercase, k=6)))
        # A second indexer at the same time: it may find the work done, or the lock taken.
        with contextlib.suppress(IndexerBusyError):
            index_once(index, tutela.w3, target)
        deadline = time.monotonic() + 20
        while not seen or seen[-1] < tutela.w3.eth.block_number:
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.05)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert not follower.is_alive()
    assert index_history(index, tutela, card) == chain_history(tutela, card)
    rows, distinct = event_rows(index)
    assert rows == distinct
    assert verify_index(index, tutela.w3, target).matches


def test_every_event_of_the_abi_has_a_table() -> None:
    names = {
        item["name"]
        for contract in INDEXED_CONTRACT_NAMES
        for item in load_artifact(contract).abi
        if item["type"] == "event"
    }
    assert names == HANDLED_EVENTS


def test_a_log_the_abi_does_not_know_is_refused() -> None:
    target = IndexTarget("0x" + "11" * 20, "0x" + "22" * 20, 1)
    log = {
        "address": "0x" + "22" * 20,
        "topics": ["0x" + "ab" * 32],
        "data": "0x",
        "blockNumber": "0x5",
        "blockHash": "0x" + "00" * 32,
        "transactionHash": "0x" + "01" * 32,
        "logIndex": "0x0",
    }
    with pytest.raises(ChainError, match="are the artifacts stale"):
        decode_log(log, target.contracts)
