"""The investigators' workbench: search crossings, trace a child, check facts, draw links.

Every function takes the investigator (``actor``) and, for reads of personal data, the
``case``; each call writes one audit entry in the transaction of its read. The parts live in
``investigation_*`` modules; this one searches and re-exports the rest, so callers import
from here alone.

A search runs over the event index (what the chain says) and uses the store's keyed
look-ups (migration 0008) to turn names, birth dates and documents into the opaque ids and
commitments the index holds: personal data is never searched in clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any, Final

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ledger_client.cards import format_card
from ledger_client.errors import InputError, NotFoundError
from ledger_client.identity import (
    birth_date_lookup,
    child_name_lookup,
    companion_name_lookup,
    document_commitment,
    guardian_name_lookup,
)
from ledger_client.indexer.tables import ChainGuardianChange, ChainRequest
from ledger_client.services.audit import Actor
from ledger_client.services.children import child_by_card, child_data, record_chain
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import open_companion
from ledger_client.services.investigation_export import findings_csv
from ledger_client.services.investigation_ledger import check_on_ledger
from ledger_client.services.investigation_links import (
    flag_with_people,
    flags_with_people,
    links,
)
from ledger_client.services.investigation_model import (
    OPEN_STATUSES,
    Case,
    CrossingHit,
    LedgerCheck,
    LedgerProof,
    LinkEdge,
    LinkGraph,
    LinkNode,
    Person,
    SearchQuery,
    SearchResult,
    Timeline,
    TimelineItem,
    at,
    audit_read,
    day_end,
    day_start,
    guardian_changes,
    guardian_documents_at,
    index_now,
    parse_day,
    proof_of,
    status_of,
)
from ledger_client.services.investigation_timeline import timeline
from ledger_client.store.models import Child, CrossingRequest, Guardian

__all__ = [
    "Case",
    "CrossingHit",
    "LedgerCheck",
    "LedgerProof",
    "LinkEdge",
    "LinkGraph",
    "LinkNode",
    "Person",
    "SearchQuery",
    "SearchResult",
    "Timeline",
    "TimelineItem",
    "check_on_ledger",
    "findings_csv",
    "flag_with_people",
    "flags_with_people",
    "links",
    "search",
    "timeline",
]

DEFAULT_LIMIT: Final = 200
MAX_LIMIT: Final = 1000


def search(
    tutela: Tutela, actor: Actor, case: Case, query: SearchQuery, *, limit: int = DEFAULT_LIMIT
) -> SearchResult:
    """The crossing requests matching every criterion given, newest first.

    Each hit opens the child's and the companion's sealed records; the one audit entry
    "investigate-search" (subject: the case number) records who searched, for which case,
    and by which criteria, in the same transaction.

    Raises:
        InputError: no criterion, a malformed one (see :meth:`SearchQuery.validated`), or a
            limit outside 1 to 1000. Nothing is written then.
    """
    checked = query.validated()
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"a search returns 1 to {MAX_LIMIT} crossings")
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        now = index_now(session)
        rows, truncated = _matching(session, tutela, checked, limit, now)
        hits = _hits(session, tutela, rows, now)
        audit_read(
            session,
            actor,
            "investigate-search",
            case.number,
            {"case": case.number, "criteria": checked.criteria()},
            private={
                "reason": case.reason,
                "criteria": {k: v for k, v in asdict(checked).items() if v is not None},
            },
            master_key=tutela.master_key,
        )
    return SearchResult(hits=tuple(hits), truncated=truncated)


def _matching(
    session: Session, tutela: Tutela, query: SearchQuery, limit: int, now: int
) -> tuple[list[Any], bool]:
    """The matching ``chain_requests`` rows (at most ``limit``), and whether more matched."""
    key = tutela.commitment_key
    requests = ChainRequest.__table__
    conditions: list[Any] = []
    children: set[str] | None = None

    def narrow(found: Iterable[str]) -> None:
        nonlocal children
        ids = {str(child_id).lower() for child_id in found}
        children = ids if children is None else children & ids

    if query.card is not None:
        narrow(_records_of_card(session, query.card))
    if query.child_name is not None:
        given, _, family = query.child_name.partition(" ")
        lookup = child_name_lookup(key, given, family)
        named = session.scalars(select(Child.child_id).where(Child.name_lookup == lookup))
        narrow(_whole_records(session, named))
    if query.birth_date is not None:
        lookup = birth_date_lookup(key, parse_day(query.birth_date, "the birth date"))
        born = session.scalars(select(Child.child_id).where(Child.birth_lookup == lookup))
        narrow(_whole_records(session, born))
    guardians = _documents(
        query.guardian_document,
        query.guardian_name,
        lambda name: select(Guardian.document_commitment).where(
            Guardian.name_lookup == guardian_name_lookup(key, name)
        ),
        session,
        tutela,
    )
    if guardians is not None:
        narrow(
            session.scalars(
                select(ChainGuardianChange.child_id).where(
                    ChainGuardianChange.document_commitment.in_(sorted(guardians)),
                    ChainGuardianChange.change == "added",
                )
            )
        )
    companions = _documents(
        query.companion_document,
        query.companion_name,
        lambda name: select(CrossingRequest.companion_commitment).where(
            CrossingRequest.companion_name_lookup == companion_name_lookup(key, name)
        ),
        session,
        tutela,
    )
    if companions is not None:
        conditions.append(requests.c.companion_commitment.in_(sorted(companions)))
    if children is not None:
        conditions.append(requests.c.child_id.in_(sorted(children)))
    if (children is not None and not children) or (companions is not None and not companions):
        return [], False
    if query.border_point is not None:
        conditions.append(requests.c.border_point == query.border_point)
    if query.date_from is not None:
        conditions.append(requests.c.block_time >= day_start(query.date_from))
    if query.date_to is not None:
        conditions.append(requests.c.block_time < day_end(query.date_to))
    if query.outcome is not None:
        conditions.append(_outcome_condition(requests, query.outcome, now))
    statement = (
        select(requests)
        .where(*conditions)
        # Block time never falls as block numbers rise, so this is the chain's order too;
        # led by block_time, PostgreSQL reads a date range from its index instead of
        # walking the block-number index back and dropping most rows (0.25 ms, not 677).
        .order_by(
            requests.c.block_time.desc(),
            requests.c.block_number.desc(),
            requests.c.log_index.desc(),
        )
        .limit(limit + 1)
    )
    rows = list(session.execute(statement))
    return rows[:limit], len(rows) > limit


def _records_of_card(session: Session, card: str) -> list[str]:
    """Every record of the child holding ``card``: a card leads to corrections and back."""
    try:
        current = child_by_card(session, card)
    except NotFoundError:
        return []
    return [record.child_id for record in record_chain(session, current)]


def _whole_records(session: Session, child_ids: Iterable[str]) -> set[str]:
    """These records with the ones they corrected and the ones correcting them: one child's
    crossings span all of its records, whichever record's name or birth date matched."""
    found = set(child_ids)
    frontier = set(found)
    while frontier:
        part = sorted(frontier)
        linked = set(
            session.scalars(
                select(Child.successor_id).where(
                    Child.child_id.in_(part), Child.successor_id.is_not(None)
                )
            )
        )
        linked |= set(session.scalars(select(Child.child_id).where(Child.successor_id.in_(part))))
        frontier = {str(c) for c in linked} - found
        found |= frontier
    return found


