"""Tables of the people who use the portal: guardian accounts, sessions, login attempts,
the audit log of staff reads, and the children's photos.

Personal data is sealed here too; the clear columns hold ids, hashes and times.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger_client.store.models import Base


class GuardianAccount(Base):
    """One person who is guardian of one or more children, and the key they sign with.

    The key's keystore is encrypted under the person's own secrets only: the one-time
    activation code until activation, then the password and, separately, the PIN (peppered).
    Whoever runs the store cannot sign for the guardian without one of them.
    """

    __tablename__ = "guardian_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_commitment: Mapped[str] = mapped_column(String(66), unique=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    # Name, document, e-mail and phone, sealed.
    contact_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # A keyed hash of the normalised phone number, so an SMS reply finds its sender.
    phone_lookup: Mapped[str | None] = mapped_column(String(66), index=True, default=None)
    language: Mapped[str] = mapped_column(String(5), default="ro")
    keystore_activation: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    activation_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    keystore_password: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    keystore_pin: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    failed_secret_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PortalSession(Base):
    """A server-side login session; the browser holds only a random token whose hash is
    the id, so logging out (or a password reset) ends it everywhere."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(16))  # "staff" or "guardian"
    principal_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginAttempt(Base):
    """One try of a secret, counted per account, per address and per phone for throttling.

    Kept in the store, not in a process, so every portal worker counts the same tries.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # account, address, phone, pin
    subject: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    success: Mapped[bool] = mapped_column(Boolean)


class AuditEntry(Base):
    """Who read or changed what, when; each entry carries the hash of the one before, so a
    deleted or edited entry breaks the chain."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(45), default=None)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The private part (a search's reason and values), sealed with the master key; the hash
    # covers its sha256, so a swapped or removed part breaks the chain like an edit does.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class ChildPhoto(Base):
    """The child's photo for the border officer to match, sealed like the record."""

    __tablename__ = "child_photos"

    child_id: Mapped[str] = mapped_column(ForeignKey("children.child_id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


from ledger_client.notify import models as _notify_models  # noqa: E402, F401
