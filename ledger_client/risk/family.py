"""Indicators over guardianship and returns: 5 (a guardian of many unrelated children),
6 (an exit without return) and 7 (the family rule overridden or co-approved repeatedly).

5 and 6 depend on the present state (current guardians, the index's "now"), so they are
recomputed in full for each subject; 7 is windowed like the crossing indicators.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, distinct, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from ledger_client.indexer.tables import (
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainRequest,
)
from ledger_client.risk.evidence import (
    END_OF_CHAIN,
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
from ledger_client.risk.thresholds import DAY, RiskThresholds

R = ChainRequest
OVERRIDE_WEIGHT = 2  # a court order sets the family rule aside entirely
CO_APPROVAL_WEIGHT = 1


def guardian_of_many(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """5: one guardian document on children of N or more unrelated families.

    Two of the guardian's children are in one family when they share another current
    guardian; families are the connected groups. Only active records count (a corrected
    record's successor replaces it, a revoked one is gone). The crossings are the exits in
    which this guardian travelled with those children.
    """
    found: dict[str, Finding] = {}
    g = ChainGuardianChange
    for part in parts(session, subjects):
        # Families are at most the children the document was ever added to.
        many = session.scalars(
            select(g.document_commitment)
            .where(among(session, g.document_commitment, part), g.change == "added")
            .group_by(g.document_commitment)
            .having(func.count(distinct(g.child_id)) >= thresholds.guardian_families)
        ).all()
        if not many:
            continue
        candidates: dict[str, set[str]] = defaultdict(set)
        for document, child_id in session.execute(
            select(g.document_commitment, g.child_id).where(
                among(session, g.document_commitment, many), g.change == "added"
            )
        ):
            if document:
                candidates[document].add(child_id)
        if not candidates:
            continue
        everyone = set().union(*candidates.values())
        active = _active(session, everyone)
        guardians = GuardianHistory.load(session, everyone & active)
        current = {
            child: guardians.documents_at(child, END_OF_CHAIN) for child in everyone & active
        }
        for document, kids in candidates.items():
            mine = sorted(child for child in kids & active if document in current[child])
            families = _families(mine, {child: current[child] - {document} for child in mine})
            if families >= thresholds.guardian_families:
                found[document] = Finding(families, set(), set(mine), {"at": 0})
    for part in parts(session, found):
        travelled = select(R.request_id, R.child_id, R.companion_commitment).where(
            among(session, R.companion_commitment, part), R.direction == "exit"
        )
        for request_id, child_id, companion in session.execute(travelled):
            if child_id in found[companion].children:
                found[companion].crossings.add(request_id)
    return found


def _active(session: Session, child_ids: set[str]) -> set[str]:
    active: set[str] = set()
    for part in parts(session, child_ids):
        active.update(
            session.scalars(
                select(ChainChild.child_id).where(
                    among(session, ChainChild.child_id, part), ChainChild.status == "active"
                )
            )
        )
    return active


def _families(children: list[str], others: dict[str, set[str]]) -> int:
    """How many groups the children form, joined when they share another guardian."""
    parent = {child: child for child in children}

    def root(child: str) -> str:
        while parent[child] != child:
            parent[child] = parent[parent[child]]
            child = parent[child]
        return child

    first_with: dict[str, str] = {}
    for child in children:
        for document in sorted(others[child]):
            if document in first_with:
                parent[root(child)] = root(first_with[document])
            else:
                first_with[document] = child
    return len({root(child) for child in children})


def exit_without_return(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """6: an exit recorded "crossed" with no later entry request, at least D days before now.

    A later entry request resolves it, so the indicator is recomputed in full per child;
    "now" is the time of the last indexed block, never the wall clock. Only the exits after
    the child's last entry request matter: the database keeps the others back, first by the
    time of that entry (read from an index alone), then exactly by chain position for the
    few exits left (one index probe each).
    """
    width = thresholds.no_return_days * DAY
    found: dict[str, Finding] = {}
    o, entry = ChainOutcome, aliased(ChainRequest)
    returned = exists().where(
        entry.child_id == o.child_id,
        entry.direction == "entry",
        or_(
            entry.block_number > o.block_number,
            and_(entry.block_number == o.block_number, entry.log_index > o.log_index),
        ),
    )
    for part in parts(session, subjects):
        last = (
            select(entry.child_id, func.max(entry.block_time).label("at"))
            .where(among(session, entry.child_id, part), entry.direction == "entry")
            .group_by(entry.child_id)
            .subquery()
        )
        exits = (
            select(
                o.child_id, o.block_time, o.block_number, o.log_index, R.request_id, R.border_point
            )
            .join(R, R.request_id == o.request_id)
            .outerjoin(last, last.c.child_id == o.child_id)
            .where(
                among(session, o.child_id, part),
                o.outcome == "crossed",
                o.block_time <= now - width,
                # Chain time never goes back: an exit recorded before the block time of the
                # child's last entry request came before it. Exits in that very block are
                # settled by ``returned``.
                or_(last.c.at.is_(None), o.block_time >= last.c.at),
                R.direction == "exit",
                ~returned,
            )
            .order_by(o.block_number, o.log_index)
        )
        rows = list(session.execute(exits))
        for child_id, away in grouped(rows, lambda row: row.child_id).items():
            if away:
                found[child_id] = Finding(
                    len(away),
                    {row.request_id for row in away},
                    {child_id},
                    {"at": int(away[0].block_time), "border_point": away[0].border_point},
                )
    return found


def family_rule_overridden(
    session: Session, subjects: Subjects, thresholds: RiskThresholds, now: int
) -> dict[str, Finding]:
    """7: family-rule interventions for one child weighing N or more within W days: a
    court-ordered override weighs 2, a child-protection co-approval 1."""
    width = thresholds.intervention_window_days * DAY
    found: dict[str, Finding] = {}
    d, v = ChainDecision, ChainOverride
    for part in parts(session, subjects):
        start = since(subjects, part, width)
        items: list[tuple[int, int, int, str, int, int]] = []
        for model, weight, condition in (
            (v, OVERRIDE_WEIGHT, true()),
            (d, CO_APPROVAL_WEIGHT, (d.kind == "protection") & d.approved.is_(True)),
        ):
            query: Any = (
                select(
                    model.block_time, model.block_number, model.log_index, R.child_id, R.request_id
                )
                .join(R, R.request_id == model.request_id)
                .where(among(session, R.child_id, part), condition)
            )
            if start is not None:
                query = query.where(
                    model.block_time >= start, R.block_time >= start - REQUEST_LIFETIME
                )
            for time, block, index, child_id, request_id in session.execute(query):
                items.append((int(time), block, index, child_id, request_id, weight))
        items.sort()
        for child_id, rows in grouped(items, lambda item: item[3]).items():
            for window in windows(rows, lambda item: item[0], width, subjects[child_id]):
                total = sum(item[5] for item in window)
                if total >= thresholds.interventions:
                    overrides = sum(1 for item in window if item[5] == OVERRIDE_WEIGHT)
                    evidence = Finding(
                        total,
                        {item[4] for item in window},
                        {child_id},
                        {
                            "at": window[-1][0],
                            "overrides": overrides,
                            "co_approvals": len(window) - overrides,
                        },
                    )
                    add(found, child_id, evidence)
    return found
