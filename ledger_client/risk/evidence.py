"""What the indicators share: a finding and how findings merge, sliding windows, the
subjects to look at, and the guardians of a child at any point of the chain.

A finding is the union of the evidence of every qualifying window (or event pair): merging
two findings of one subject is commutative and associative, so folding new evidence into a
stored flag gives the same flag as computing it from the whole history at once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, any_, literal, select
from sqlalchemy.orm import Session

from ledger_client.indexer.derived import CHUNK
from ledger_client.indexer.tables import ChainGuardianChange

T = TypeVar("T")
Position = tuple[int, int]  # (block number, log index): the chain's order of events
END_OF_CHAIN: Position = (2**62, 0)

# CrossingLedger.MAX_REQUEST_LIFETIME: decisions and overrides come before a request expires,
# at most this long after the request; look-ups of a child's requests by the time of a later
# decision go back this far.
REQUEST_LIFETIME = 7 * 86_400

# For each subject to recompute, the time of its earliest new event: only windows that can
# hold a new event are evaluated. None: evaluate the subject's whole history.
Subjects = Mapping[str, int | None]

Detail = dict[str, int | str]


@dataclass
class Finding:
    """What one indicator found about one subject.

    ``peak`` is the number compared with the threshold, at its highest; ``detail`` describes
    the strongest piece of evidence (the highest peak, then the latest ``at``).
    """

    peak: int
    crossings: set[int] = field(default_factory=set)
    children: set[str] = field(default_factory=set)
    detail: Detail = field(default_factory=dict)

    def rank(self) -> tuple[int, int, str]:
        at = self.detail.get("at", 0)
        return (
            self.peak,
            at if isinstance(at, int) else 0,
            json.dumps(self.detail, sort_keys=True),
        )

    def absorb(self, other: Finding) -> None:
        self.crossings |= other.crossings
        self.children |= other.children
        if other.rank() > self.rank():
            self.peak, self.detail = other.peak, dict(other.detail)


# Subjects in one look-up on PostgreSQL, passed as one array: the whole batch of an update in
# a handful of queries, without the cost of rendering and parsing an IN list of thousands.
ARRAY_PART = 2_000


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def parts(session: Session, values: Collection[T]) -> Iterator[list[T]]:
    """``values`` sorted, in groups of one look-up each (a few hundred on SQLite, whose
    parameters are limited; one array of up to ``ARRAY_PART`` on PostgreSQL)."""
    ordered = sorted(set(values))  # type: ignore[type-var]
    size = ARRAY_PART if _postgres(session) else CHUNK
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``: ``= ANY(:array)`` on PostgreSQL (one parameter, one plan), an
    ``IN`` list elsewhere."""
    if _postgres(session):
        return column == any_(literal(list(values), ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def add(found: dict[str, Finding], subject: str, finding: Finding) -> None:
    if subject in found:
        found[subject].absorb(finding)
    else:
        found[subject] = finding


def since(subjects: Subjects, part: Sequence[str], width: int) -> int | None:
    """The earliest time the look-ups of ``part`` must read from (None: from the start)."""
    starts = [subjects[s] for s in part]
    known = [s for s in starts if s is not None]
    if len(known) < len(starts):
        return None
    return min(known) - width


def ends_from(subjects: Subjects, subject: str) -> int | None:
    return subjects[subject]


def windows(
    items: Sequence[T], time_of: Callable[[T], int], width: int, ends_from: int | None
) -> Iterator[Sequence[T]]:
    """Each window ``[t - width, t]`` ending at an item whose time ``t >= ends_from``.

    ``items`` are in chain order (so in time order). Windows ending earlier were evaluated
    by an earlier run and their evidence is in the stored flag already.
    """
    start = 0
    for end, item in enumerate(items):
        moment = time_of(item)
        while time_of(items[start]) < moment - width:
            start += 1
        if ends_from is None or moment >= ends_from:
            yield items[start : end + 1]


def grouped(rows: Sequence[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    out: dict[str, list[T]] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


class GuardianHistory:
    """Every guardian change of some children, to answer "who were this child's guardians"
    at any position of the chain. A guardian is known by the document commitment they were
    added with; a removal names only the address."""

    def __init__(self, changes: Mapping[str, list[tuple[Position, str, str, str | None]]]):
        self._changes = changes

    @classmethod
    def load(cls, session: Session, child_ids: Collection[str]) -> GuardianHistory:
        changes: dict[str, list[tuple[Position, str, str, str | None]]] = defaultdict(list)
        g = ChainGuardianChange
        for part in parts(session, child_ids):
            query = select(
                g.child_id, g.block_number, g.log_index, g.guardian, g.change, g.document_commitment
            ).where(among(session, g.child_id, part))
            for child_id, block, index, guardian, change, document in session.execute(query):
                changes[child_id].append(((block, index), guardian.lower(), change, document))
        for rows in changes.values():
            rows.sort()
        return cls(changes)

    def documents_at(self, child_id: str, position: Position) -> set[str]:
        """The document commitments of the child's guardians just before ``position``."""
        current: dict[str, str | None] = {}
        for where, guardian, change, document in self._changes.get(child_id, ()):
            if where >= position:
                break
            if change == "added":
                current[guardian] = document
            else:
                current.pop(guardian, None)
        return {document for document in current.values() if document}
