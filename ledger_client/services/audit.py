"""The audit log: every read of a child's personal data by staff, and every staff action.

Entries form a hash chain: each carries the hash of the one before, so an edited or deleted
entry breaks every hash after it, and ``verify_audit_log`` says where. The chain alone cannot
show a cut-off tail or a chain rewritten from scratch; the head anchored on the ledger
(:mod:`ledger_client.services.audit_anchor`) does.

An entry's ``detail`` is clear JSON: ids, names of criteria, hashes. What is personal (an
investigator's reason, the names and documents searched for) goes into ``private``, sealed
with the master key; the hash covers the sealed bytes' sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ledger_client.crypto import MasterKey, SealedRecord, open_json, seal_json
from ledger_client.errors import InputError
from ledger_client.store.portal_models import AuditEntry
from ledger_client.store.times import as_utc

if TYPE_CHECKING:
    from ledger_client.services.context import Tutela

GENESIS = "0" * 64
MAX_PAGE = 1000
AUDIT_READ = "audit-read"
# The subject of an entry about the audit log itself.
AUDIT_LOG_SUBJECT = "audit-log"
# The advisory lock audit writers take on PostgreSQL: a bigint from the lock's name.
_WRITER_LOCK = int.from_bytes(hashlib.sha256(b"tutela.audit").digest()[:8], "big", signed=True)


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
    # The opened private part; empty where the entry has none or the reader may not open it.
    private: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnchorView:
    """One anchor of the log's head on the ledger."""

    entry_count: int
    head: str
    tx_hash: str
    block: int
    at: datetime


@dataclass(frozen=True)
class AuditStatus:
    """What a check of the log against itself and against its anchors found."""

    entries: int
    broken_at: int | None  # id of the first entry whose hash or link is wrong
    anchors_checked: int
    anchor_mismatch: str | None  # the first anchor the log disagrees with, in words
    last_anchor: AnchorView | None
    unanchored: int  # entries written after the last anchor

    @property
    def holds(self) -> bool:
        return self.broken_at is None and self.anchor_mismatch is None


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
    *,
    private: dict[str, Any] | None = None,
    master_key: MasterKey | None = None,
    now: datetime | None = None,
) -> None:
    """Appends an entry in the caller's transaction; the read it records commits with it.

    ``detail`` holds ids and reasons' hashes, never personal data: the log says that a record
    was read, not what it holds. ``private`` (a reason, the values searched for) is sealed
    with ``master_key``.

    Raises:
        InputError: ``private`` without ``master_key``, or a value JSON cannot hold.
    """
    if private and master_key is None:
        raise InputError("the private part of an audit entry needs the master key to seal it")
    moment = now or datetime.now(UTC)
    # One writer at a time, so two cannot both chain onto the same entry. On SQLite the write
    # transaction is exclusive already. On PostgreSQL a row lock on the last entry is not
    # enough: a writer waiting for it gets, once it is released, that same row back rather
    # than the entry its holder added; a transaction-level advisory lock is.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITER_LOCK})
    previous = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    previous_hash = previous or GENESIS
    body = detail or {}
    sealed = None
    if private:
        assert master_key is not None  # checked above
        sealed = seal_json(
            master_key, private, associated_data=_private_aad(previous_hash)
        ).to_bytes()
    entry_hash = _entry_hash(previous_hash, moment, actor, action, subject, body, sealed)
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
            sealed=sealed,
        )
    )
    session.flush()


def verify_audit_log(session: Session) -> int | None:
    """The id of the first entry whose hash or link is wrong, or None when the chain holds."""
    # Closed when left early: on PostgreSQL the walk holds a server-side cursor.
    with closing(walk_entries(session)) as walk:
        for _number, entry, broken in walk:
            if broken:
                return entry.id
    return None


def walk_entries(session: Session) -> Generator[tuple[int, AuditEntry, bool]]:
    """Every entry in id order with its 1-based number and whether its hash or link is wrong.

    After the first wrong entry the chain is judged from that entry's stored hash, so one
    edit is reported once, at the entry edited. Close the generator when leaving it early.
    """
    previous_hash = GENESIS
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    result = session.scalars(query)
    try:
        for number, entry in enumerate(result, start=1):
            actor = Actor(entry.actor_kind, entry.actor_id, entry.actor_name, entry.address)
            expected = _entry_hash(
                previous_hash,
                as_utc(entry.at),
                actor,
                entry.action,
                entry.subject,
                entry.detail,
                entry.sealed,
            )
            wrong = entry.previous_hash != previous_hash or entry.entry_hash != expected
            yield number, entry, wrong
            previous_hash = entry.entry_hash
    finally:
        result.close()


