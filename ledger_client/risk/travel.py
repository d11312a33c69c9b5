"""Indicators over the crossings themselves: 1 (a companion with children not theirs),
2 (a child crossing often), 3 (a denial, then another border point) and 4 (a guardian added
shortly before an exit).

Each takes the subjects to recompute with the time of their earliest new event, reads only
the rows that windows holding such an event can see (an index range scan per subject; the
subjects go as one array on PostgreSQL, in ``IN`` lists of a few hundred on SQLite), and
returns the new evidence by subject. A ``GROUP BY`` first keeps only the subjects with enough
rows in that range to reach the threshold: most subjects of a batch never come near it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from ledger_client.indexer.tables import (
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainRequest,
)
from ledger_client.risk.evidence import (
    REQUEST_LIFETIME,
    Finding,
    GuardianHistory,
    Subjects,
    add,
    among,
    grouped,
    parts,
    since,
    windows,
)
from ledger_client.risk.thresholds import DAY, HOUR, RiskThresholds

R = ChainRequest
_REQUEST_COLUMNS = (
    R.request_id,
    R.child_id,
    R.companion_commitment,
    R.border_point,
    R.block_time,
    R.block_number,
    R.log_index,
)


def _exit_requests(session: Session, column: Any, part: Any, start: int | None) -> list[Any]:
    if not part:
        return []
    query = select(*_REQUEST_COLUMNS).where(among(session, column, part), R.direction == "exit")
    if start is not None:
        query = query.where(R.block_time >= start)
    return list(session.execute(query.order_by(R.block_number, R.log_index)))


def _busy(
    session: Session, column: Any, part: Any, start: int | None, least: Any, counted: Any
) -> list[str]:
    """The subjects of ``part`` with ``counted >= least`` over their exit requests since
    ``start``: every window is a subset of those requests, so only these subjects can hold a
    qualifying one, and only their rows need to leave the database."""
    query = (
        select(column)
        .where(among(session, column, part), R.direction == "exit")
        .group_by(column)
        .having(counted >= least)
    )
    if start is not None:
        query = query.where(R.block_time >= start)
    return sorted(session.scalars(query))


def _time(row: Any) -> int:
    return int(row.block_time)


def companion_unrelated_children(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """1: a companion with exit requests for N distinct children not theirs within W days.

    "Not theirs": the companion's document commitment is not among the child's guardians'
    at the request, so a guardian added later changes nothing about earlier crossings.
    """
    width = thresholds.companion_window_days * DAY
    found: dict[str, Finding] = {}
    for part in parts(session, subjects):
        start = since(subjects, part, width)
        busy = _busy(
            session,
            R.companion_commitment,
            part,
            start,
            thresholds.companion_children,
            func.count(distinct(R.child_id)),
        )
        rows = _exit_requests(session, R.companion_commitment, busy, start)
        guardians = GuardianHistory.load(session, {row.child_id for row in rows})
        for companion, items in grouped(rows, lambda row: row.companion_commitment).items():
            unrelated = [
                row
                for row in items
                if companion
                not in guardians.documents_at(row.child_id, (row.block_number, row.log_index))
            ]
            for window in windows(unrelated, _time, width, subjects[companion]):
                kids = {row.child_id for row in window}
                if len(kids) >= thresholds.companion_children:
                    evidence = Finding(
                        len(kids),
                        {row.request_id for row in window},
                        kids,
                        {"at": _time(window[-1])},
                    )
                    add(found, companion, evidence)
    return found


def frequent_crossings(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """2: N or more exit requests of one child within W days."""
    width = thresholds.frequent_window_days * DAY
    found: dict[str, Finding] = {}
    for part in parts(session, subjects):
        start = since(subjects, part, width)
        busy = _busy(session, R.child_id, part, start, thresholds.frequent_crossings, func.count())
        rows = _exit_requests(session, R.child_id, busy, start)
        for child_id, items in grouped(rows, lambda row: row.child_id).items():
            for window in windows(items, _time, width, subjects[child_id]):
                if len(window) >= thresholds.frequent_crossings:
                    evidence = Finding(
                        len(window),
                        {row.request_id for row in window},
                        {child_id},
                        {"at": _time(window[-1])},
                    )
                    add(found, child_id, evidence)
    return found


def denied_then_elsewhere(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """3: a request denied, then an exit request for the child at another border point
    within H hours of the denial."""
    width = thresholds.denial_window_hours * HOUR
    found: dict[str, Finding] = {}
    d = ChainDecision
    for part in parts(session, subjects):
        start = since(subjects, part, width)
        denials = (
            select(
                d.block_time, d.block_number, d.log_index, R.request_id, R.child_id, R.border_point
            )
            .join(R, R.request_id == d.request_id)
            .where(among(session, R.child_id, part), d.status == "denied")
        )
        if start is not None:
            denials = denials.where(d.block_time >= start, R.block_time >= start - REQUEST_LIFETIME)
        denied = list(session.execute(denials))
        # Only children with a denial can pair one with a later attempt.
        attempts = grouped(
            _exit_requests(session, R.child_id, sorted({row.child_id for row in denied}), start),
            lambda row: row.child_id,
        )
        for denial in denied:
            first = subjects[denial.child_id]
            if first is not None and denial.block_time < first - width:
                continue  # judged by an earlier run: no new event can pair with it
            denied_at = (denial.block_number, denial.log_index)
            elsewhere = [
                row
                for row in attempts.get(denial.child_id, ())
                if (row.block_number, row.log_index) > denied_at
                and row.block_time <= denial.block_time + width
                and row.border_point != denial.border_point
            ]
            if elsewhere:
                evidence = Finding(
                    len(elsewhere),
                    {denial.request_id, *(row.request_id for row in elsewhere)},
                    {denial.child_id},
                    {
                        "at": int(denial.block_time),
                        "denied_at": denial.border_point,
                        "tried_at": ", ".join(sorted({row.border_point for row in elsewhere})),
                    },
                )
                add(found, denial.child_id, evidence)
    return found


def guardian_added_before_exit(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """4: a guardian added after enrolment at most D days before an exit request.

    Guardians added at enrolment share the ``ChildRegistered`` transaction and do not count.
    The peak is 2 when the new guardian is the companion of that exit, else 1.
    """
    width = thresholds.new_guardian_days * DAY
    found: dict[str, Finding] = {}
    g = ChainGuardianChange
    c = ChainChild
    for part in parts(session, subjects):
        start = since(subjects, part, width)
        added = (
            select(g.child_id, g.document_commitment, g.block_time, g.block_number, g.log_index)
            .outerjoin(c, c.child_id == g.child_id)
            .where(
                among(session, g.child_id, part),
                g.change == "added",
                or_(c.tx_hash.is_(None), g.tx_hash != c.tx_hash),
            )
        )
        if start is not None:
            added = added.where(g.block_time >= start)
        later = grouped(list(session.execute(added)), lambda row: row.child_id)
        # Only children given a guardian after enrolment can pair one with an exit.
        for row in _exit_requests(session, R.child_id, sorted(later), start):
            first = subjects[row.child_id]
            if first is not None and row.block_time < first:
                continue
            position = (row.block_number, row.log_index)
            recent = [
                change
                for change in later.get(row.child_id, ())
                if (change.block_number, change.log_index) < position
                and row.block_time - change.block_time <= width
            ]
            if not recent:
                continue
            companion = any(c.document_commitment == row.companion_commitment for c in recent)
            newest = max(change.block_time for change in recent)
            evidence = Finding(
                2 if companion else 1,
                {row.request_id},
                {row.child_id},
                {
                    "at": _time(row),
                    "days": (_time(row) - int(newest)) // DAY,
                    "companion_is_new_guardian": int(companion),
                },
            )
            add(found, row.child_id, evidence)
    return found
