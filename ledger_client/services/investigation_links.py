"""Who is linked to whom, and the people behind the risk flags.

Links are drawn from the event index: a companion "travelled-with" a child (from the
crossing requests) and a guardian is "guardian-of" a child (from the guardian changes).
People are keyed by their document commitment, so one who is both a guardian and a
companion is one node; names come from the sealed records.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_client.cards import format_card
from ledger_client.errors import InputError, NotFoundError
from ledger_client.identity import document_commitment
from ledger_client.indexer.tables import ChainGuardianChange, ChainRequest
from ledger_client.risk.flags import FlagView, get_flag, list_flags
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
_PERSON_KEY: Final = re.compile(r"person:0x[0-9a-fA-F]{64}")


def links(
    tutela: Tutela,
    actor: Actor,
    case: Case,
    *,
    card: str | None = None,
    companion_document: str | None = None,
    guardian_document: str | None = None,
    person: str | None = None,
    depth: int = 2,
    max_nodes: int = 60,
) -> LinkGraph:
    """The children, companions and guardians around one child or person, breadth-first.

    ``person`` is an adult's node key as a graph carries it (``person:<commitment>``), so
    that a picture can lead to the links around any adult in it: the commitment is opaque
    and already on the chain, unlike the document it was made from.

    Writes the audit entry "investigate-links" (subject: the case number).

    Raises:
        InputError: not exactly one of card, companion document, guardian document and
            person, a malformed one, a depth outside 1 to 3 or a node cap outside 2 to 200.
        NotFoundError: no child has this card, or no request nor guardian on the ledger
            has this person's commitment.
    """
    given = {
        name: value.strip()
        for name, value in (
            ("card", card),
            ("companion_document", companion_document),
            ("guardian_document", guardian_document),
            ("person", person),
        )
        if isinstance(value, str) and value.strip()
    }
    if len(given) != 1:
        raise InputError(
            "give exactly one of a card, a companion's or a guardian's document, or a person"
        )
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"the depth of a link picture is 1 to {MAX_DEPTH}")
    if not 2 <= max_nodes <= MAX_NODES:
        raise InputError(f"a link picture has 2 to {MAX_NODES} people and children")
    ((criterion, value),) = given.items()
    if criterion == "person":
        adult: str | None = _person_key(value)
    elif criterion == "card":
        adult = None
    else:
        adult = _PERSON + "0x" + document_commitment(tutela.commitment_key, value).hex()
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        if criterion == "person" and adult is not None:
            _known_person(session, adult)
        centre = adult or _CHILD + child_by_card(session, value).child_id
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


def _person_key(value: str) -> str:
    """A person's node key, in the one spelling the index holds (lower-case hex).

    Raises:
        InputError: not ``person:0x`` and 64 hexadecimal digits.
    """
    if not _PERSON_KEY.fullmatch(value):
        raise InputError("a person is given as person:0x and 64 hexadecimal digits")
    return value.lower()


def _known_person(session: Session, key: str) -> None:
    """Raises NotFoundError unless a request or a guardian on the ledger has this commitment:
    a made-up key is refused like an unknown card, not drawn as a lone stranger."""
    commitment = key.removeprefix(_PERSON)
    requests, changes = ChainRequest.__table__, ChainGuardianChange.__table__
    seen = session.scalar(
        select(requests.c.request_id).where(requests.c.companion_commitment == commitment).limit(1)
    )
    if seen is None:
        seen = session.scalar(
            select(changes.c.child_id).where(changes.c.document_commitment == commitment).limit(1)
        )
    if seen is None:
        raise NotFoundError("no crossing request nor guardian on the ledger has this person")


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
    # The same two look-ups from either end of a link: a child's companions and guardians,
    # or an adult's children (as companion and as guardian).
    if key.startswith(_CHILD):
        mine, theirs = key.removeprefix(_CHILD), _PERSON
        travelled_by, travelled_to = requests.c.child_id, requests.c.companion_commitment
        guarded_by, guarded_to = changes.c.child_id, changes.c.document_commitment
    else:
        mine, theirs = key.removeprefix(_PERSON), _CHILD
        travelled_by, travelled_to = requests.c.companion_commitment, requests.c.child_id
        guarded_by, guarded_to = changes.c.document_commitment, changes.c.child_id
    travelled: dict[str, list[int]] = defaultdict(list)
    for other, request_id in session.execute(
        select(travelled_to, requests.c.request_id).where(travelled_by == mine)
    ):
        travelled[theirs + other].append(request_id)
    guarded = {
        theirs + other
        for other in session.scalars(
            select(guarded_to).where(guarded_by == mine, changes.c.change == "added")
        )
        # A guardian change may carry no document commitment: no adult to link then.
        if other is not None
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


def flag_with_people(
    tutela: Tutela, actor: Actor, flag_id: int
) -> tuple[FlagView, tuple[Person, ...]]:
    """One risk flag with the people it is about, named from the sealed records; each child
    carries the flag's crossings that were theirs, so each crossing leads to its timeline.

    Writes the audit entry "investigate-flag" (subject ``flag:<id>``, the id in the detail).

    Raises:
        NotFoundError: no flag has this id; nothing is audited then.
    """
    with tutela.database.transaction() as session:
        flag = get_flag(session, flag_id)
        people = tuple(_flag_people(session, tutela, flag))
        audit_read(session, actor, "investigate-flag", f"flag:{flag.id}", {"flag": flag.id})
    return flag, people


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
    crossings = _crossings_by_child(session, flag.crossings)
    # A crossing's child is named even if the engine left it out of the flag's children.
    child_ids += [child_id for child_id in crossings if child_id not in child_ids]
    children = _children(session, tutela, child_ids)
    for child_id in child_ids:
        name, card = children.get(child_id, (_UNKNOWN, ""))
        people.append(Person("child", name, None, card or None, tuple(crossings.get(child_id, ()))))
    if flag.subject_kind == "child":
        # The adults who travelled with the child on the flagged crossings (a new guardian
        # who is also the companion, the stranger after a denial) are whom it is about too.
        people += _companions_of(session, tutela, flag.crossings)
    return people


def _companions_of(session: Session, tutela: Tutela, request_ids: Iterable[int]) -> list[Person]:
    """Each companion of these requests once, with the requests they travelled on."""
    wanted = sorted(set(request_ids))
    if not wanted:
        return []
    by_companion: dict[str, list[CrossingRequest]] = {}
    for stored in session.scalars(
        select(CrossingRequest)
        .where(CrossingRequest.request_id.in_(wanted))
        .order_by(CrossingRequest.request_id)
    ):
        by_companion.setdefault(stored.companion_commitment, []).append(stored)
    people = []
    for rows in by_companion.values():
        companion = open_companion(tutela, rows[0])
        travelled = tuple(int(row.request_id) for row in rows if row.request_id is not None)
        people.append(
            Person("companion", companion["name"], companion["document"], None, travelled)
        )
    return people


def _crossings_by_child(session: Session, request_ids: Iterable[int]) -> dict[str, list[int]]:
    """These requests' ids by the child record each was made for, in the order given."""
    wanted = list(request_ids)
    if not wanted:
        return {}
    requests = ChainRequest.__table__
    child_of: dict[int, str] = {
        int(request_id): str(child_id)
        for request_id, child_id in session.execute(
            select(requests.c.request_id, requests.c.child_id).where(
                requests.c.request_id.in_(sorted(set(wanted)))
            )
        )
    }
    found: dict[str, list[int]] = {}
    for request_id in wanted:
        if request_id in child_of:
            found.setdefault(child_of[request_id], []).append(request_id)
    return found
