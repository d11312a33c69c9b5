"""SQL tables of the event index, on the store's ``Base`` so that migrations cover them.

Every ``chain_*`` table holds one row per event, with where it sits on the chain (block
number, block hash, block time, transaction hash, log index) and a unique (transaction hash,
log index), so indexing the same log twice changes nothing. A few columns are derived from
later events (a request's status, a child's current status and policy): they are recomputed
whenever an event is added or rolled back, and ``tutela verify`` checks them like the rest.
The ``id`` columns are surrogates: nothing refers to them and ``verify`` ignores them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ledger_client.store.models import Base

HASH = 66  # "0x" and 64 hex digits
ADDRESS = 42
CHILD_ID = 34  # bytes16 as "0x" and 32 hex digits, as the store's children.child_id


class IndexCheckpoint(Base):
    """How far the index has gone, for one pair of contracts; one row."""

    __tablename__ = "index_checkpoints"
    __table_args__ = (UniqueConstraint("registry_address", "ledger_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_address: Mapped[str] = mapped_column(String(ADDRESS))
    ledger_address: Mapped[str] = mapped_column(String(ADDRESS))
    deploy_block: Mapped[int] = mapped_column(BigInteger)
    # The last block indexed (deploy_block - 1 before the first), with its hash and time.
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(HASH))
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IndexedBlock(Base):
    """The hash of every block with events, and of every block in the reorganisation window."""

    __tablename__ = "index_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(HASH))
    time: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(Integer)


class _Located:
    """Where an event sits on the chain; (tx_hash, log_index) identifies it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(HASH))
    block_time: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH))
    log_index: Mapped[int] = mapped_column(Integer)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805 - a class attribute
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            UniqueConstraint("tx_hash", "log_index", name=f"uq_{name}_tx_hash_log_index"),
            # A rollback deletes everything above the fork point.
            Index(f"ix_{name}_block_number", "block_number"),
        )


class ChainChild(_Located, Base):
    """``ChildRegistered``; the last four columns are the record's current state."""

    __tablename__ = "chain_children"

    child_id: Mapped[str] = mapped_column(String(CHILD_ID), unique=True)
    commitment: Mapped[str] = mapped_column(String(HASH))
    registered_policy: Mapped[str] = mapped_column(String(8))
    registered_threshold: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    policy: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[int] = mapped_column(Integer)
    successor_id: Mapped[str | None] = mapped_column(String(CHILD_ID))


class ChainGuardianChange(_Located, Base):
    """``GuardianAdded`` (with the document commitment) and ``GuardianRemoved``."""

    __tablename__ = "chain_guardian_changes"

    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    guardian: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    change: Mapped[str] = mapped_column(String(8))  # "added" | "removed"
    document_commitment: Mapped[str | None] = mapped_column(String(HASH), index=True)


class ChainPolicyChange(_Located, Base):
    __tablename__ = "chain_policy_changes"

    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    policy: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[int] = mapped_column(Integer)


class ChainRevocation(_Located, Base):
    __tablename__ = "chain_revocations"

    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    reason_code: Mapped[int] = mapped_column(Integer)


class ChainSupersession(_Located, Base):
    __tablename__ = "chain_supersessions"

    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    successor_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)


class ChainRequest(_Located, Base):
    """``CrossingRequested``; ``status`` is the stored status after every later event.

    ``expired`` is never stored: like the contract's ``getRequest``, readers derive it from
    ``expires_at`` and the time they read at.
    """

    __tablename__ = "chain_requests"

    request_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    companion_commitment: Mapped[str] = mapped_column(String(HASH), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    border_point: Mapped[str] = mapped_column(String(16))
    # Indexed: a search for requests still open reads those not yet expired.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    officer: Mapped[str] = mapped_column(String(ADDRESS))
    status: Mapped[str] = mapped_column(String(16))


# The investigators' searches by border point and by dates, newest first (migration 0008).
Index(
    "ix_chain_requests_border_point_block_time", ChainRequest.border_point, ChainRequest.block_time
)
Index("ix_chain_requests_block_time", ChainRequest.block_time)


class ChainDecision(_Located, Base):
    """``GuardianDecided`` (kind "guardian") and ``ProtectionDecided`` (kind "protection")."""

    __tablename__ = "chain_decisions"

    request_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(12))
    decider: Mapped[str] = mapped_column(String(ADDRESS), index=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    # Set aside by the family rule when false; a protection decision carries none (NULL).
    counted: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # the request's status the event reported


class ChainOverride(_Located, Base):
    __tablename__ = "chain_overrides"

    request_id: Mapped[int] = mapped_column(BigInteger, index=True)
    officer: Mapped[str] = mapped_column(String(ADDRESS))
    court_order_hash: Mapped[str] = mapped_column(String(HASH))


class ChainOutcome(_Located, Base):
    __tablename__ = "chain_outcomes"

    request_id: Mapped[int] = mapped_column(BigInteger, index=True)
    child_id: Mapped[str] = mapped_column(String(CHILD_ID), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    officer: Mapped[str] = mapped_column(String(ADDRESS))


class ChainAccessEvent(_Located, Base):
    """Roles and admin transfers (OpenZeppelin's events) and EIP-712 domain changes."""

    __tablename__ = "chain_access_events"

    contract: Mapped[str] = mapped_column(String(16))  # "ChildRegistry" | "CrossingLedger"
    event: Mapped[str] = mapped_column(String(48))
    role: Mapped[str | None] = mapped_column(String(HASH))
    account: Mapped[str | None] = mapped_column(String(ADDRESS), index=True)
    sender: Mapped[str | None] = mapped_column(String(ADDRESS))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


EVENT_MODELS: tuple[type[_Located], ...] = (
    ChainChild,
    ChainGuardianChange,
    ChainPolicyChange,
    ChainRevocation,
    ChainSupersession,
    ChainRequest,
    ChainDecision,
    ChainOverride,
    ChainOutcome,
    ChainAccessEvent,
)


def event_table(model: type[_Located]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


EVENT_TABLES: tuple[Table, ...] = tuple(event_table(m) for m in EVENT_MODELS)
CHECKPOINTS: Table = IndexCheckpoint.__table__  # type: ignore[assignment]
BLOCKS: Table = IndexedBlock.__table__  # type: ignore[assignment]
INDEX_TABLES: tuple[Table, ...] = (CHECKPOINTS, BLOCKS, *EVENT_TABLES)
