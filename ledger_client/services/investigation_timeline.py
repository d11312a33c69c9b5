"""A child's timeline: everything the ledger recorded about them, each with its proof.

Read from the event index across all of the child's records (a corrected record and the
ones it replaced), labelled with names from the store: staff by address, guardians from
their sealed rows, companions from the sealed requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ledger_client.cards import format_card
from ledger_client.contracts.types import RevocationReason
from ledger_client.indexer.tables import (
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainPolicyChange,
    ChainRequest,
    ChainRevocation,
    ChainSupersession,
)
from ledger_client.risk.flags import FlagView, list_flags
from ledger_client.services.audit import Actor
from ledger_client.services.children import child_by_card, child_data, guardian_payload
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import open_companion
from ledger_client.services.investigation_model import (
    Case,
    Timeline,
    TimelineItem,
    at,
    audit_read,
    guardian_documents_at,
    proof_of,
    staff_names,
)
from ledger_client.store.models import Child, CrossingRequest, Guardian, StaffMember


def timeline(tutela: Tutela, actor: Actor, case: Case, card: str) -> Timeline:
    """The child's timeline, oldest first, with the open and reviewed risk flags.

    Writes the audit entry "investigate-timeline" (subject: the case number).

    Raises:
        InputError: a malformed card number.
        NotFoundError: no child has this card.
    """
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        current = child_by_card(session, card)
        records = _records(session, current)
        data = child_data(tutela, current)
        items = _items(session, tutela, records)
        flags = _flags(session, [r.child_id for r in records])
        audit_read(
            session,
            actor,
            "investigate-timeline",
            case.number,
            {"case": case.number, "criteria": ["card"]},
            private={"reason": case.reason, "criteria": {"card": current.card_number}},
            master_key=tutela.master_key,
        )
    return Timeline(
        child_id=current.child_id,
        card_number=format_card(current.card_number),
        child_name=f"{data['given_name']} {data['family_name']}",
        birth_date=str(data["birth_date"]),
        items=tuple(items),
        flags=tuple(flags),
    )


def _records(session: Session, current: Child) -> list[Child]:
    """Every record of the child, oldest first: the ones corrected, then the current one."""
    chain = [current]
    while True:
        earlier = session.scalar(select(Child).where(Child.successor_id == chain[0].child_id))
        if earlier is None:
            return chain
        chain.insert(0, earlier)


def _rows(session: Session, model: Any, column: str, values: Iterable[Any]) -> list[Any]:
    wanted = sorted(set(values))
    if not wanted:
        return []
    table: Table = model.__table__
    return list(session.execute(select(table).where(table.c[column].in_(wanted))))


def _items(session: Session, tutela: Tutela, records: list[Child]) -> list[TimelineItem]:
    ids = [r.child_id for r in records]
    cards = {r.child_id: format_card(r.card_number) for r in records}
    registered = _rows(session, ChainChild, "child_id", ids)
    changes = sorted(
        _rows(session, ChainGuardianChange, "child_id", ids),
        key=lambda row: (row.block_number, row.log_index),
    )
    requests = _rows(session, ChainRequest, "child_id", ids)
    request_ids = [r.request_id for r in requests]
    decisions = _rows(session, ChainDecision, "request_id", request_ids)
    overrides = _rows(session, ChainOverride, "request_id", request_ids)
    outcomes = _rows(session, ChainOutcome, "request_id", request_ids)
    guardians = _guardian_names(session, tutela, ids)
    companions = _companion_names(session, tutela, request_ids)
    staff = staff_names(
        session,
        [r.officer for r in requests]
        + [d.decider for d in decisions if d.kind == "protection"]
        + [o.officer for o in overrides]
        + [o.officer for o in outcomes],
    )
    enrolled_by = staff_names_by_id(session, [r.enrolled_by for r in records])
    store_records = {r.child_id: r for r in records}

    def person(address: str) -> str:
        return staff.get(address) or guardians.get(address) or address

    items: list[tuple[int, int, TimelineItem]] = []

    def add(
        row: Any,
        kind: str,
        summary: str,
        who: str,
        request_id: int | None = None,
        **facts: str | int | bool,
    ) -> None:
        if request_id is not None:
            facts["request_id"] = request_id
        item = TimelineItem(
            at(row.block_time), kind, summary, who, request_id, proof_of(row), facts
        )
        items.append((row.block_number, row.log_index, item))

    # The facts of each kind (besides request_id, on every item about a request):
    # enrolled: card, policy; guardian-added: guardian, at_enrolment; guardian-removed:
    # guardian; policy-changed: policy; revoked: reason (a RevocationReason name in small
    # letters, else "code N"); superseded: successor (a card, else the record id);
    # requested: direction, border_point, companion ("" when unknown), companion_is_guardian;
    # guardian-decided: guardian, approved, set_aside; protection-decided: officer, approved;
    # overridden: court_order_hash; recorded: outcome.

    enrolment_txs = {row.child_id: row.tx_hash for row in registered}
    for row in registered:
        registrar = enrolled_by.get(store_records[row.child_id].enrolled_by, "the registry")
        add(
            row,
            "enrolled",
            f"record registered with card {cards[row.child_id]}, policy {row.registered_policy}",
            registrar,
            card=cards[row.child_id],
            policy=row.registered_policy,
        )
    for row in changes:
        name = guardians.get(row.guardian, row.guardian)
        if row.change == "added":
            initial = enrolment_txs.get(row.child_id) == row.tx_hash
            when = " at enrolment" if initial else ""
            add(
                row,
                "guardian-added",
                f"guardian {name} added{when}",
                name,
                guardian=name,
                at_enrolment=initial,
            )
        else:
            add(row, "guardian-removed", f"guardian {name} removed", name, guardian=name)
    for row in _rows(session, ChainPolicyChange, "child_id", ids):
        summary = f"policy changed to {row.policy}"
        add(row, "policy-changed", summary, "the registry", policy=row.policy)
    for row in _rows(session, ChainRevocation, "child_id", ids):
        reason = _reason_key(row.reason_code)
        summary = f"record revoked ({_reason(row.reason_code)})"
        add(row, "revoked", summary, "the registry", reason=reason)
    for row in _rows(session, ChainSupersession, "child_id", ids):
        successor = cards.get(row.successor_id, row.successor_id)
        summary = f"record corrected: replaced by card {successor}"
        add(row, "superseded", summary, "the registry", successor=successor)
    for row in requests:
        companion = companions.get(row.request_id, "")
        is_guardian = row.companion_commitment in guardian_documents_at(
            [c for c in changes if c.child_id == row.child_id], row
        )
        relation = "one of the child's guardians" if is_guardian else "not a guardian"
        add(
            row,
            "requested",
            f"{row.direction} request {row.request_id} at {row.border_point}, "
            f"travelling with {companion or 'an unknown companion'} ({relation})",
            person(row.officer),
            row.request_id,
            direction=row.direction,
            border_point=row.border_point,
            companion=companion,
            companion_is_guardian=is_guardian,
        )
    for row in decisions:
        verdict = "approved" if row.approved else "denied"
        who = person(row.decider)
        if row.kind == "guardian":
            # counted is False when the family rule set the decision aside (None: not known)
            set_aside = row.counted is False
            aside = " (not counted: the family rule)" if set_aside else ""
            summary = f"guardian {who} {verdict} request {row.request_id}{aside}"
            add(
                row,
                "guardian-decided",
                summary,
                who,
                row.request_id,
                guardian=who,
                approved=bool(row.approved),
                set_aside=set_aside,
            )
        else:
            summary = f"child protection ({who}) {verdict} request {row.request_id}"
            add(
                row,
                "protection-decided",
                summary,
                who,
                row.request_id,
                officer=who,
                approved=bool(row.approved),
            )
    for row in overrides:
        who = person(row.officer)
        summary = f"request {row.request_id} overridden by court order {row.court_order_hash}"
        add(
            row,
            "overridden",
            summary,
            who,
            row.request_id,
            court_order_hash=row.court_order_hash,
        )
    for row in outcomes:
        words = "crossed" if row.outcome == "crossed" else "turned back"
        who = person(row.officer)
        summary = f"request {row.request_id}: {words}"
        add(row, "recorded", summary, who, row.request_id, outcome=row.outcome)
    return [item for _, _, item in sorted(items, key=lambda entry: entry[:2])]


def _guardian_names(session: Session, tutela: Tutela, child_ids: list[str]) -> dict[str, str]:
    """Guardians' names by address, from their sealed rows on these records."""
    names: dict[str, str] = {}
    for guardian in session.scalars(select(Guardian).where(Guardian.child_id.in_(child_ids))):
        names.setdefault(guardian.address, str(guardian_payload(tutela, guardian)["name"]))
    return names


def _companion_names(session: Session, tutela: Tutela, request_ids: list[int]) -> dict[int, str]:
    if not request_ids:
        return {}
    stored = session.scalars(
        select(CrossingRequest).where(CrossingRequest.request_id.in_(request_ids))
    )
    return {s.request_id: open_companion(tutela, s)["name"] for s in stored if s.request_id}


def staff_names_by_id(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    rows = session.execute(
        select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(wanted))
    )
    return {member_id: name for member_id, name in rows}


def _reason(code: int) -> str:
    try:
        return "reason: " + RevocationReason(code).name.lower().replace("_", " ")
    except ValueError:
        return f"reason code {code}"


def _reason_key(code: int) -> str:
    """A revocation reason as the portal looks it up: ``court_order``, else ``code N``."""
    try:
        return RevocationReason(code).name.lower()
    except ValueError:
        return f"code {code}"


def _flags(session: Session, child_ids: list[str]) -> list[FlagView]:
    """The risk flags about any of the child's records, highest score first."""
    found: dict[int, FlagView] = {}
    for child_id in child_ids:
        for flag in list_flags(session, child_id=child_id):
            found.setdefault(flag.id, flag)
    return sorted(found.values(), key=lambda flag: (-flag.score, flag.id))
