"""The audit log: every read of a child's personal data by staff, and every staff action.

Entries form a hash chain: each carries the hash of the one before, so an edited or deleted
entry breaks every hash after it, and ``verify_audit_log`` says where.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.store.portal_models import AuditEntry
from ledger_client.store.times import as_utc

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member or a guardian, and from where."""

    kind: str  # "staff", "guardian", "system"
    id: int | None
    name: str
    address: str | None = None


@dataclass(frozen=True)
class AuditView:
    id: int
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Appends an entry in the caller's transaction; the read it records commits with it.

    ``detail`` holds ids and reasons, never personal data: the log says that a record was
    read, not what it holds.
    """
    moment = now or datetime.now(UTC)
    # The last entry, locked on PostgreSQL so two writers cannot both chain onto it; on SQLite
    # the write transaction is exclusive already.
    previous = session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1).with_for_update()
    )
    previous_hash = previous or GENESIS
    body = detail or {}
    entry_hash = _entry_hash(previous_hash, moment, actor, action, subject, body)
    session.add(
        AuditEntry(
            at=moment,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            action=action,
            subject=subject,
            detail=body,
            address=actor.address,
            previous_hash=previous_hash,
            entry_hash=entry_hash,
        )
    )
    session.flush()


def verify_audit_log(session: Session) -> int | None:
    """The id of the first entry whose hash or link is wrong, or None when the chain holds."""
    previous_hash = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        actor = Actor(entry.actor_kind, entry.actor_id, entry.actor_name, entry.address)
        expected = _entry_hash(
            previous_hash, as_utc(entry.at), actor, entry.action, entry.subject, entry.detail
        )
        if entry.previous_hash != previous_hash or entry.entry_hash != expected:
            return entry.id
        previous_hash = entry.entry_hash
    return None


def audit_entries(
    session: Session, subject: str | None = None, limit: int = 100
) -> list[AuditView]:
    """The latest entries, newest first, optionally about one subject."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return [
        AuditView(
            id=e.id,
            at=as_utc(e.at).isoformat(),
            actor=f"{e.actor_kind}:{e.actor_name}",
            action=e.action,
            subject=e.subject,
            detail=dict(e.detail),
        )
        for e in session.scalars(query)
    ]


def _entry_hash(
    previous_hash: str,
    at: datetime,
    actor: Actor,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> str:
    canonical = json.dumps(
        {
            "previous": previous_hash,
            # Microseconds dropped: not every database keeps them.
            "at": at.astimezone(UTC).replace(microsecond=0).isoformat(),
            "actor": [actor.kind, actor.id, actor.name, actor.address],
            "action": action,
            "subject": subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
