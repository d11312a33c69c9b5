"""Tables of the outbox: one row per business action, and the next nonce of each account."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger_client.store.models import Base


class ActionState(StrEnum):
    """Where an action stands; ``confirmed`` and ``failed`` are final unless the chain rewinds."""

    QUEUED = "queued"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class OutboxItem(Base):
    """One business action and the signed transaction that carries it.

    The key names the action (``crossing-request:…``, or the caller's idempotency key), so a
    retry finds the first attempt instead of making a second transaction.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("chain_id", "sender", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # A keyed hash of the action's arguments: the same key with other arguments is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42), index=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    # The unsigned fields, kept so the action can be signed again at another nonce.
    call: Mapped[dict[str, object]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    failure: Mapped[str | None] = mapped_column(String(500), default=None)
    revert_data: Mapped[str | None] = mapped_column(String(2000), default=None)
    block_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    block_hash: Mapped[str | None] = mapped_column(String(66), default=None)
    # Opaque ids the action's store effects need (never personal data).
    context: Mapped[dict[str, object]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountNonce(Base):
    """The next nonce Tutela hands out for an account; allocated under a row lock."""

    __tablename__ = "account_nonces"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
