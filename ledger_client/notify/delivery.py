"""Delivering queued notifications with retries, and what the border desk sees of them.

A pass claims due rows in one short transaction (moving their next attempt past a lease, so
another worker leaves them alone), sends each one outside any transaction, and records the
result in another short one. A worker that dies while sending leaves its rows to be claimed
again when the lease runs out: a message may then go out twice, but is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select

from ledger_client.errors import ChainError, TutelaError
from ledger_client.notify.config import NotifyConfig, load_notify_config
from ledger_client.notify.models import Channel, NoticeKind, NoticeState, Notification
from ledger_client.notify.render import Notice, contact_of, render
from ledger_client.notify.transports import DeliveryError, post_sms, send_email
from ledger_client.services.context import Tutela
from ledger_client.settings import SMS_WEBHOOK_KEY
from ledger_client.store.portal_models import GuardianAccount
from ledger_client.store.times import as_utc

logger = logging.getLogger(__name__)

# The wait after the first, second, ... failed attempt; the last one repeats.
BACKOFF: Final = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
)
# Far longer than one send (SMTP and HTTP time out after 10 s); a claimed row whose worker
# died becomes due again after it.
CLAIM_LEASE: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


@dataclass(frozen=True)
class DeliveryView:
    """One message to one guardian about a request, for the border desk."""

    account_id: int
    guardian_name: str
    channel: str
    state: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def backoff(attempts: int) -> timedelta:
    """The wait before the next try, after ``attempts`` failed ones (at least 1)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def deliver_due(
    tutela: Tutela,
    now: datetime | None = None,
    limit: int = 50,
    *,
    config: NotifyConfig | None = None,
) -> DeliveryReport:
    """Sends up to ``limit`` due notifications; safe to run in several workers at once.

    Args:
        tutela: The open Tutela.
        now: The time of this pass (default: ``tutela.clock()``).
        limit: At most this many messages in one pass.
        config: The notification settings (default: read from ``TUTELA_*`` variables).

    Raises:
        ConfigurationError: a notification variable is malformed.
        StoreError: the database failed.
    """
    chosen = config or load_notify_config()
    moment = now or datetime.fromtimestamp(tutela.clock(), UTC)
    sent = retrying = failed = 0
    for notice in _claim(tutela, chosen, moment, limit):
        error = _send(tutela, chosen, notice, moment)
        state = _record(tutela, chosen, notice.id, error, moment)
        if state == NoticeState.SENT:
            sent += 1
        elif state == NoticeState.FAILED:
            failed += 1
            logger.warning("notification %s failed for good: %s", notice.id, error)
        else:
            retrying += 1
    return DeliveryReport(sent=sent, retrying=retrying, failed=failed)


def delivery_status(tutela: Tutela, request_id: int) -> list[DeliveryView]:
    """Every message about a crossing request and how it went, by guardian and channel.

    Raises:
        StoreError: the database failed.
    """
    with tutela.database.reading() as session:
        rows = session.execute(
            select(Notification, GuardianAccount)
            .join(GuardianAccount, GuardianAccount.id == Notification.account_id)
            .where(
                Notification.request_id == request_id,
                Notification.kind == NoticeKind.CROSSING_REQUEST,
            )
            .order_by(Notification.account_id, Notification.channel)
        ).all()
    return [
        DeliveryView(
            account_id=account.id,
            guardian_name=_name(tutela, account),
            channel=notice.channel,
            state=notice.state,
            attempts=notice.attempts,
            last_error=notice.last_error,
            sent_at=None if notice.sent_at is None else as_utc(notice.sent_at),
        )
        for notice, account in rows
    ]


def undelivered(views: Sequence[DeliveryView]) -> str | None:
    """A warning for the border officer when guardians were not reached, else None.

    A guardian counts as reached, or still being reached, while any of their messages is
    sent or queued.
    """
    if not views:
        return "no guardian could be notified: none has contact details on record"
    unreached = {
        view.account_id
        for view in views
        if all(v.state == NoticeState.FAILED for v in views if v.account_id == view.account_id)
    }
    guardians = {view.account_id for view in views}
    if unreached == guardians:
        return "no guardian was reached"
    if unreached:
        return f"{len(unreached)} of {len(guardians)} guardians could not be reached"
    return None


def _claim(tutela: Tutela, config: NotifyConfig, now: datetime, limit: int) -> list[Notice]:
    """Takes due rows for this worker: the attempt is counted and the row leased."""
    with tutela.database.transaction() as session:
        # SKIP LOCKED lets PostgreSQL workers take different rows; SQLite's write transaction
        # (BEGIN IMMEDIATE) is exclusive, so there the second worker waits and finds none.
        rows = session.scalars(
            select(Notification)
            .where(Notification.state == NoticeState.QUEUED, Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            if row.attempts >= config.max_attempts:
                # Claimed that often without a result: the worker died each time.
                _give_up(row, "the delivery was interrupted too often")
                continue
            row.attempts += 1
            row.next_attempt_at = now + CLAIM_LEASE
            claimed.append(
                Notice(
                    id=row.id,
                    key=row.key,
                    kind=row.kind,
                    channel=row.channel,
                    account_id=row.account_id,
                    request_id=row.request_id,
                    payload_sealed=row.payload_sealed,
                )
            )
        return claimed


def _send(
    tutela: Tutela, config: NotifyConfig, notice: Notice, now: datetime
) -> DeliveryError | None:
    """Renders and sends one message; the failure, if any, to record."""
    try:
        outgoing = render(tutela, config, notice, now)
        if notice.channel == Channel.SMS:
            assert outgoing.phone is not None
            assert outgoing.text is not None
            post_sms(
                config,
                tutela.settings.secret(SMS_WEBHOOK_KEY),
                notice.key,
                outgoing.phone,
                outgoing.text,
                int(tutela.clock()),
            )
        else:
            assert outgoing.email is not None
            send_email(
                config, tutela.settings.data_dir, outgoing.email, f"notification-{notice.id}"
            )
    except DeliveryError as error:
        return error
    except ChainError:
        return DeliveryError("the ledger could not be read", permanent=False)
    except TutelaError as error:
        logger.warning("notification %s could not be rendered: %s", notice.id, error)
        return DeliveryError("the message could not be prepared", permanent=False)
    return None


def _record(
    tutela: Tutela,
    config: NotifyConfig,
    notice_id: int,
    error: DeliveryError | None,
    now: datetime,
) -> NoticeState:
    with tutela.database.transaction() as session:
        row = session.get(Notification, notice_id)
        assert row is not None  # rows are never deleted
        if error is None:
            row.state = NoticeState.SENT
            row.sent_at = now
            row.last_error = None
            row.payload_sealed = None
        elif error.permanent or row.attempts >= config.max_attempts:
            _give_up(row, str(error))
        else:
            row.last_error = str(error)
            row.next_attempt_at = now + backoff(row.attempts)
        return NoticeState(row.state)


def _give_up(row: Notification, reason: str) -> None:
    row.state = NoticeState.FAILED
    row.last_error = reason[:200]
    # An activation code must not outlive its message.
    row.payload_sealed = None


def _name(tutela: Tutela, account: GuardianAccount) -> str:
    try:
        return str(contact_of(tutela.master_key, account)["name"])
    except TutelaError:
        return "(unreadable record)"