def log_head(session: Session) -> tuple[int, str | None]:
    """The number of entries and the hash of the last one (None when the log is empty)."""
    last = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if last is None:
        return 0, None
    # Counted up to the entry read, not over the table: on PostgreSQL each statement sees the
    # latest commits, and an entry added in between must not be counted under this head.
    count = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.id <= last.id))
    return int(count or 0), str(last.entry_hash)


def audit_entries(
    session: Session, subject: str | None = None, limit: int = 100
) -> list[AuditView]:
    """The latest entries, newest first, optionally about one subject; private parts closed."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return [_view(e) for e in session.scalars(query)]


def audit_page(
    session: Session,
    master_key: MasterKey,
    *,
    reader: Actor,
    actor: str | None = None,
    case: str | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[AuditView]:
    """The latest entries, newest first, with their private parts opened, for an auditor.

    ``actor`` matches the actor's name (or ``kind:name``), ``case`` the subject (an
    investigation's case number), ``action`` the action. The read is itself recorded as
    "audit-read" by ``reader``, in the caller's transaction, after the page is taken: the
    filters (which may name a person) are sealed in its private part.

    Raises:
        InputError: a limit outside 1 to 1,000.
        CryptoError: a private part does not open (altered, or moved from another entry).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"an audit page shows 1 to {MAX_PAGE} entries")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        spelled = AuditEntry.actor_kind + ":" + AuditEntry.actor_name
        query = query.where((AuditEntry.actor_name == actor) | (spelled == actor))
    if case:
        query = query.where(AuditEntry.subject == case)
    if action:
        query = query.where(AuditEntry.action == action)
    page = [_view(e, master_key) for e in session.scalars(query)]
    filters = {"actor": actor, "case": case, "action": action}
    record_audit(
        session,
        reader,
        AUDIT_READ,
        AUDIT_LOG_SUBJECT,
        {"filters": sorted(k for k, v in filters.items() if v), "shown": len(page)},
        private={k: v for k, v in filters.items() if v},
        master_key=master_key,
    )
    return page


def open_private(entry: AuditEntry, master_key: MasterKey) -> dict[str, Any]:
    """An entry's private part, opened; empty when it has none.

    Raises:
        CryptoError: the sealed bytes do not open under this entry's binding.
    """
    if entry.sealed is None:
        return {}
    record = SealedRecord.from_bytes(entry.sealed)
    return open_json(master_key, record, associated_data=_private_aad(entry.previous_hash))


def _view(entry: AuditEntry, master_key: MasterKey | None = None) -> AuditView:
    return AuditView(
        id=entry.id,
        at=as_utc(entry.at).isoformat(),
        actor=f"{entry.actor_kind}:{entry.actor_name}",
        action=entry.action,
        subject=entry.subject,
        detail=dict(entry.detail),
        private=open_private(entry, master_key) if master_key is not None else {},
    )


def _private_aad(previous_hash: str) -> bytes:
    # Bound to the entry's place in the chain (the hash before it is unique to it), since the
    # row's id is not known before it is written: a private part copied onto another entry
    # does not open there.
    return b"audit_log:" + previous_hash.encode("ascii")


def _entry_hash(
    previous_hash: str,
    at: datetime,
    actor: Actor,
    action: str,
    subject: str,
    detail: dict[str, Any],
    sealed: bytes | None = None,
) -> str:
    body: dict[str, Any] = {
        "previous": previous_hash,
        # Microseconds dropped: not every database keeps them.
        "at": at.astimezone(UTC).replace(microsecond=0).isoformat(),
        "actor": [actor.kind, actor.id, actor.name, actor.address],
        "action": action,
        "subject": subject,
        "detail": detail,
    }
    # Only when there is a private part: entries without one (all of those written before it
    # existed) keep the body, and so the hash, they were written with.
    if sealed is not None:
        body["sealed"] = hashlib.sha256(sealed).hexdigest()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit_status(tutela: Tutela) -> AuditStatus:
    """Checks the log's chain of hashes and every anchor of it on the ledger.

    See :func:`ledger_client.services.audit_anchor.audit_status`.
    """
    # Imported here: the anchoring half needs the chain, and imports this module.
    from ledger_client.services import audit_anchor

    return audit_anchor.audit_status(tutela)


def anchor_audit_head(tutela: Tutela) -> AnchorView | None:
    """Anchors the log's head on the ledger when it grew since the last anchor.

    See :func:`ledger_client.services.audit_anchor.anchor_audit_head`.
    """
    from ledger_client.services import audit_anchor

    return audit_anchor.anchor_audit_head(tutela)
