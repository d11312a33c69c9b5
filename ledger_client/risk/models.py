"""Tables of the risk engine: the flags, the investigators' sealed review notes, and how far
the engine has read the index. Also the indexes on the event index that its look-ups need.

A flag holds only opaque ids, commitments, request ids and numbers: everything it says is
on the chain anyway. The review note, written by a person, may name people: it is sealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from ledger_client.store.models import Base


class RiskFlag(Base):
    """One indicator's finding about one subject (a companion, a child or a guardian)."""

    __tablename__ = "risk_flags"
    __table_args__ = (UniqueConstraint("indicator", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(String(66), index=True)
    score: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    children: Mapped[list[str]] = mapped_column(JSON)
    crossings: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), index=True)  # "open" | "reviewed"
    first_flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The crossings the last review saw: a crossing outside them reopens the flag.
    reviewed_crossings: Mapped[list[int] | None] = mapped_column(JSON, default=None)


class RiskReviewNote(Base):
    __tablename__ = "risk_review_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("risk_flags.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(100))
    note_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RiskCheckpoint(Base):
    """How far the engine has read: named positions (a block, a time) with an optional hash."""

    __tablename__ = "risk_checkpoints"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    # A block hash, or the thresholds' fingerprint the flags were computed under.
    value: Mapped[str | None] = mapped_column(String(200), default=None)


# The engine's per-subject look-ups, windowed by time (migration 0007), on the event index's
# tables. Declared here because the risk engine is their only reader; attached as each of those
# tables is mapped, because the index's module imports this one (through the store's models)
# before it defines them.
_LOOKUPS = {
    "chain_requests": (
        (
            "ix_chain_requests_companion_commitment_block_time",
            ("companion_commitment", "block_time"),
        ),
        # Direction second: every look-up of a child's requests wants one direction, and a
        # child's last entry request is then read from the index alone.
        (
            "ix_chain_requests_child_id_direction_block_time",
            ("child_id", "direction", "block_time"),
        ),
    ),
    "chain_outcomes": (
        ("ix_chain_outcomes_child_id_block_time", ("child_id", "block_time")),
        # The sweep of exits whose no-return deadline has just passed.
        ("ix_chain_outcomes_block_time", ("block_time",)),
    ),
}


@event.listens_for(Base, "instrument_class", propagate=True)
def _add_lookups(mapper: Mapper[Any], _class: type) -> None:
    table = mapper.local_table
    if isinstance(table, Table):
        for name, columns in _LOOKUPS.get(table.name, ()):
            Index(name, *(table.c[column] for column in columns))
