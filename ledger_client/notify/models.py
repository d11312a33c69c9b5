"""The notifications table: one row per message to one guardian on one channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger_client.store.models import Base


class NoticeKind(StrEnum):
    CROSSING_REQUEST = "crossing-request"
    ACTIVATION = "activation"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class NoticeState(StrEnum):
    """``queued`` until delivered (``sent``) or given up (``failed``); both are final."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Notification(Base):
    """A message waiting for, or done with, delivery.

    No personal data in clear: the text is rendered from the sealed records when it is sent,
    and the one secret a message carries (an activation code) is sealed in
    ``payload_sealed`` and erased as soon as the row is final.
    """

    __tablename__ = "notifications"
    # The worker's query: queued rows whose time has come, oldest first.
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Names the message (``crossing:<request>:<account>:<channel>``), so queueing it twice
    # (a confirmation applied again after a reorganisation) finds the first row.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(8))
    # An account deleted with a failed enrolment takes its unsent activation code with it.
    account_id: Mapped[int] = mapped_column(
        ForeignKey("guardian_accounts.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Safe to show the border officer: never an address, a number or a server's own words.
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
