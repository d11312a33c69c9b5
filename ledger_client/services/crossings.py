"""The border desk and the guardians' decisions: request, decide, record, show, history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger_client.cards import format_card
from ledger_client.contracts.typed_data import decision_message
from ledger_client.contracts.types import ChildId, Direction, Outcome, RequestId, RequestStatus
from ledger_client.crypto import SealedRecord, open_json, seal_json
from ledger_client.errors import ConflictError, InputError, NotFoundError
from ledger_client.identity import (
    companion_name_lookup,
    document_commitment,
    normalise_document,
)
from ledger_client.indexer.queries import child_history
from ledger_client.keys import LocalSigner
from ledger_client.outbox.outbox import Call
from ledger_client.services.children import (
    active_child_id,
    child_by_card,
    guardian_by_document,
    record_chain,
)
from ledger_client.services.context import Prepared, Tutela, staff_acting_as
from ledger_client.services.guardian_keys import unlock_guardian_key
from ledger_client.store.models import Child, CrossingRequest, Guardian, StaffRole
from ledger_client.store.portal_models import GuardianAccount

DEFAULT_EXPIRY_MINUTES = 60
MAX_EXPIRY_MINUTES = 7 * 24 * 60
# A signed decision is relayed at once; a short deadline limits what a stolen one is worth.
SIGNATURE_LIFETIME = 10 * 60


@dataclass(frozen=True)
class CrossingView:
    request: int
    card: str
    direction: str
    border_point: str
    status: str
    expires_at: str
    approvals: int
    guardian_approved: bool
    protection_decided: bool
    family_rule_applied: bool
    companion_is_guardian: bool


@dataclass(frozen=True)
class DecisionView:
    request: int
    approved: bool
    counted: bool
    status: str
    tx_hash: str


@dataclass(frozen=True)
class HistoryEntry:
    request: int
    direction: str
    border_point: str
    requested_at_block: int
    request_tx: str
    status: str
    decisions: tuple[dict[str, object], ...]
    outcome: str | None
    outcome_tx: str | None


def request_crossing(
    tutela: Tutela,
    card_text: str,
    *,
    direction: str,
    border_point: str,
    companion_name: str,
    companion_document: str,
    expires_in_minutes: int = DEFAULT_EXPIRY_MINUTES,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> CrossingView:
    """Opens a crossing request; the companion's details stay sealed off-chain.

    Raises:
        InputError: a malformed direction, border point, companion or expiry.
        NotFoundError: no child has this card.
        ContractRevertError: the ledger refused (the child is revoked, for instance).
    """
    chosen = _direction(direction)
    code = _border_point(border_point)
    name = companion_name.strip()
    if not name or len(name) > 100:
        raise InputError("the companion's name must have 1 to 100 characters")
    document = normalise_document(companion_document)
    if not 1 <= expires_in_minutes <= MAX_EXPIRY_MINUTES:
        raise InputError(f"a request expires in 1 to {MAX_EXPIRY_MINUTES} minutes")
    companion = document_commitment(tutela.commitment_key, document)
    with tutela.database.transaction() as session:
        # The record the card leads to now, so that the old and the new card of a corrected
        # record name the same action.
        current_record = child_by_card(session, card_text).child_id
    intent = tutela.intent(
        "crossing-request",
        {
            "child": current_record,
            "direction": chosen,
            "border_point": code,
            "companion": companion.hex(),
            "expires_in": expires_in_minutes,
            "as": acting_as,
        },
        idempotency_key,
        tutela.minute(),
    )

    def prepare(session: Session) -> Prepared:
        child = child_by_card(session, card_text)
        child_id = active_child_id(tutela, child, "the child may not cross on this record")
        officer = staff_acting_as(session, StaffRole.BORDER_OFFICER, acting_as)
        expires_at = tutela.chain_time() + expires_in_minutes * 60
        session.add(
            CrossingRequest(
                action_key=intent.key,
                child_id=child.child_id,
                direction=chosen,
                border_point=code,
                companion_commitment="0x" + companion.hex(),
                companion_sealed=seal_json(
                    tutela.master_key,
                    {"name": name, "document": document},
                    associated_data=_companion_aad(intent.key),
                ).to_bytes(),
                companion_name_lookup=companion_name_lookup(tutela.commitment_key, name),
                requested_by=officer.id,
                requested_at=datetime.fromtimestamp(tutela.clock(), UTC),
            )
        )
        call = tutela.ledger.request_crossing(child_id, chosen, code, companion, expires_at)
        return Prepared(tutela.signer_of(officer), [Call.of(call)])

    (item,) = tutela.carry_out(intent, prepare)
    if item.purpose != "crossing-request":
        raise ConflictError(f"the idempotency key {intent.key!r} belongs to another action")
    # From the receipt settle saw, not the stored row, which a concurrent reconciler may be
    # renumbering after a node lost the block.
    return show_crossing(tutela, tutela.ledger.request_id_from(tutela.receipt_of(item)))


def decide_as_guardian(
    tutela: Tutela,
    request_text: str,
    *,
    approve: bool,
    secret: str,
    account_id: int | None = None,
    guardian_document: str | None = None,
    idempotency_key: str | None = None,
) -> DecisionView:
    """A guardian signs an EIP-712 decision with their own key; the relayer sends it.

    The guardian is named by their account or by their document (exactly one). ``secret``
    (their PIN or password, or the activation code before activation) opens their key in
    memory for the one signature; nothing keeps the key afterwards. Each try of the secret
    is counted, even when the decision is refused.

    Raises:
        InputError: a malformed request number or document, or not exactly one of
            ``account_id`` and ``guardian_document``.
        NotFoundError: unknown request, or the account or document is no current guardian
            of the request's child.
        ConflictError: the guardian has no key of their own yet (enrolled before accounts).
        SignatureError: a wrong secret, or an expired activation code.
        GuardianLockedError: too many wrong secrets in a row; the message says until when.
        ContractRevertError: the ledger refused (expired, decided already, not pending).
    """
    request_id = parse_request_id(request_text)
    decider, address = deciding_account(
        tutela, request_text, account_id=account_id, guardian_document=guardian_document
    )
    # A guardian decides a request once; the contract refuses a second decision anyway.
    # The secret is no part of the action: a retry with another secret is the same action.
    intent = tutela.intent(
        "guardian-decision",
        {"request": request_id, "guardian": address, "approve": approve},
        idempotency_key,
        request_id,
    )
    signature, deadline = _signed_decision(tutela, decider, request_id, approve, secret)

    def prepare(session: Session) -> Prepared:
        stored = _stored_request(session, request_id)
        if _current_guardian_row(session, stored.child_id, decider) is None:
            raise NotFoundError(f"there is no crossing request {request_id}")
        relayer = staff_acting_as(session, StaffRole.RELAYER, None)
        call = tutela.ledger.decide_by_sig(request_id, address, approve, deadline, signature)
        return Prepared(tutela.signer_of(relayer), [Call.of(call)])

    (item,) = tutela.carry_out(intent, prepare)
    return _decision_from(tutela, request_id, tutela.receipt_of(item), "GuardianDecided")


def deciding_account(
    tutela: Tutela,
    request_text: str,
    *,
    account_id: int | None = None,
    guardian_document: str | None = None,
) -> tuple[int, str]:
    """The account and address that would decide this request, checked before any secret.

    Lets an entry point refuse an unknown request or a stranger before asking for a PIN.

    Raises:
        InputError: as for :func:`decide_as_guardian`.
        NotFoundError: unknown request, or not a current guardian of the request's child.
        ConflictError: a guardian enrolled before accounts, who has no key of their own yet.
    """
    request_id = parse_request_id(request_text)
    if (account_id is None) == (guardian_document is None):
        raise InputError("name the deciding guardian by account or by document, exactly one")
    with tutela.database.reading() as session:
        stored = _stored_request(session, request_id)
        if guardian_document is not None:
            named = guardian_by_document(
                tutela, session, stored.child_id, normalise_document(guardian_document)
            )
            if named.account_id is None:
                raise ConflictError(
                    "this guardian has no key of their own yet: the registry must re-verify "
                    "them in person ('tutela guardian reverify')"
                )
            account_id = named.account_id
        assert account_id is not None  # exactly one of the two was given
        row = _current_guardian_row(session, stored.child_id, account_id)
        if row is None:
            if guardian_document is not None:
                raise ConflictError(
                    "this guardian's key changed and this child's record still names the old "
                    "one: the registry must re-verify them again"
                )
            # The same answer as for an unknown request: an account learns nothing of
            # another family's requests by trying their numbers.
            raise NotFoundError(f"there is no crossing request {request_id}")
        return account_id, row.address


def _current_guardian_row(session: Session, child_id: str, account_id: int) -> Guardian | None:
    """The account's current guardianship of this child record, under its current key."""
    account = session.get(GuardianAccount, account_id)
    if account is None:
        return None
    return session.scalar(
        select(Guardian).where(
            Guardian.child_id == child_id,
            Guardian.account_id == account_id,
            Guardian.address == account.address,
            Guardian.removed_at.is_(None),
        )
    )


