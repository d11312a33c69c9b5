"""Who is linked to whom, and the people behind the risk flags.

Links are drawn from the event index: a companion "travelled-with" a child (from the
crossing requests) and a guardian is "guardian-of" a child (from the guardian changes).
People are keyed by their document commitment, so one who is both a guardian and a
companion is one node; names come from the sealed records.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_client.cards import format_card
from ledger_client.errors import InputError
from ledger_client.identity import document_commitment
from ledger_client.indexer.tables import ChainGuardianChange, ChainRequest
from ledger_client.risk.flags import FlagView, list_flags
from ledger_client.services.audit import Actor
from ledger_client.services.children import child_by_card, child_data, guardian_payload
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import open_companion
from ledger_client.services.investigation_model import (
    Case,
    LinkEdge,
    LinkGraph,
    LinkNode,
    Person,
    audit_read,
)
from ledger_client.store.models import Child, CrossingRequest, Guardian

MAX_DEPTH: Final = 3
MAX_NODES: Final = 200
_CHILD, _PERSON = "child:", "person:"
_UNKNOWN = "(no record in the store)"


def links(
    tutela: Tutela,
    actor: Actor,
    case: Case,
    *,
    card: str | None = None,
    companion_document: str | None = None,
    guardian_document: str | None = None,
    depth: int = 2,
    max_nodes: int = 60,
) -> LinkGraph:
    """The children, companions and guardians around one child or person, breadth-first.

    Writes the audit entry "investigate-links" (subject: the case number).

    Raises:
        InputError: not exactly one of card, companion document and guardian document, a
            malformed one, a depth outside 1 to 3 or a node cap outside 2 to 200.
        NotFoundError: no child has this card.
    """
    given = {
        name: value.strip()
        for name, value in (
            ("card", card),
            ("companion_document", companion_document),
            ("guardian_document", guardian_document),
        )
        if isinstance(value, str) and value.strip()
    }
    if len(given) != 1:
        raise InputError("give exactly one of a card, a companion's or a guardian's document")
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"the depth of a link picture is 1 to {MAX_DEPTH}")
    if not 2 <= max_nodes <= MAX_NODES:
        raise InputError(f"a link picture has 2 to {MAX_NODES} people and children")
    ((criterion, value),) = given.items()
    person = (
        None
        if criterion == "card"
        else _PERSON + "0x" + document_commitment(tutela.commitment_key, value).hex()
    )
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        centre = person or _CHILD + child_by_card(session, value).child_id
        order, edges = _walk(session, centre, depth, max_nodes)
        nodes = _nodes(session, tutela, order, edges)
        audit_read(
            session,
            actor,
            "investigate-links",
            case.number,
            {"case": case.number, "criteria": [criterion]},
            private={"reason": case.reason, "criteria": given},
            master_key=tutela.master_key,
        )
    return LinkGraph(
        centre=centre,
        nodes=tuple(nodes),
        edges=tuple(
            LinkEdge(source, target, kind, tuple(sorted(crossings)))
            for (source, target, kind), crossings in edges.items()
        ),
    )


Edges = dict[tuple[str, str, str], set[int]]


def _walk(session: Session, centre: str, depth: int, max_nodes: int) -> tuple[list[str], Edges]:
    order, level = [centre], {centre: 0}
    edges: Edges = {}
    queue = deque([centre])
    while queue:
        key = queue.popleft()
        if level[key] >= depth:
            continue
        for neighbour, kind, crossings in _neighbours(session, key):
            if neighbour not in level:
                if len(order) >= max_nodes:
                    continue
                level[neighbour] = level[key] + 1
                order.append(neighbour)
                queue.append(neighbour)
            # Edges run from the adult to the child, whichever side the walk came from.
            source, target = (key, neighbour) if key.startswith(_PERSON) else (neighbour, key)
            edges.setdefault((source, target, kind), set()).update(crossings)
    return order, edges


def _neighbours(session: Session, key: str) -> list[tuple[str, str, list[int]]]:
    requests, changes = ChainRequest.__table__, ChainGuardianChange.__table__
    travelled: dict[str, list[int]] = defaultdict(list)
    guarded: set[str] = set()
    if key.startswith(_CHILD):
        child_id = key.removeprefix(_CHILD)
        for commitment, request_id in session.execute(
            select(requests.c.companion_commitment, requests.c.request_id).where(
                requests.c.child_id == child_id
            )
        ):
            travelled[_PERSON + commitment].append(request_id)
        guarded = {
            _PERSON + commitment
            for commitment in session.scalars(
                select(changes.c.document_commitment).where(
                    changes.c.child_id == child_id, changes.c.change == "added"
                )
            )
            if commitment is not None
        }
    else:
        commitment = key.removeprefix(_PERSON)
        for child_id, request_id in session.execute(
            select(requests.c.child_id, requests.c.request_id).where(
                requests.c.companion_commitment == commitment
            )
        ):
            travelled[_CHILD + child_id].append(request_id)
        guarded = {
            _CHILD + child_id
            for child_id in session.scalars(
                select(changes.c.child_id).where(
                    changes.c.document_commitment == commitment, changes.c.change == "added"
                )
            )
        }
    found: list[tuple[str, str, list[int]]] = [
        (other, "guardian-of", []) for other in sorted(guarded)
    ]
    found += [(other, "travelled-with", ids) for other, ids in sorted(travelled.items())]
    return found


def _nodes(session: Session, tutela: Tutela, order: list[str], edges: Edges) -> list[LinkNode]:
    child_ids = [k.removeprefix(_CHILD) for k in order if k.startswith(_CHILD)]
    commitments = [k.removeprefix(_PERSON) for k in order if k.startswith(_PERSON)]
    children = _children(session, tutela, child_ids)
    people = _people_names(session, tutela, commitments)
    guardians = {source for source, _, kind in edges if kind == "guardian-of"}
    guardians |= set(
        _PERSON + str(c)
        for c in session.scalars(
            select(ChainGuardianChange.document_commitment).where(
                ChainGuardianChange.document_commitment.in_(commitments)
            )
        )
    )
    flagged = _flagged(session)
    nodes = []
    for key in order:
        if key.startswith(_CHILD):
            name, card = children.get(key.removeprefix(_CHILD), (_UNKNOWN, None))
            nodes.append(LinkNode(key, "child", name, card, flagged(child_id=key[len(_CHILD) :])))
        else:
            commitment = key.removeprefix(_PERSON)
            kind = "guardian" if key in guardians else "companion"
            label = people.get(commitment, (_UNKNOWN, None))[0]
            nodes.append(LinkNode(key, kind, label, None, flagged(subject=commitment)))
    return nodes


def _children(
    session: Session, tutela: Tutela, child_ids: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """Names and cards of these child records, from their sealed rows."""
    found: dict[str, tuple[str, str]] = {}
    for child in session.scalars(select(Child).where(Child.child_id.in_(sorted(set(child_ids))))):
        data = child_data(tutela, child)
        name = f"{data['given_name']} {data['family_name']}"
        found[child.child_id] = (name, format_card(child.card_number))
    return found


def _people_names(
    session: Session, tutela: Tutela, commitments: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """A name and document for each document commitment: a guardian's, else a companion's."""
    wanted = sorted(set(commitments))
    if not wanted:
        return {}
    found: dict[str, tuple[str, str]] = {}
    first_guardians = (
        select(func.min(Guardian.id))
        .where(Guardian.document_commitment.in_(wanted))
        .group_by(Guardian.document_commitment)
    )
    for guardian in session.scalars(select(Guardian).where(Guardian.id.in_(first_guardians))):
        payload = guardian_payload(tutela, guardian)
        found[guardian.document_commitment] = (str(payload["name"]), str(payload["document"]))
    missing = [c for c in wanted if c not in found]
    if missing:
        first_requests = (
            select(func.min(CrossingRequest.id))
            .where(CrossingRequest.companion_commitment.in_(missing))
            .group_by(CrossingRequest.companion_commitment)
        )
        for stored in session.scalars(
            select(CrossingRequest).where(CrossingRequest.id.in_(first_requests))
        ):
            companion = open_companion(tutela, stored)
            found[stored.companion_commitment] = (companion["name"], companion["document"])
    return found


def _flagged(session: Session) -> Callable[..., bool]:
    def flagged(**about: str) -> bool:
        return bool(list_flags(session, open_only=True, limit=1, **about))

    return flagged


def flags_with_people(
    tutela: Tutela, actor: Actor, *, open_only: bool = False, child_id: str | None = None
) -> list[tuple[FlagView, tuple[Person, ...]]]:
    """The risk flags, each with the people it is about, named from the sealed records.

    Writes the audit entry "investigate-flags" (subject "flags").
    """
    with tutela.database.transaction() as session:
        flags = list_flags(session, open_only=open_only, child_id=child_id)
        found = [(flag, tuple(_flag_people(session, tutela, flag))) for flag in flags]
        criteria = [name for name, on in (("open", open_only), ("child", child_id)) if on]
        audit_read(
            session,
            actor,
            "investigate-flags",
            "flags",
            {"criteria": criteria, "flags": len(found)},
        )
    return found


def _flag_people(session: Session, tutela: Tutela, flag: FlagView) -> list[Person]:
    people: list[Person] = []
    if flag.subject_kind == "companion":
        stored = session.scalars(
            select(CrossingRequest)
            .where(
                CrossingRequest.companion_commitment == flag.subject,
                CrossingRequest.request_id.in_(list(flag.crossings)),
            )
            .limit(1)
        ).first()
        if stored is not None:
            companion = open_companion(tutela, stored)
            people.append(Person("companion", companion["name"], companion["document"], None))
        else:
            name, document = _people_names(session, tutela, [flag.subject]).get(
                flag.subject, (_UNKNOWN, "")
            )
            people.append(Person("companion", name, document or None, None))
    elif flag.subject_kind == "guardian":
        name, document = _people_names(session, tutela, [flag.subject]).get(
            flag.subject, (_UNKNOWN, "")
        )
        people.append(Person("guardian", name, document or None, None))
    child_ids = list(flag.children)
    if flag.subject_kind == "child" and flag.subject not in child_ids:
        child_ids.insert(0, flag.subject)
    children = _children(session, tutela, child_ids)
    for child_id in child_ids:
        name, card = children.get(child_id, (_UNKNOWN, ""))
        people.append(Person("child", name, None, card or None))
    return people
