"""What the investigators' workbench takes and returns, and what its parts share.

Frozen dataclasses only: the portal and the CLI get these, never ORM rows. Every read of
sealed personal data here is covered by one audit entry that names the case it was made for
(:func:`audit_read`), written in the transaction of the read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_client.cards import parse_card
from ledger_client.crypto import MasterKey
from ledger_client.errors import InputError
from ledger_client.identity import normalise_document
from ledger_client.indexer.tables import CHECKPOINTS, ChainGuardianChange
from ledger_client.risk.flags import FlagView
from ledger_client.services.audit import Actor, record_audit
from ledger_client.store.models import StaffMember

CASE_PATTERN: Final = re.compile(r"[A-Za-z0-9/\-._]{1,40}")
MIN_REASON_CHARS: Final = 10
MAX_REASON_CHARS: Final = 500
MAX_CRITERION_CHARS: Final = 200
# The statuses a search may ask for: the request's final status, or "expired" for one left
# open past its expiry (as the contract's getRequest reads it).
OUTCOMES: Final = (
    "crossed",
    "turned-back",
    "denied",
    "expired",
    "pending",
    "approved",
    "overridden",
)
# Statuses that read as "expired" once a request's expiry has passed.
OPEN_STATUSES: Final = ("pending", "approved")
_BORDER_POINT: Final = re.compile(r"[A-Z0-9_\-]{1,16}")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Case:
    """The case an investigator works on, and why; both go into every audit entry."""

    number: str  # 1-40 letters, digits, / - . _
    reason: str  # 10-500 characters

    @classmethod
    def parse(cls, number: str, reason: str) -> Case:
        """Validates a case number and a reason as typed.

        Raises:
            InputError: the number is not 1 to 40 letters, digits, '/', '-', '.' or '_', or
                the reason (trimmed) has fewer than 10 or more than 500 characters or holds a
                control character.
        """
        cleaned = number.strip() if isinstance(number, str) else ""
        if not CASE_PATTERN.fullmatch(cleaned):
            raise InputError(
                "a case number has 1 to 40 letters, digits, '/', '-', '.' or '_' "
                "(for example 2026/0142)"
            )
        text = " ".join(reason.split()) if isinstance(reason, str) else ""
        if not MIN_REASON_CHARS <= len(text) <= MAX_REASON_CHARS:
            raise InputError(
                f"give the reason for this look-up in {MIN_REASON_CHARS} to "
                f"{MAX_REASON_CHARS} characters"
            )
        if any(not char.isprintable() for char in text):
            raise InputError("the reason contains a control character")
        return cls(cleaned, text)


@dataclass(frozen=True)
class SearchQuery:
    """What to search for; the criteria given are combined with AND.

    Build it as typed (empty strings count as not given); :meth:`validated` checks it.
    """

    card: str | None = None
    child_name: str | None = None  # "given family", exact after normalisation
    birth_date: str | None = None  # YYYY-MM-DD
    companion_name: str | None = None
    companion_document: str | None = None
    guardian_name: str | None = None
    guardian_document: str | None = None
    border_point: str | None = None
    date_from: str | None = None  # YYYY-MM-DD inclusive, request time (UTC)
    date_to: str | None = None  # YYYY-MM-DD inclusive
    outcome: str | None = None  # one of OUTCOMES

    def criteria(self) -> list[str]:
        """The names of the criteria given, in field order (what the audit entry lists)."""
        return [f.name for f in fields(self) if _given(getattr(self, f.name))]

    def validated(self) -> SearchQuery:
        """The query with every given criterion tidied, and the others None.

        Raises:
            InputError: no criterion is given, or one is malformed (a card number, a date,
                a document number, a border point code, an unknown outcome, a name longer
                than 200 characters, or a date range that ends before it starts). The
                message names the criterion, never repeats its value.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        given = {k: v.strip() for k, v in values.items() if _given(v)}
        if not given:
            raise InputError(
                "give at least one search criterion (card, name, birth date, companion, "
                "guardian, border point, dates or outcome)"
            )
        for name in ("child_name", "companion_name", "guardian_name"):
            if name in given and len(given[name]) > MAX_CRITERION_CHARS:
                raise InputError(f"{_label(name)} is longer than {MAX_CRITERION_CHARS} characters")
        if "card" in given:
            given["card"] = parse_card(given["card"])
        for name in ("companion_document", "guardian_document"):
            if name in given:
                given[name] = normalise_document(given[name])
        for name in ("birth_date", "date_from", "date_to"):
            if name in given:
                given[name] = parse_day(given[name], _label(name)).isoformat()
        if "date_from" in given and "date_to" in given and given["date_from"] > given["date_to"]:
            raise InputError("the date range ends before it starts")
        if "border_point" in given:
            code = given["border_point"].upper()
            if not _BORDER_POINT.fullmatch(code):
                raise InputError("a border point code has 1 to 16 letters, digits, '-' or '_'")
            given["border_point"] = code
        if "outcome" in given:
            outcome = given["outcome"].lower()
            if outcome not in OUTCOMES:
                raise InputError(f"unknown outcome: choose one of {', '.join(OUTCOMES)}")
            given["outcome"] = outcome
        return SearchQuery(**given)


@dataclass(frozen=True)
class LedgerProof:
    """Where a fact sits on the ledger: its transaction, block and log index."""

    tx_hash: str
    block: int
    log_index: int