def _signed_decision(
    tutela: Tutela, account_id: int, request_id: RequestId, approve: bool, secret: str
) -> tuple[bytes, int]:
    """Opens the guardian's key with their secret, signs, and lets the key go."""
    signer = unlock_guardian_key(tutela, account_id, secret)
    try:
        return sign_decision(tutela, signer, request_id, approve)
    finally:
        del signer


def sign_decision(
    tutela: Tutela, signer: LocalSigner, request_id: RequestId, approve: bool
) -> tuple[bytes, int]:
    """The guardian's EIP-712 decision on this ledger, valid for SIGNATURE_LIFETIME of chain
    time; (signature, deadline)."""
    deadline = tutela.chain_time() + SIGNATURE_LIFETIME
    message = decision_message(
        chain_id=tutela.chain_id,
        ledger_address=tutela.ledger.address,
        request_id=request_id,
        guardian=signer.address,
        approve=approve,
        deadline=deadline,
    )
    return signer.sign_typed_data(message), deadline


def decide_as_protection(
    tutela: Tutela,
    request_text: str,
    *,
    approve: bool,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> DecisionView:
    """A child-protection officer co-approves or denies.

    Raises:
        NotFoundError: unknown request or no child-protection officer.
        ContractRevertError: the ledger refused.
    """
    request_id = parse_request_id(request_text)
    intent = tutela.intent(
        "protection-decision",
        {"request": request_id, "approve": approve, "as": acting_as},
        idempotency_key,
        request_id,
    )

    call = tutela.ledger.protection_decide(request_id, approve)
    prepare = _on_request(tutela, request_id, StaffRole.CHILD_PROTECTION, acting_as, call)
    (item,) = tutela.carry_out(intent, prepare)
    return _decision_from(tutela, request_id, tutela.receipt_of(item), "ProtectionDecided")


def override_by_court_order(
    tutela: Tutela,
    request_text: str,
    *,
    court_order: str,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> CrossingView:
    """A child-protection officer overrides by court order; only its hash goes on chain.

    Raises:
        InputError: an empty court order reference.
        ContractRevertError: the ledger refused.
    """
    request_id = parse_request_id(request_text)
    reference = court_order.strip()
    if not reference or len(reference) > 200:
        raise InputError("a court order reference must have 1 to 200 characters")
    # Court references can name people; the commitment key keeps the hash unguessable.
    digest = hashlib.sha256(tutela.commitment_key.to_bytes() + reference.encode()).digest()
    intent = tutela.intent(
        "override",
        {"request": request_id, "court_order": digest.hex(), "as": acting_as},
        idempotency_key,
        request_id,
    )

    call = tutela.ledger.override_by_court_order(request_id, digest)
    tutela.carry_out(
        intent, _on_request(tutela, request_id, StaffRole.CHILD_PROTECTION, acting_as, call)
    )
    return show_crossing(tutela, request_id)


def record_outcome(
    tutela: Tutela,
    request_text: str,
    *,
    outcome: str,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> CrossingView:
    """A border officer records that the child crossed or was turned back.

    Raises:
        InputError: an unknown outcome.
        ContractRevertError: the ledger refused (not approved, expired, closed).
    """
    request_id = parse_request_id(request_text)
    try:
        chosen = Outcome(outcome)
    except ValueError as error:
        raise InputError("the outcome is 'crossed' or 'turned-back'") from error
    intent = tutela.intent(
        "outcome",
        {"request": request_id, "outcome": chosen, "as": acting_as},
        idempotency_key,
        request_id,
    )

    call = tutela.ledger.record_outcome(request_id, chosen)
    tutela.carry_out(
        intent, _on_request(tutela, request_id, StaffRole.BORDER_OFFICER, acting_as, call)
    )
    return show_crossing(tutela, request_id)


def show_crossing(tutela: Tutela, request_id: int | str) -> CrossingView:
    """A request as the chain holds it, with its card number.

    Raises:
        NotFoundError: the request is unknown to this registry.
    """
    number = parse_request_id(str(request_id))
    with tutela.database.reading() as session:
        stored = _stored_request(session, number)
        child = session.get(Child, stored.child_id)
        assert child is not None  # a foreign key guarantees it
        card = format_card(child.card_number)
        guardian_documents = {
            g.document_commitment
            for g in session.scalars(
                select(Guardian).where(
                    Guardian.child_id == stored.child_id, Guardian.removed_at.is_(None)
                )
            )
        }
        companion_is_guardian = stored.companion_commitment in guardian_documents
    state = tutela.ledger.get_request(number)
    return CrossingView(
        request=number,
        card=card,
        direction=str(state.direction),
        border_point=stored.border_point,
        status=str(state.status),
        expires_at=datetime.fromtimestamp(state.expires_at, UTC).isoformat(),
        approvals=state.approvals,
        guardian_approved=state.guardian_approved,
        protection_decided=state.protection_decided,
        family_rule_applied=state.family_rule_applied,
        companion_is_guardian=companion_is_guardian,
    )


def history(tutela: Tutela, card_text: str) -> list[HistoryEntry]:
    """The child's crossings, read from the event index (each with its transaction).

    Raises:
        NotFoundError: no child has this card.
    """
    tutela.refresh_index()
    with tutela.database.reading() as session:
        # Crossings made under records since corrected belong to the child's history too.
        records = record_chain(session, child_by_card(session, card_text))
        found = child_history(session, [c.child_id for c in records])
    return [
        HistoryEntry(
            request=r.request,
            direction=r.direction,
            border_point=r.border_point,
            requested_at_block=r.requested.block,
            request_tx=r.requested.tx,
            status=r.status,
            decisions=r.timeline(),
            outcome=r.outcome.outcome if r.outcome else None,
            outcome_tx=r.outcome.at.tx if r.outcome else None,
        )
        for r in found
    ]


def parse_request_id(text: str) -> RequestId:
    """A request number as typed by a person.

    Raises:
        InputError: not a positive whole number.
    """
    cleaned = text.strip().lstrip("#")
    if not cleaned.isdigit() or int(cleaned) < 1 or int(cleaned) >= 2**64:
        raise InputError(f"{text!r} is not a request number")
    return RequestId(int(cleaned))


def companion_of(tutela: Tutela, request_id: int) -> dict[str, str]:
    """The companion's sealed name and document (a staff read of personal data)."""
    with tutela.database.reading() as session:
        return open_companion(tutela, _stored_request(session, RequestId(request_id)))


def open_companion(tutela: Tutela, stored: CrossingRequest) -> dict[str, str]:
    """The companion's name and document sealed with a stored request."""
    sealed = SealedRecord.from_bytes(stored.companion_sealed)
    data = open_json(tutela.master_key, sealed, associated_data=_companion_aad(stored.action_key))
    return {"name": str(data["name"]), "document": str(data["document"])}


def stored_request(session: Session, request_id: RequestId) -> CrossingRequest:
    """The store's half of a request.

    Raises:
        NotFoundError: the request is unknown to this registry.
    """
    return _stored_request(session, request_id)


def _decision_from(
    tutela: Tutela, request_id: RequestId, receipt: TxReceipt, event_name: str
) -> DecisionView:
    events = tutela.ledger.events_in(receipt)
    decided = next(e for e in events if e.name == event_name)
    return DecisionView(
        request=request_id,
        approved=bool(decided.args["approved"]),
        counted=bool(decided.args.get("counted", True)),
        status=str(RequestStatus.from_ordinal(decided.args["status"])),
        tx_hash=decided.tx_hash,
    )


def _on_request(
    tutela: Tutela,
    request_id: RequestId,
    role: StaffRole,
    acting_as: str | None,
    call: ContractFunction,
) -> Callable[[Session], Prepared]:
    """A staff member's action on a known request, sent from that member's key."""

    def prepare(session: Session) -> Prepared:
        _stored_request(session, request_id)
        member = staff_acting_as(session, role, acting_as)
        return Prepared(tutela.signer_of(member), [Call.of(call)])

    return prepare


def _stored_request(session: Session, request_id: RequestId) -> CrossingRequest:
    stored = session.scalar(select(CrossingRequest).where(CrossingRequest.request_id == request_id))
    if stored is None:
        raise NotFoundError(f"there is no crossing request {request_id}")
    return stored


def _direction(text: str) -> Direction:
    try:
        return Direction(text.strip().lower())
    except ValueError as error:
        raise InputError("the direction is 'exit' or 'entry'") from error


def _border_point(text: str) -> str:
    code = text.strip().upper()
    if (
        not code
        or len(code) > 16
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in code)
    ):
        raise InputError("a border point code has 1 to 16 letters, digits, '-' or '_'")
    return code


def _child_id(child: Child) -> ChildId:
    return ChildId(bytes.fromhex(child.child_id.removeprefix("0x")))


def _companion_aad(action_key: str) -> bytes:
    return b"crossing_requests:" + action_key.encode()
