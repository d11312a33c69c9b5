"""SQLAlchemy models of the off-chain store.

Personal data is held only inside ``sealed`` columns (envelope-encrypted by
:mod:`ledger_client.crypto`); the clear columns hold opaque ids, commitments, addresses and
statuses, which are on the chain anyway.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A naming convention so Alembic can name, and later alter, every constraint.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StaffRole(StrEnum):
    """Staff roles; the on-chain role each maps to is in :mod:`ledger_client.services.staff`."""

    ADMIN = "admin"
    REGISTRAR = "registrar"
    BORDER_OFFICER = "border-officer"
    CHILD_PROTECTION = "child-protection"
    INVESTIGATOR = "investigator"
    RELAYER = "relayer"
    # Reads the audit log; holds no on-chain role.
    AUDITOR = "auditor"
    # The system key that anchors the audit log's head on the ledger (like the relayer).
    ANCHORER = "anchorer"


class Deployment(Base):
    """The contracts this store belongs to; one row."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    registry_address: Mapped[str] = mapped_column(String(42))
    ledger_address: Mapped[str] = mapped_column(String(42))
    # None where the deployment predates the audit anchor (see ``ensure_audit_anchor``).
    audit_address: Mapped[str | None] = mapped_column(String(42), default=None)
    deploy_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StaffMember(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    keystore: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A removed member's row stays, so that what they did can still be attributed.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The portal login: a scrypt hash (werkzeug's format) and an optional sealed TOTP seed.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class Child(Base):
    __tablename__ = "children"

    child_id: Mapped[str] = mapped_column(String(34), primary_key=True)
    card_number: Mapped[str] = mapped_column(String(10), unique=True)
    commitment: Mapped[str] = mapped_column(String(66), index=True)
    # A keyed hash of the names and birth date alone, so the registry desk can warn of a
    # likely duplicate born elsewhere without opening every sealed record.
    name_birth_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    # Keyed look-ups of the full name and of the birth date, for the investigators' search
    # (identity.child_name_lookup, birth_date_lookup); NULL until written or backfilled.
    name_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    birth_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    policy: Mapped[str] = mapped_column(String(16))
    enrolled_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Indexed: the investigators' searches follow corrected records to their successors.
    successor_id: Mapped[str | None] = mapped_column(String(34), index=True, default=None)
    revocation_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class Guardian(Base):
    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.child_id"), index=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    document_commitment: Mapped[str] = mapped_column(String(66), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # identity.guardian_name_lookup of the sealed name; NULL until written or backfilled.
    name_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    # The person behind this guardianship, who holds the key of ``address`` under their own
    # secret; rows older than guardian accounts have none until re-verified in person.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("guardian_accounts.id"), index=True, default=None
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class CrossingRequest(Base):
    """Off-chain companion details of an on-chain crossing request.

    The row is written with the request's outbox entry, before the chain numbers the
    request; ``request_id`` and ``tx_hash`` are filled in when the transaction is confirmed.
    """

    __tablename__ = "crossing_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The outbox key of the request (for rows older than the outbox: the request number).
    action_key: Mapped[str] = mapped_column(String(160), unique=True)
    request_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.child_id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    border_point: Mapped[str] = mapped_column(String(16))
    companion_commitment: Mapped[str] = mapped_column(String(66), index=True)
    companion_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # identity.companion_name_lookup of the sealed name; NULL until written or backfilled.
    companion_name_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    tx_hash: Mapped[str | None] = mapped_column(String(66), default=None)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The outbox's and the portal's tables live on the same metadata, so Alembic and the tests
# see them.
from ledger_client.outbox import models as _outbox_models  # noqa: E402, F401
from ledger_client.risk import models as _risk_models  # noqa: E402, F401
from ledger_client.store import portal_models as _portal_models  # noqa: E402, F401
