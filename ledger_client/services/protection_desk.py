"""What the child-protection desk reads: the requests the family rule holds, and one request's
facts for an officer's co-approval, denial or court-ordered override.

The chain says where a request stands (status, flags); the event index says who decided what
and when; the store holds the personal data (the child's and the companion's names), sealed.
Every read here shows personal data to staff: the caller records it in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ledger_client.contracts.types import Direction, RequestStatus
from ledger_client.errors import NotFoundError
from ledger_client.indexer.queries import CrossingRecord, crossing
from ledger_client.indexer.tables import ChainDecision, ChainRequest
from ledger_client.services.children import show_child
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import companion_of, parse_request_id, show_crossing
from ledger_client.store.models import CrossingRequest
from ledger_client.store.times import as_utc

# A court may lift a denial as well as stand in for absent guardians (see the contract).
_OVERRIDABLE = frozenset({str(RequestStatus.PENDING), str(RequestStatus.DENIED)})


@dataclass(frozen=True)
class GuardianDecisionSeen:
    """One guardian's decision on a request, as the index holds it."""

    guardian_name: str  # empty when the decider is no longer a guardian of the child
    approved: bool
    counted: bool  # false when the family rule set the approval aside
    at: str  # ISO 8601, UTC: the block's time


@dataclass(frozen=True)
class ProtectionCase:
    """A crossing request as a child-protection officer sees it before deciding."""

    request: int
    card: str
    child_name: str
    direction: str
    border_point: str
    companion_name: str
    companion_document: str
    companion_is_guardian: bool
    requested_at: str  # ISO 8601, UTC
    expires_at: str  # ISO 8601, UTC
    seconds_left: int  # 0 once expired
    status: str
    family_rule_applied: bool
    protection_decided: bool
    protection_approved: bool | None  # None until the desk has decided
    guardian_decisions: tuple[GuardianDecisionSeen, ...]

    @property
    def decidable(self) -> bool:
        """Whether the desk may still co-approve or deny (the contract has the last word)."""
        return (
            self.direction == str(Direction.EXIT)
            and self.status == str(RequestStatus.PENDING)
            and not self.protection_decided
        )

    @property
    def overridable(self) -> bool:
        """Whether a court order may still override the request."""
        return self.direction == str(Direction.EXIT) and self.status in _OVERRIDABLE


def protection_queue(tutela: Tutela) -> list[ProtectionCase]:
    """The requests the family rule holds, newest first.

    Held means: an exit still pending and not expired, where a guardian travelling with the
    child approved (the approval was set aside), and the desk has not decided yet.
    """
    tutela.refresh_index()
    now = tutela.read_time()
    set_aside = exists().where(
        ChainDecision.request_id == ChainRequest.request_id,
        ChainDecision.kind == "guardian",
        ChainDecision.counted.is_(False),
    )
    decided_here = exists().where(
        ChainDecision.request_id == ChainRequest.request_id,
        ChainDecision.kind == "protection",
    )
    with tutela.database.reading() as session:
        held = session.scalars(
            select(ChainRequest.request_id)
            .where(
                ChainRequest.status == str(RequestStatus.PENDING),
                ChainRequest.direction == str(Direction.EXIT),
                ChainRequest.expires_at >= now,
                set_aside,
                ~decided_here,
            )
            .order_by(ChainRequest.request_id.desc())
        ).all()
        records = [crossing(session, request_id, now=now) for request_id in held]
    cases = [_case(tutela, record.request, record, now) for record in records if record]
    # The chain is the authority: the index may be a block behind it.
    return [case for case in cases if case.decidable]


def protection_case(tutela: Tutela, request_text: str | int) -> ProtectionCase:
    """One request with its facts, its guardians' decisions and what the desk may still do.

    Raises:
        InputError: not a request number.
        NotFoundError: the request is unknown to this registry.
    """
    request_id = parse_request_id(str(request_text))
    tutela.refresh_index()
    now = tutela.read_time()
    with tutela.database.reading() as session:
        record = crossing(session, request_id, now=now)
    return _case(tutela, request_id, record, now)


def _case(
    tutela: Tutela, request_id: int, record: CrossingRecord | None, now: int
) -> ProtectionCase:
    state = show_crossing(tutela, request_id)
    with tutela.database.reading() as session:
        requested_at = _requested_at(session, request_id)
    child = show_child(tutela, state.card)
    names = {g.address.lower(): g.name for g in child.guardians}
    companion = companion_of(tutela, request_id)
    expires_at = datetime.fromisoformat(state.expires_at)
    decisions = record.decisions if record is not None else ()
    protection = next((d for d in decisions if d.kind == "protection"), None)
    return ProtectionCase(
        request=request_id,
        card=state.card,
        child_name=f"{child.given_name} {child.family_name}",
        direction=state.direction,
        border_point=state.border_point,
        companion_name=companion["name"],
        companion_document=companion["document"],
        companion_is_guardian=state.companion_is_guardian,
        requested_at=requested_at,
        expires_at=state.expires_at,
        seconds_left=max(0, int(expires_at.timestamp()) - now),
        status=state.status,
        family_rule_applied=state.family_rule_applied,
        protection_decided=state.protection_decided,
        protection_approved=protection.approved if protection is not None else None,
        guardian_decisions=tuple(
            GuardianDecisionSeen(
                guardian_name=names.get(d.decider.lower(), ""),
                approved=d.approved,
                counted=d.counted,
                at=d.at.time.isoformat(),
            )
            for d in decisions
            if d.kind == "guardian"
        ),
    )


def _requested_at(session: Session, request_id: int) -> str:
    stored = session.scalar(select(CrossingRequest).where(CrossingRequest.request_id == request_id))
    if stored is None:
        raise NotFoundError(f"there is no crossing request {request_id}")
    return as_utc(stored.requested_at).isoformat()
