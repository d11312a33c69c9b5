"""The flags as the services read them, and an investigator's review of a flag.

A review seals the investigator's note (it may name people) and is audited with the note's
hash only. A reviewed flag reopens as soon as it holds a crossing the review did not see.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, bindparam, cast, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from ledger_client.crypto import MasterKey, SealedRecord, open_json, seal_json
from ledger_client.errors import InputError, NotFoundError
from ledger_client.risk.evidence import Finding, among, parts
from ledger_client.risk.explain import BY_NUMBER, explain, facts_of, finding_of, score
from ledger_client.risk.models import RiskFlag, RiskReviewNote
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services.audit import Actor, record_audit
from ledger_client.store.times import as_utc

MAX_NOTE = 2000
OPEN, REVIEWED = "open", "reviewed"
# The engine writes flags with Core statements; reviews and reads go through the ORM.
_FLAGS: Table = RiskFlag.__table__  # type: ignore[assignment]
_STORED = tuple(
    _FLAGS.c[name]
    for name in (
        "id",
        "subject",
        "score",
        "facts",
        "children",
        "crossings",
        "status",
        "reviewed_at",
        "reviewed_crossings",
    )
)


@dataclass(frozen=True)
class FlagView:
    id: int
    number: int
    indicator: str
    subject_kind: str
    subject: str
    score: int
    facts: dict[str, int | str]
    explanation: str
    children: tuple[str, ...]
    crossings: tuple[int, ...]  # oldest first
    status: str  # "open" | "reviewed"
    first_flagged_at: datetime
    updated_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class ReviewNote:
    at: datetime
    by: str
    note: str


def list_flags(
    session: Session,
    *,
    open_only: bool = False,
    child_id: str | None = None,
    subject: str | None = None,
    limit: int = 500,
) -> list[FlagView]:
    """Flags, highest score first; about one child (as subject or among its children) or
    one subject when asked."""
    query = select(RiskFlag).order_by(RiskFlag.score.desc(), RiskFlag.id.desc()).limit(limit)
    if open_only:
        query = query.where(RiskFlag.status == OPEN)
    if child_id is not None:
        query = query.where(
            or_(RiskFlag.subject == child_id, cast(RiskFlag.children, String).contains(child_id))
        )
    if subject is not None:
        query = query.where(RiskFlag.subject == subject)
    return [_view(flag) for flag in session.scalars(query)]


def get_flag(session: Session, flag_id: int) -> FlagView:
    """Raises: NotFoundError: no flag has this id."""
    return _view(_flag(session, flag_id))


def review_flag(
    session: Session, flag_id: int, actor: Actor, note: str, master_key: MasterKey
) -> FlagView:
    """Marks a flag reviewed with a note, sealed; audited as "flag-reviewed".

    Raises:
        InputError: the note is empty or longer than 2,000 characters.
        NotFoundError: no flag has this id.
    """
    text = note.strip() if isinstance(note, str) else ""
    if not text:
        raise InputError("a review needs a note saying what was checked")
    if len(text) > MAX_NOTE:
        raise InputError(f"a review note holds at most {MAX_NOTE} characters")
    flag = _flag(session, flag_id)
    # Microseconds dropped: not every database keeps them, and the audit entry repeats it.
    moment = datetime.now(UTC).replace(microsecond=0)
    entry = RiskReviewNote(flag_id=flag.id, at=moment, by=actor.name, note_sealed=b"")
    session.add(entry)
    session.flush()
    entry.note_sealed = seal_json(
        master_key, {"note": text}, associated_data=_note_aad(flag.id, entry.id)
    ).to_bytes()
    flag.status = REVIEWED
    flag.reviewed_by, flag.reviewed_at = actor.name, moment
    flag.reviewed_crossings = list(flag.crossings)
    record_audit(
        session,
        actor,
        "flag-reviewed",
        f"flag:{flag.id}",
        {
            "flag": flag.id,
            "indicator": flag.indicator,
            "note_sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
        now=moment,
    )
    session.flush()
    return _view(flag)


def review_notes(session: Session, flag_id: int, master_key: MasterKey) -> list[ReviewNote]:
    """The notes of a flag's reviews, oldest first.

    Raises:
        NotFoundError: no flag has this id.
        CryptoError: a note cannot be opened with this master key.
    """
    _flag(session, flag_id)
    notes = session.scalars(
        select(RiskReviewNote).where(RiskReviewNote.flag_id == flag_id).order_by(RiskReviewNote.id)
    )
    return [
        ReviewNote(
            at=as_utc(n.at),
            by=n.by,
            note=str(
                open_json(
                    master_key,
                    SealedRecord.from_bytes(n.note_sealed),
                    associated_data=_note_aad(flag_id, n.id),
                )["note"]
            ),
        )
        for n in notes
    ]


def store_findings(
    session: Session,
    number: int,
    found: Mapping[str, Finding],
    evaluated: Mapping[str, Any] | None,
    thresholds: RiskThresholds,
    now: datetime,
    *,
    merge: bool,
) -> tuple[int, int]:
    """Writes one indicator's findings; returns (flags opened, flags changed).

    ``evaluated``: the subjects recomputed (None: all of them, a rebuild). With ``merge`` a
    monotone indicator's new evidence joins the stored flag's; otherwise the finding
    replaces it, and a flag whose subject no longer qualifies is deleted unless it was
    reviewed (the review and its notes stay). One read of the stored flags, then one
    statement each for the inserts, the updates and the deletions (executemany): a batch
    can touch thousands of flags.
    """
    indicator = BY_NUMBER[number]
    additive = merge and indicator.monotone
    wanted = set(found) if additive or evaluated is None else set(found) | set(evaluated)
    flags = _FLAGS
    base = select(*_STORED).where(flags.c.indicator == indicator.key)
    existing: dict[str, Any] = {}
    if evaluated is None:
        existing = {row.subject: row for row in session.execute(base)}
    else:
        for part in parts(session, wanted):
            query = base.where(among(session, flags.c.subject, part))
            existing.update((row.subject, row) for row in session.execute(query))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for subject, finding in found.items():
        flag = existing.get(subject)
        if flag is not None and additive:
            stored = finding_of(flag.facts, flag.crossings, flag.children)
            stored.absorb(finding)
            finding = stored
        facts = facts_of(number, finding, thresholds)
        values: dict[str, Any] = {
            "score": score(number, facts),
            "facts": facts,
            "children": sorted(finding.children),
            "crossings": sorted(finding.crossings),
        }
        if flag is None:
            inserts.append(
                {
                    "indicator": indicator.key,
                    "number": number,
                    "subject_kind": indicator.subject_kind,
                    "subject": subject,
                    "status": OPEN,
                    "first_flagged_at": now,
                    "updated_at": now,
                    **values,
                }
            )
            continue
        values["status"] = _status(values["crossings"], flag.reviewed_crossings)
        if any(getattr(flag, key) != value for key, value in values.items()):
            updates.append({"flag_id": flag.id, "updated_at": now, **values})
    if inserts:
        session.execute(insert(flags), inserts)
    if updates:
        session.execute(
            update(flags)
            .where(flags.c.id == bindparam("flag_id"))
            .values({key: bindparam(key) for key in updates[0] if key != "flag_id"}),
            updates,
        )
    if not additive:
        gone = [
            flag.id
            for subject, flag in existing.items()
            if subject not in found and flag.reviewed_at is None
        ]
        for ids in parts(session, gone):
            session.execute(delete(flags).where(among(session, flags.c.id, ids)))
    return len(inserts), len(updates)


def _status(crossings: list[int], reviewed: list[int] | None) -> str:
    if reviewed is not None and set(crossings) <= set(reviewed):
        return REVIEWED
    return OPEN


def _flag(session: Session, flag_id: int) -> RiskFlag:
    flag = session.get(RiskFlag, flag_id)
    if flag is None:
        raise NotFoundError(f"there is no risk flag {flag_id}")
    return flag


def _note_aad(flag_id: int, note_id: int) -> bytes:
    return f"risk_review_notes:{flag_id}:{note_id}".encode()


def _view(flag: RiskFlag) -> FlagView:
    facts = dict(flag.facts)
    return FlagView(
        id=flag.id,
        number=flag.number,
        indicator=flag.indicator,
        subject_kind=flag.subject_kind,
        subject=flag.subject,
        score=flag.score,
        facts=facts,
        explanation=explain(flag.number, facts),
        children=tuple(flag.children),
        crossings=tuple(flag.crossings),
        status=flag.status,
        first_flagged_at=as_utc(flag.first_flagged_at),
        updated_at=as_utc(flag.updated_at),
        reviewed_by=flag.reviewed_by,
        reviewed_at=as_utc(flag.reviewed_at) if flag.reviewed_at else None,
    )
