"""Keeps the risk flags up to date with the event index, incrementally.

``update_flags`` reads only the events indexed since its checkpoint (a block number), derives
the subjects they touch, and recomputes just those subjects' flags with windowed look-ups;
evidence from windows no new event can reach is already in the stored flags, and merging
is order-free, so the flags equal what ``rebuild_flags`` computes from the whole index.
Indicator 6 also moves with time: each run sweeps the exits whose deadline passed between
the previous run's "now" and this one's (now: the time of the last indexed block).

A reorganisation deletes index rows above a block; the engine notices (the index went back,
or a block it saw has another hash or is gone) and rebuilds. So does a change of thresholds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ledger_client.errors import StoreError
from ledger_client.indexer.tables import (
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainRequest,
    ChainRevocation,
    ChainSupersession,
    IndexCheckpoint,
    IndexedBlock,
)
from ledger_client.indexer.target import IndexStore
from ledger_client.risk import family, travel
from ledger_client.risk.evidence import Finding, Subjects, among, parts
from ledger_client.risk.flags import store_findings
from ledger_client.risk.models import RiskCheckpoint
from ledger_client.risk.thresholds import DAY, RiskThresholds

logger = logging.getLogger(__name__)

Compute = Callable[[Session, Subjects, RiskThresholds, int], dict[str, Finding]]
COMPUTE: dict[int, Compute] = {
    1: travel.companion_unrelated_children,
    2: travel.frequent_crossings,
    3: travel.denied_then_elsewhere,
    4: travel.guardian_added_before_exit,
    5: family.guardian_of_many,
    6: family.exit_without_return,
    7: family.family_rule_overridden,
}
R = ChainRequest


@dataclass(frozen=True)
class RiskUpdate:
    events_seen: int
    subjects_checked: int
    flags_opened: int
    flags_updated: int
    seconds: float


@dataclass(frozen=True)
class _Index:
    block: int
    hash: str | None
    now: int


def update_flags(session: Session, thresholds: RiskThresholds) -> RiskUpdate:
    """Brings the flags up to date with the events indexed since the last run.

    Runs in the caller's transaction; the first run, and any run after a reorganisation or a
    change of thresholds, rebuilds instead.

    Raises:
        StoreError: the store failed (the caller's transaction rolls back, nothing changes).
    """
    started = time.perf_counter()
    index = _index(session)
    if index is None:
        return RiskUpdate(0, 0, 0, 0, time.perf_counter() - started)
    marks = _marks(session)
    if _stale(session, marks, index, thresholds):
        return _rebuild(session, thresholds, index, started)
    last, previous_now = marks["index"].position, marks["now"].position
    if index.block == last:
        return RiskUpdate(0, 0, 0, 0, time.perf_counter() - started)
    subjects: dict[int, dict[str, int | None]] = {number: {} for number in COMPUTE}
    seen = _new_events(session, last, index.block, subjects)
    _sweep_deadlines(session, previous_now, index.now, thresholds, subjects[6])
    opened = updated = 0
    for number, compute in COMPUTE.items():
        if subjects[number]:
            found = compute(session, subjects[number], thresholds, index.now)
            new, changed = store_findings(
                session, number, found, subjects[number], thresholds, _moment(index.now), merge=True
            )
            opened, updated = opened + new, updated + changed
    _save_marks(session, marks, index, thresholds)
    checked = sum(len(s) for s in subjects.values())
    return RiskUpdate(seen, checked, opened, updated, time.perf_counter() - started)


def rebuild_flags(session: Session, thresholds: RiskThresholds) -> RiskUpdate:
    """Recomputes every flag from the whole index; review notes and reviews are kept.

    Raises:
        StoreError: the store failed.
    """
    started = time.perf_counter()
    index = _index(session)
    if index is None:
        return RiskUpdate(0, 0, 0, 0, time.perf_counter() - started)
    _marks(session)
    return _rebuild(session, thresholds, index, started)


def follow_flags(
    store: IndexStore, thresholds: RiskThresholds, stop: threading.Event, interval: float = 2.0
) -> None:
    """Runs ``update_flags`` every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            with store.transaction() as session:
                report = update_flags(session, thresholds)
        except StoreError as error:
            logger.warning("risk flags not updated, will retry: %s", error)
        else:
            if report.flags_opened or report.flags_updated:
                logger.info(
                    "risk flags: %d opened, %d updated from %d events in %.2f s",
                    report.flags_opened,
                    report.flags_updated,
                    report.events_seen,
                    report.seconds,
                )
        stop.wait(interval)


def _rebuild(
    session: Session, thresholds: RiskThresholds, index: _Index, started: float
) -> RiskUpdate:
    companions = set(
        session.scalars(select(R.companion_commitment).where(R.direction == "exit").distinct())
    )
    children = set(session.scalars(select(R.child_id).distinct()))
    documents = {
        document
        for document in session.scalars(select(ChainGuardianChange.document_commitment).distinct())
        if document
    }
    everything: dict[str, set[str]] = {
        "companion": companions,
        "child": children,
        "guardian": documents | companions,
    }
    opened = updated = checked = 0
    for number, compute in COMPUTE.items():
        kind = "companion" if number == 1 else "guardian" if number == 5 else "child"
        subjects: dict[str, int | None] = dict.fromkeys(everything[kind])
        found = compute(session, subjects, thresholds, index.now)
        new, changed = store_findings(
            session, number, found, None, thresholds, _moment(index.now), merge=False
        )
        opened, updated, checked = opened + new, updated + changed, checked + len(subjects)
    marks = _marks(session)
    _save_marks(session, marks, index, thresholds)
    logger.info("risk flags rebuilt: %d subjects checked", checked)
    return RiskUpdate(0, checked, opened, updated, time.perf_counter() - started)


def _index(session: Session) -> _Index | None:
    row = session.execute(
        select(IndexCheckpoint.block_number, IndexCheckpoint.block_hash, IndexCheckpoint.block_time)
        .order_by(IndexCheckpoint.id)
        .limit(1)
    ).first()
    if row is None or row.block_time is None:
        return None  # nothing indexed yet
    return _Index(int(row.block_number), row.block_hash, int(row.block_time))


_MARKS = ("index", "events", "now", "thresholds")


def _marks(session: Session) -> dict[str, RiskCheckpoint]:
    """The engine's checkpoints, locked so two engines never interleave (on SQLite the write
    transaction is exclusive already); made on the first run."""
    rows = {row.name: row for row in session.scalars(select(RiskCheckpoint).with_for_update())}
    for name in _MARKS:
        if name not in rows:
            rows[name] = RiskCheckpoint(name=name, position=-1, value=None)
            session.add(rows[name])
    return rows


def _stale(
    session: Session, marks: dict[str, RiskCheckpoint], index: _Index, thresholds: RiskThresholds
) -> bool:
    """True when the stored flags cannot be brought forward incrementally."""
    if marks["index"].position < 0 or marks["thresholds"].value != thresholds.fingerprint():
        return True
    if index.block < marks["index"].position:
        return True  # the index went back: a reorganisation
    for name in ("index", "events"):
        mark = marks[name]
        if mark.position < 0 or mark.value is None:
            continue
        stored = session.scalar(
            select(IndexedBlock.hash).where(IndexedBlock.number == mark.position)
        )
        # The index keeps every block with events for good, and the last blocks' hashes; a
        # block seen with events that is gone, or any seen block with another hash, was
        # replaced by a reorganisation, and rows the engine has read may have vanished.
        if (stored is None and name == "events") or (stored is not None and stored != mark.value):
            return True
    return False


def _save_marks(
    session: Session, marks: dict[str, RiskCheckpoint], index: _Index, thresholds: RiskThresholds
) -> None:
    marks["index"].position, marks["index"].value = index.block, index.hash
    newest = session.execute(
        select(IndexedBlock.number, IndexedBlock.hash)
        .where(IndexedBlock.number <= index.block, IndexedBlock.events > 0)
        .order_by(IndexedBlock.number.desc())
        .limit(1)
    ).first()
    marks["events"].position, marks["events"].value = newest if newest else (-1, None)
    marks["now"].position = index.now
    marks["thresholds"].position, marks["thresholds"].value = 0, thresholds.fingerprint()


def _note(subjects: dict[str, int | None], subject: str | None, moment: int) -> None:
    """Remembers the earliest new event of a subject."""
    if subject is None:
        return
    known = subjects.get(subject)
    subjects[subject] = moment if known is None else min(known, moment)


def _new_events(
    session: Session, after: int, upto: int, subjects: dict[int, dict[str, int | None]]
) -> int:
    """Reads the events of blocks ``after+1..upto`` and notes the subjects they touch."""
    seen = 0

    def between(model: Any) -> ColumnElement[bool]:
        column: ColumnElement[int] = model.block_number
        return (column > after) & (column <= upto)

    for child_id, companion, direction, moment in session.execute(
        select(R.child_id, R.companion_commitment, R.direction, R.block_time).where(between(R))
    ):
        seen += 1
        if direction == "exit":
            for number in (2, 3, 4):
                _note(subjects[number], child_id, moment)
            _note(subjects[1], companion, moment)
            _note(subjects[5], companion, moment)
        else:
            _note(subjects[6], child_id, moment)
    d, v, o = ChainDecision, ChainOverride, ChainOutcome
    for kind, approved, status, moment, child_id in session.execute(
        select(d.kind, d.approved, d.status, d.block_time, R.child_id)
        .join(R, R.request_id == d.request_id)
        .where(between(d))
    ):
        seen += 1
        if status == "denied":
            _note(subjects[3], child_id, moment)
        if kind == "protection" and approved:
            _note(subjects[7], child_id, moment)
    for moment, child_id in session.execute(
        select(v.block_time, R.child_id).join(R, R.request_id == v.request_id).where(between(v))
    ):
        seen += 1
        _note(subjects[7], child_id, moment)
    for outcome, moment, child_id in session.execute(
        select(o.outcome, o.block_time, o.child_id).where(between(o))
    ):
        seen += 1
        if outcome == "crossed":
            _note(subjects[6], child_id, moment)
    # Guardianship changes touch every guardian of the child: families are made of them.
    changed: dict[str, int] = {}
    g = ChainGuardianChange
    for model in (g, ChainRevocation, ChainSupersession):
        for child_id, moment in session.execute(
            select(model.child_id, model.block_time).where(between(model))
        ):
            seen += 1
            changed[child_id] = min(changed.get(child_id, moment), moment)
            _note(subjects[4], child_id, moment)
    for part in parts(session, changed):
        for document, child_id in session.execute(
            select(g.document_commitment, g.child_id).where(
                among(session, g.child_id, part),
                g.change == "added",
                g.document_commitment.is_not(None),
            )
        ):
            _note(subjects[5], document, changed[child_id])
    return seen


def _sweep_deadlines(
    session: Session,
    previous: int,
    now: int,
    thresholds: RiskThresholds,
    subjects: dict[str, int | None],
) -> None:
    """Notes the children whose exit reached its no-return deadline since the last run."""
    width = thresholds.no_return_days * DAY
    o = ChainOutcome
    query = (
        select(o.child_id, o.block_time)
        .join(R, R.request_id == o.request_id)
        .where(
            o.block_time > previous - width,
            o.block_time <= now - width,
            o.outcome == "crossed",
            R.direction == "exit",
        )
    )
    for child_id, moment in session.execute(query):
        _note(subjects, child_id, moment)


def _moment(now: int) -> datetime:
    return datetime.fromtimestamp(now, UTC)
