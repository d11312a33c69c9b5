"""Queueing notifications, inside the database transaction that makes them due.

Queued with the change that calls for them (a confirmed crossing request, a new account),
so a crash can neither lose a message nor send one for a change that was rolled back.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.crypto import MasterKey, seal_json
from ledger_client.errors import NotFoundError
from ledger_client.notify.models import Channel, NoticeKind, NoticeState, Notification
from ledger_client.store.models import CrossingRequest, Guardian
from ledger_client.store.portal_models import GuardianAccount
from ledger_client.store.times import as_utc


def crossing_key(request_id: int, account_id: int, channel: Channel) -> str:
    return f"crossing:{request_id}:{account_id}:{channel}"


def payload_aad(key: str) -> bytes:
    """Binds a sealed payload to its row, so it cannot be moved to another message."""
    return b"notifications:" + key.encode()


def enqueue_crossing_notices(
    session: Session, request_id: int, child_id: str, now: datetime
) -> int:
    """Queues an e-mail to every current guardian of the child, and an SMS to those with a
    phone; a second call for the same request queues nothing more.

    Guardians enrolled before guardian accounts existed have no account and no contact
    details on record, so they cannot be notified until re-verified.

    Returns:
        How many messages were queued by this call.
    """
    accounts = session.execute(
        select(GuardianAccount.id, GuardianAccount.phone_lookup)
        .join(Guardian, Guardian.account_id == GuardianAccount.id)
        .where(Guardian.child_id == child_id, Guardian.removed_at.is_(None))
        .distinct()
        .order_by(GuardianAccount.id)
    ).all()
    wanted = {}
    for account_id, phone_lookup in accounts:
        # Every account has an e-mail address: enrolment requires one.
        channels = [Channel.EMAIL] + ([Channel.SMS] if phone_lookup is not None else [])
        for channel in channels:
            wanted[crossing_key(request_id, account_id, channel)] = (account_id, channel)
    if not wanted:
        return 0
    existing = set(session.scalars(select(Notification.key).where(Notification.key.in_(wanted))))
    for key, (account_id, channel) in wanted.items():
        if key not in existing:
            session.add(
                _queued(key, NoticeKind.CROSSING_REQUEST, channel, account_id, now, request_id)
            )
    return len(wanted) - len(existing)


def notify_guardians_of(session: Session, action_key: str, request_id: int) -> int:
    """Queues the notices of a crossing request the chain has just numbered.

    Called by the request's confirmation effect, in its transaction.

    Returns:
        How many messages were queued by this call.
    """
    child_id = session.scalar(
        select(CrossingRequest.child_id).where(CrossingRequest.action_key == action_key)
    )
    if child_id is None:
        return 0
    return enqueue_crossing_notices(session, request_id, child_id, datetime.now(UTC))


def enqueue_activation_notice(
    session: Session, master_key: MasterKey, account_id: int, code: str, now: datetime
) -> None:
    """Queues the e-mail that gives a new guardian their one-time activation code.

    The code is sealed in the row and erased once the message is sent or given up.

    Raises:
        NotFoundError: no account has this id, or it has no activation pending.
    """
    account = session.get(GuardianAccount, account_id)
    if account is None or account.activation_expires_at is None:
        raise NotFoundError("there is no guardian account waiting for activation with this id")
    # A new code (a re-verification) is a new message, so the key is drawn, not derived.
    key = f"activation:{account_id}:{secrets.token_hex(8)}"
    payload = {"code": code, "expires_at": as_utc(account.activation_expires_at).isoformat()}
    row = _queued(key, NoticeKind.ACTIVATION, Channel.EMAIL, account_id, now, None)
    row.payload_sealed = seal_json(master_key, payload, associated_data=payload_aad(key)).to_bytes()
    session.add(row)


def _queued(
    key: str,
    kind: NoticeKind,
    channel: Channel,
    account_id: int,
    now: datetime,
    request_id: int | None,
) -> Notification:
    return Notification(
        key=key,
        kind=kind,
        channel=channel,
        account_id=account_id,
        request_id=request_id,
        state=NoticeState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
