"""An event index written row by row, at chosen chain times, for the risk engine's tests.

Each event is a block of its own (its number, hash and time in ``index_blocks``) and moves
the index checkpoint, as the indexer would; ``tick`` moves time with an empty block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger_client.indexer.tables import (
    BLOCKS,
    EVENT_TABLES,
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainRequest,
    IndexCheckpoint,
    IndexedBlock,
)
from ledger_client.risk.engine import RiskUpdate, rebuild_flags, update_flags
from ledger_client.risk.flags import FlagView, list_flags
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.store.database import Database

T0 = 1_700_000_000
HOUR = 3600
DAY = 24 * HOUR
OFFICER = "0x" + "0f" * 20


def child(n: int) -> str:
    return "0x" + f"{n:032x}"


def document(n: int) -> str:
    return "0x" + f"d0c{n:061x}"


def address(n: int) -> str:
    return "0x" + f"{n:040x}"


class FakeIndex:
    """Writes chain_* rows the way the indexer would, one block per event."""

    def __init__(self, database: Database, start: int = T0) -> None:
        self.database = database
        self.now = start
        self.block = 0
        self.next_request = 1
        self.fork_salt = 0
        with database.transaction() as session:
            session.add(
                IndexCheckpoint(
                    registry_address=address(1),
                    ledger_address=address(2),
                    deploy_block=1,
                    block_number=0,
                    block_hash=None,
                    block_time=None,
                    updated_at=datetime.now(UTC),
                )
            )

    def at(self, moment: int) -> FakeIndex:
        assert moment >= self.now, "chain time only moves forward"
        self.now = moment
        return self

    def later(self, seconds: int) -> FakeIndex:
        return self.at(self.now + seconds)

    @contextmanager
    def _block(self, events: int = 1) -> Iterator[tuple[Session, dict[str, object]]]:
        self.block += 1
        block_hash = "0x" + f"{self.fork_salt:02x}{self.block:062x}"
        where: dict[str, object] = {
            "block_number": self.block,
            "block_hash": block_hash,
            "block_time": self.now,
            "tx_hash": "0x" + f"{self.fork_salt:02x}{self.block:062x}"[::-1],
        }
        with self.database.transaction() as session:
            yield session, where
            session.add(
                IndexedBlock(number=self.block, hash=block_hash, time=self.now, events=events)
            )
            checkpoint = session.scalars(select(IndexCheckpoint)).one()
            checkpoint.block_number, checkpoint.block_hash = self.block, block_hash
            checkpoint.block_time = self.now

    def tick(self, seconds: int) -> None:
        """Time passes: an empty block ``seconds`` later."""
        self.later(seconds)
        with self._block(events=0):
            pass

    def enrol(self, child_id: str, guardians: list[tuple[str, str]]) -> None:
        """A child and its guardians (address, document) in one registration transaction."""
        with self._block() as (session, where):
            session.add(
                ChainChild(
                    child_id=child_id,
                    commitment="0x" + "11" * 32,
                    registered_policy="any",
                    registered_threshold=1,
                    status="active",
                    policy="any",
                    threshold=1,
                    successor_id=None,
                    log_index=0,
                    **where,
                )
            )
            for index, (guardian, doc) in enumerate(guardians, start=1):
                session.add(
                    ChainGuardianChange(
                        child_id=child_id,
                        guardian=guardian,
                        change="added",
                        document_commitment=doc,
                        log_index=index,
                        **where,
                    )
                )

    def add_guardian(self, child_id: str, guardian: str, doc: str) -> None:
        with self._block() as (session, where):
            session.add(
                ChainGuardianChange(
                    child_id=child_id,
                    guardian=guardian,
                    change="added",
                    document_commitment=doc,
                    log_index=0,
                    **where,
                )
            )

    def remove_guardian(self, child_id: str, guardian: str) -> None:
        with self._block() as (session, where):
            session.add(
                ChainGuardianChange(
                    child_id=child_id,
                    guardian=guardian,
                    change="removed",
                    document_commitment=None,
                    log_index=0,
                    **where,
                )
            )

    def request(
        self, child_id: str, companion: str, direction: str = "exit", border: str = "MD-LEUSENI"
    ) -> int:
        request_id = self.next_request
        self.next_request += 1
        with self._block() as (session, where):
            session.add(
                ChainRequest(
                    request_id=request_id,
                    child_id=child_id,
                    companion_commitment=companion,
                    direction=direction,
                    border_point=border,
                    expires_at=self.now + DAY,
                    officer=OFFICER,
                    status="pending" if direction == "exit" else "approved",
                    log_index=0,
                    **where,
                )
            )
        return request_id

    def decide(
        self, request_id: int, *, approved: bool, status: str, kind: str = "guardian"
    ) -> None:
        with self._block() as (session, where):
            session.add(
                ChainDecision(
                    request_id=request_id,
                    kind=kind,
                    decider=address(99),
                    approved=approved,
                    counted=True if kind == "guardian" else None,
                    status=status,
                    log_index=0,
                    **where,
                )
            )

    def deny(self, request_id: int) -> None:
        self.decide(request_id, approved=False, status="denied")

    def co_approve(self, request_id: int) -> None:
        self.decide(request_id, approved=True, status="pending", kind="protection")

    def override(self, request_id: int) -> None:
        with self._block() as (session, where):
            session.add(
                ChainOverride(
                    request_id=request_id,
                    officer=OFFICER,
                    court_order_hash="0x" + "22" * 32,
                    log_index=0,
                    **where,
                )
            )

    def outcome(self, request_id: int, child_id: str, outcome: str = "crossed") -> None:
        with self._block() as (session, where):
            session.add(
                ChainOutcome(
                    request_id=request_id,
                    child_id=child_id,
                    outcome=outcome,
                    officer=OFFICER,
                    log_index=0,
                    **where,
                )
            )

    def roll_back_to(self, block: int) -> None:
        """What the indexer does on a reorganisation: rows above ``block`` are deleted."""
        with self.database.transaction() as session:
            for table in EVENT_TABLES:
                session.execute(delete(table).where(table.c.block_number > block))
            session.execute(delete(BLOCKS).where(BLOCKS.c.number > block))
            kept = session.execute(
                select(IndexedBlock.hash, IndexedBlock.time).where(IndexedBlock.number == block)
            ).one()
            checkpoint = session.scalars(select(IndexCheckpoint)).one()
            checkpoint.block_number, checkpoint.block_hash = block, kept.hash
            checkpoint.block_time = kept.time
        self.block = block
        self.fork_salt += 1  # the new branch's blocks have other hashes


def update(database: Database, thresholds: RiskThresholds | None = None) -> RiskUpdate:
    with database.transaction() as session:
        return update_flags(session, thresholds or RiskThresholds())


def rebuild(database: Database, thresholds: RiskThresholds | None = None) -> RiskUpdate:
    with database.transaction() as session:
        return rebuild_flags(session, thresholds or RiskThresholds())


def flags(database: Database, **filters: object) -> list[FlagView]:
    with database.reading() as session:
        return list_flags(session, **filters)  # type: ignore[arg-type]


def of(database: Database, indicator: str) -> dict[str, FlagView]:
    """The flags of one indicator, by subject."""
    return {f.subject: f for f in flags(database) if f.indicator == indicator}


def comparable(database: Database) -> list[tuple[object, ...]]:
    """Every flag without its ids and times: what incremental and rebuilt runs must share."""
    return sorted(
        (
            f.indicator,
            f.subject,
            f.subject_kind,
            f.score,
            sorted(f.facts.items()),
            f.children,
            f.crossings,
            f.status,
        )
        for f in flags(database)
    )