@dataclass(frozen=True)
class CrossingHit:
    request_id: int
    card_number: str
    child_name: str
    companion_name: str
    companion_document: str
    # The companion's document was among the child's guardians' when the request was made.
    companion_is_guardian: bool
    direction: str
    border_point: str
    requested_at: datetime
    status: str  # final status or outcome, in words: "crossed", "denied", "expired"...
    proof: LedgerProof  # of the CrossingRequested event


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[CrossingHit, ...]  # newest first
    truncated: bool  # more than the limit matched


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    # "enrolled" | "guardian-added" | "guardian-removed" | "policy-changed" | "revoked" |
    # "superseded" | "requested" | "guardian-decided" | "protection-decided" |
    # "overridden" | "recorded"
    kind: str
    summary: str  # plain English: who did what (the CLI, the CSV)
    actor: str  # a staff member's or guardian's name, else the address
    request_id: int | None
    proof: LedgerProof
    # What the summary says, as values, so that the portal can say it in the reader's
    # language; the keys each kind carries are listed in investigation_timeline._items.
    facts: Mapping[str, str | int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    child_id: str  # the current record's
    card_number: str
    child_name: str
    birth_date: str
    items: tuple[TimelineItem, ...]  # oldest first, across the child's corrected records
    flags: tuple[FlagView, ...]  # about any of the child's records, highest score first


@dataclass(frozen=True)
class LedgerCheck:
    confirmed: bool
    block: int | None
    event: str | None
    differences: tuple[str, ...]  # plain English, empty when confirmed


@dataclass(frozen=True)
class LinkNode:
    key: str  # "child:<child id>" or "person:<document commitment>"
    kind: str  # "child" | "companion" | "guardian"
    label: str  # the name from the sealed records
    card_number: str | None
    flagged: bool  # an open risk flag is about this child or person


@dataclass(frozen=True)
class LinkEdge:
    source: str
    target: str
    kind: str  # "travelled-with" | "guardian-of"
    crossings: tuple[int, ...]  # the request ids behind a "travelled-with" edge


@dataclass(frozen=True)
class LinkGraph:
    centre: str
    nodes: tuple[LinkNode, ...]  # the centre first, then breadth-first
    edges: tuple[LinkEdge, ...]


@dataclass(frozen=True)
class Person:
    role: str  # "child" | "companion" | "guardian"
    name: str
    document: str | None
    card_number: str | None
    # A child's crossings among those behind the flag, in the flag's order (oldest first):
    # a flag about a companion spans several children, and each crossing is one child's.
    crossings: tuple[int, ...] = ()


def parse_day(text: str, label: str) -> date:
    """A calendar date written ``YYYY-MM-DD``.

    Raises:
        InputError: anything else; the message names ``label``.
    """
    cleaned = text.strip() if isinstance(text, str) else ""
    if not _ISO_DATE.fullmatch(cleaned):
        raise InputError(f"{label} must be written YYYY-MM-DD")
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise InputError(f"{label} is not a valid calendar date") from None


def day_start(day: str) -> int:
    """Unix seconds at 00:00 UTC of ``day`` (``YYYY-MM-DD``)."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def day_end(day: str) -> int:
    """Unix seconds at 00:00 UTC of the day after ``day``: the exclusive end of ``day``."""
    return day_start(day) + int(timedelta(days=1).total_seconds())


def at(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


def proof_of(row: Any) -> LedgerProof:
    """The proof of an index row (any ``chain_*`` row)."""
    return LedgerProof(tx_hash=row.tx_hash, block=int(row.block_number), log_index=row.log_index)


def staff_names(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """Staff members' names by address (removed members too: what they did stays theirs)."""
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffMember.address, StaffMember.name).where(StaffMember.address.in_(wanted))
    )
    return {address: name for address, name in rows}


def audit_read(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    detail: dict[str, Any],
    *,
    private: dict[str, Any] | None = None,
    master_key: MasterKey | None = None,
) -> None:
    """Records an investigator's read in the caller's transaction.

    ``detail`` holds the case number and the names of the criteria, never their values;
    ``private`` (the case's reason and the values searched for) is sealed with the master key.
    """
    record_audit(session, actor, action, subject, detail, private=private, master_key=master_key)


def index_now(session: Session) -> int:
    """The time of the last indexed block: "now" for what the index shows."""
    found = session.scalar(select(func.max(CHECKPOINTS.c.block_time)))
    return int(found) if found is not None else 0


def status_of(row: Any, now: int) -> str:
    """A request's status in words, "expired" for one left open past its expiry."""
    if row.status in OPEN_STATUSES and now > row.expires_at:
        return "expired"
    return str(row.status)


def guardian_changes(session: Session, child_ids: Iterable[str]) -> dict[str, list[Any]]:
    """The guardian changes of these records, in chain order, by child id."""
    found: dict[str, list[Any]] = defaultdict(list)
    ids = sorted(set(child_ids))
    if not ids:
        return found
    table = ChainGuardianChange.__table__
    statement = (
        select(table)
        .where(table.c.child_id.in_(ids))
        .order_by(table.c.block_number, table.c.log_index)
    )
    for row in session.execute(statement):
        found[row.child_id].append(row)
    return found


def guardian_documents_at(changes: list[Any], request: Any) -> set[str]:
    """The document commitments of the child's guardians just before ``request``'s event."""
    current: dict[str, str] = {}
    position = (request.block_number, request.log_index)
    for change in changes:
        if (change.block_number, change.log_index) >= position:
            break
        if change.change == "added" and change.document_commitment is not None:
            current[change.guardian] = change.document_commitment
        else:
            current.pop(change.guardian, None)
    return set(current.values())


def _given(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _label(name: str) -> str:
    return {
        "card": "the card number",
        "child_name": "the child's name",
        "birth_date": "the birth date",
        "companion_name": "the companion's name",
        "companion_document": "the companion's document",
        "guardian_name": "the guardian's name",
        "guardian_document": "the guardian's document",
        "border_point": "the border point",
        "date_from": "the first date",
        "date_to": "the last date",
        "outcome": "the outcome",
    }.get(name, name)
