"""The guardian's side: activate an account, sign in, see one's children and the requests
waiting for a decision, and the registry's re-verification after a lost password or PIN.

Every answer is a frozen dataclass. A guardian only ever sees the children they currently
guard: asking for another family's child or request gets the answer an unknown one gets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ledger_client.cards import format_card, parse_card
from ledger_client.contracts.types import RequestStatus
from ledger_client.errors import ConflictError, InputError, NotFoundError, SignatureError
from ledger_client.indexer.queries import CrossingRecord, child_history, crossing
from ledger_client.notify.messages import LANGUAGES
from ledger_client.services.children import child_by_card, child_data, record_chain
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import (
    HistoryEntry,
    history,
    open_companion,
    parse_request_id,
)
from ledger_client.services.guardian_keys import (
    ActivationCode,
    GuardianLockedError,
    account_by_commitment,
    check_guardian_password,
    check_pin,
    commitment_hex,
    normalise_activation_code,
    now_of,
    open_contact,
    pin_keystore_password,
    reencrypted,
    try_secret,
    unlock_guardian_key,
)
from ledger_client.services.guardian_reverify import reverify_guardian
from ledger_client.store.models import Child, CrossingRequest, Guardian, StaffMember
from ledger_client.store.portal_models import GuardianAccount
from ledger_client.store.times import as_utc

__all__ = [
    "ActivationCode",
    "ChildSummary",
    "GuardianAccountView",
    "GuardianLockedError",
    "GuardianRequestView",
    "activate_guardian",
    "authenticate_guardian",
    "guardian_account",
    "guardian_children",
    "guardian_history",
    "guardian_request",
    "guardian_requests",
    "reverify_guardian",
    "unlock_guardian_key",
]

logger = logging.getLogger(__name__)

# One answer for an unknown document and a wrong secret: the form says nothing of who is
# registered.
WRONG_LOGIN: Final = "the document number or password is wrong"
WRONG_ACTIVATION: Final = "the document number or activation code is wrong"


@dataclass(frozen=True)
class GuardianAccountView:
    id: int
    address: str
    name: str
    email: str
    phone: str | None
    language: str
    activated: bool
    activation_expires_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class ChildSummary:
    card: str
    child_id: str
    given_name: str
    family_name: str
    birth_date: str
    status: str


@dataclass(frozen=True)
class GuardianRequestView:
    """A crossing request as the guardian sees it before deciding."""

    request: int
    card: str
    child_given_name: str
    child_family_name: str
    direction: str
    border_point: str
    companion_name: str
    companion_is_guardian: bool  # then this approval needs another guardian's or protection's
    companion_is_me: bool  # the guardian reading is the companion: their approval is set aside
    officer: str  # the requesting officer's staff name (their post, for now)
    requested_at: datetime
    expires_at: datetime
    seconds_left: int
    status: str
    decided: bool  # whether this guardian has decided it already
    approved: bool | None  # and how, when they have


def guardian_account(tutela: Tutela, account_id: int) -> GuardianAccountView:
    """The account as its guardian sees it.

    Raises:
        NotFoundError: no such account.
    """
    with tutela.database.reading() as session:
        return _view(tutela, _account(session, account_id))


def activate_guardian(
    tutela: Tutela,
    *,
    document: str,
    code: str,
    password: str,
    pin: str,
    language: str | None = None,
) -> GuardianAccountView:
    """The guardian chooses a password and a PIN; the key is re-encrypted under each.

    ``language`` (en, ro or ru), when given, is the one the guardian's e-mails and SMS use
    from now on: the portal passes the language the guardian activated in.

    The activation code is checked by opening the key with it (a wrong one is counted like a
    wrong PIN); afterwards the code opens nothing.

    Raises:
        InputError: a malformed document; a password or PIN that breaks the rules.
        NotFoundError: no account has this document (the same message as a wrong code).
        SignatureError: a wrong or expired activation code.
        GuardianLockedError: too many wrong tries in a row; the message says until when.
        ConflictError: the account is activated already.
    """
    check_guardian_password(password)
    check_pin(pin, password)
    commitment = commitment_hex(tutela, document)
    with tutela.database.reading() as session:
        account = account_by_commitment(session, commitment)
        if account is None:
            raise NotFoundError(WRONG_ACTIVATION)
        if account.activated_at is not None:
            raise ConflictError("this guardian account is activated already: sign in instead")
        account_id = account.id
    signer, _ = try_secret(tutela, account_id, code)
    if signer is None:
        raise SignatureError(WRONG_ACTIVATION)
    address = signer.address
    del signer
    now = now_of(tutela)
    with tutela.database.transaction() as session:
        account = session.get(GuardianAccount, account_id, with_for_update=True)
        if (
            account is None
            or account.activated_at is not None
            or account.keystore_activation is None
            or account.address != address
        ):
            raise ConflictError("this guardian account changed meanwhile: try again")
        by_password, by_pin = reencrypted(
            account.keystore_activation,
            normalise_activation_code(code),
            password,
            pin_keystore_password(tutela, pin),
            work_factor=tutela.settings.keystore_work_factor,
        )
        account.password_hash = generate_password_hash(password)
        account.keystore_password = by_password
        account.keystore_pin = by_pin
        account.keystore_activation = None
        account.activation_expires_at = None
        account.activated_at = now
        if language in LANGUAGES:
            account.language = language
        logger.info("guardian account %s activated", account_id)
        return _view(tutela, account)


def authenticate_guardian(tutela: Tutela, *, document: str, password: str) -> GuardianAccountView:
    """Checks a guardian's sign-in; the portal counts and throttles the tries.

    Raises:
        InputError: a malformed document, or an account not activated yet.
        NotFoundError: no account has this document (the same message as a wrong password).
        SignatureError: a wrong password.
    """
    commitment = commitment_hex(tutela, document)
    with tutela.database.reading() as session:
        account = account_by_commitment(session, commitment)
        if account is not None and account.activated_at is None:
            raise InputError(
                "this guardian account is not activated yet: activate it first with the "
                "code the registry gave"
            )
        stored = account.password_hash if account is not None else None
        # A hash is checked even for an unknown document, so both answers take as long.
        matches = check_password_hash(stored or _dummy_hash(), password) and stored is not None
        if account is None:
            raise NotFoundError(WRONG_LOGIN)
        if not matches:
            raise SignatureError(WRONG_LOGIN)
        return _view(tutela, account)


def guardian_children(tutela: Tutela, account_id: int) -> list[ChildSummary]:
    """The children this account currently guards, in the order they were enrolled.

    Raises:
        NotFoundError: no such account.
    """
    with tutela.database.reading() as session:
        account = _account(session, account_id)
        return [_summary(tutela, child) for child in _guarded_children(session, account)]


def guardian_requests(tutela: Tutela, account_id: int) -> list[GuardianRequestView]:
    """The pending crossing requests of every child this account guards, soonest expiry
    first.

    Read from the event index, brought up to the chain's head first: one query for all the
    children, where asking the contract would cost a call per request, and the index already
    holds what the view needs (border point, officer, time, decisions by address). An open
    request past its expiry reads as expired, by the chain's clock, as the contract reads it.

    Raises:
        NotFoundError: no such account.
    """
    tutela.refresh_index()
    now = tutela.read_time()
    with tutela.database.reading() as session:
        account = _account(session, account_id)
        guarded = _guarded_records(session, account)
        found = child_history(session, list(guarded), now=now)
        views = [
            _request_view(tutela, session, account, guarded[record.child_id.lower()], record, now)
            for record in found
            if record.status == str(RequestStatus.PENDING)
        ]
    return sorted((v for v in views if v is not None), key=lambda v: (v.expires_at, v.request))


def guardian_request(tutela: Tutela, account_id: int, request_id: int | str) -> GuardianRequestView:
    """One request of a child this account guards, whatever its status.

    Raises:
        InputError: a malformed request number.
        NotFoundError: no such account, or no request of a child this account guards (the
            same message as for an unknown request).
    """
    number = parse_request_id(str(request_id))
    unknown = NotFoundError(f"there is no crossing request {number}")
    tutela.refresh_index()
    now = tutela.read_time()
    with tutela.database.reading() as session:
        account = _account(session, account_id)
        record = crossing(session, number, now=now)
        guarded = _guarded_records(session, account)
        if record is None or record.child_id.lower() not in guarded:
            raise unknown
        view = _request_view(
            tutela, session, account, guarded[record.child_id.lower()], record, now
        )
    if view is None:
        raise unknown
    return view


def guardian_history(tutela: Tutela, account_id: int, card: str) -> list[HistoryEntry]:
    """The crossings of a child this account guards.

    Raises:
        InputError: a malformed card number.
        NotFoundError: no such account, or the card is not of a child this account guards
            (the same message as for an unknown card).
    """
    with tutela.database.reading() as session:
        account = _account(session, account_id)
        try:
            child = child_by_card(session, card)
        except NotFoundError:
            child = None
        guarded = {c.child_id for c in _guarded_children(session, account)}
        if child is None or child.child_id not in guarded:
            raise NotFoundError(f"no child has card number {format_card(parse_card(card))}")
    return history(tutela, card)


# -- helpers ------------------------------------------------------------------------------------


def _account(session: Session, account_id: int) -> GuardianAccount:
    account = session.get(GuardianAccount, account_id)
    if account is None:
        raise NotFoundError("there is no such guardian account")
    return account


def _view(tutela: Tutela, account: GuardianAccount) -> GuardianAccountView:
    contact = open_contact(tutela, account)
    return GuardianAccountView(
        id=account.id,
        address=account.address,
        name=str(contact["name"]),
        email=str(contact["email"]),
        phone=contact.get("phone"),
        language=account.language,
        activated=account.activated_at is not None,
        activation_expires_at=_utc_or_none(account.activation_expires_at),
        locked_until=_utc_or_none(account.locked_until),
    )


@cache
def _dummy_hash() -> str:
    return generate_password_hash("tutela-timing-equaliser")


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _guarded_children(session: Session, account: GuardianAccount) -> list[Child]:
    """The current records (no correction since) the account guards under its current key."""
    query = (
        select(Child)
        .join(Guardian, Guardian.child_id == Child.child_id)
        .where(
            Guardian.account_id == account.id,
            Guardian.address == account.address,
            Guardian.removed_at.is_(None),
            Child.successor_id.is_(None),
        )
        .order_by(Child.enrolled_at, Child.child_id)
    )
    return list(session.scalars(query).unique())


def _guarded_records(session: Session, account: GuardianAccount) -> dict[str, Child]:
    """Every record of the guarded children, corrected ones too, each to its current record."""
    return {
        record.child_id.lower(): child
        for child in _guarded_children(session, account)
        for record in record_chain(session, child)
    }


def _summary(tutela: Tutela, child: Child) -> ChildSummary:
    data = child_data(tutela, child)
    return ChildSummary(
        card=format_card(child.card_number),
        child_id=child.child_id,
        given_name=str(data["given_name"]),
        family_name=str(data["family_name"]),
        birth_date=str(data["birth_date"]),
        status=child.status,
    )


def _request_view(
    tutela: Tutela,
    session: Session,
    account: GuardianAccount,
    child: Child,
    record: CrossingRecord,
    now: int,
) -> GuardianRequestView | None:
    stored = session.scalar(
        select(CrossingRequest).where(CrossingRequest.request_id == record.request)
    )
    if stored is None:
        return None  # on chain, not yet numbered in the store: shown at the next read
    officer = session.get(StaffMember, stored.requested_by)
    guardians = session.scalars(
        select(Guardian.document_commitment).where(
            Guardian.child_id == record.child_id, Guardian.removed_at.is_(None)
        )
    ).all()
    mine = [
        d
        for d in record.decisions
        if d.kind == "guardian" and d.decider.lower() == account.address.lower()
    ]
    data = child_data(tutela, child)
    return GuardianRequestView(
        request=record.request,
        card=format_card(child.card_number),
        child_given_name=str(data["given_name"]),
        child_family_name=str(data["family_name"]),
        direction=record.direction,
        border_point=record.border_point,
        companion_name=open_companion(tutela, stored)["name"],
        companion_is_guardian=record.companion_commitment in set(guardians),
        # By document commitment, as the contract applies the family rule.
        companion_is_me=record.companion_commitment == account.document_commitment,
        officer=officer.name if officer is not None else "",
        requested_at=record.requested.time,
        expires_at=record.expires_at,
        seconds_left=max(0, int(record.expires_at.timestamp()) - now),
        status=record.status,
        decided=bool(mine),
        approved=mine[-1].approved if mine else None,
    )