def _documents(
    document: str | None,
    name: str | None,
    by_name: Any,
    session: Session,
    tutela: Tutela,
) -> set[str] | None:
    """The document commitments that a document and/or a name designate (None: not asked)."""
    found: set[str] | None = None
    if document is not None:
        found = {"0x" + document_commitment(tutela.commitment_key, document).hex()}
    if name is not None:
        named = set(session.scalars(by_name(name)))
        found = named if found is None else found & named
    return found


def _outcome_condition(requests: Any, outcome: str, now: int) -> Any:
    # "expired" is never stored: like the contract's getRequest, a request still open past
    # its expiry reads as expired, at the index's time.
    if outcome == "expired":
        return and_(requests.c.status.in_(OPEN_STATUSES), requests.c.expires_at < now)
    if outcome in OPEN_STATUSES:
        return and_(requests.c.status == outcome, requests.c.expires_at >= now)
    return requests.c.status == outcome


def _hits(session: Session, tutela: Tutela, rows: list[Any], now: int) -> list[CrossingHit]:
    if not rows:
        return []
    child_ids = sorted({row.child_id for row in rows})
    records = {
        c.child_id: c for c in session.scalars(select(Child).where(Child.child_id.in_(child_ids)))
    }
    names: dict[str, str] = {}
    for child_id, child in records.items():
        data = child_data(tutela, child)
        names[child_id] = f"{data['given_name']} {data['family_name']}"
    stored = {
        s.request_id: s
        for s in session.scalars(
            select(CrossingRequest).where(
                CrossingRequest.request_id.in_([row.request_id for row in rows])
            )
        )
    }
    changes = guardian_changes(session, child_ids)
    hits = []
    for row in rows:
        record = records.get(row.child_id)
        companion = (
            open_companion(tutela, stored[row.request_id])
            if row.request_id in stored
            else {"name": "(not in the store)", "document": ""}
        )
        hits.append(
            CrossingHit(
                request_id=int(row.request_id),
                card_number=format_card(record.card_number) if record else "",
                child_name=names.get(row.child_id, "(not in the store)"),
                companion_name=companion["name"],
                companion_document=companion["document"],
                companion_is_guardian=row.companion_commitment
                in guardian_documents_at(changes[row.child_id], row),
                direction=row.direction,
                border_point=row.border_point,
                requested_at=at(row.block_time),
                status=status_of(row, now),
                proof=proof_of(row),
            )
        )
    return hits
