"""Staff logins and portal sessions.

Staff sign in with their name and a password of at least 15 characters, or at least 8 with a
TOTP second factor. A session is a row in the store; the browser holds only a random token
whose SHA-256 is the row's id, so ending a session in the store ends it everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ledger_client.crypto import SealedRecord, open_json, seal_json
from ledger_client.errors import InputError, NotFoundError, SignatureError
from ledger_client.identity import document_commitment, normalise_document
from ledger_client.services import throttle
from ledger_client.services.context import Tutela
from ledger_client.store.models import StaffMember
from ledger_client.store.portal_models import GuardianAccount, PortalSession
from ledger_client.store.times import as_utc

MIN_PASSWORD = 15
MIN_PASSWORD_WITH_TOTP = 8
MAX_PASSWORD = 200
# A desk left open is closed after a quiet half hour; no session outlives a working day.
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOTP_ISSUER = "Tutela"
# Compared against every failed login so an unknown name costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("tutela-timing-equaliser")


@dataclass(frozen=True)
class StaffLogin:
    """What a staff member's new login needs: the TOTP URI for their authenticator app."""

    name: str
    totp_uri: str | None


@dataclass(frozen=True)
class Principal:
    """Who a session belongs to."""

    kind: str  # "staff" or "guardian"
    id: int
    name: str
    role: str | None  # the staff role; None for a guardian
    session_id: str


def check_password_rules(password: str, *, with_totp: bool) -> None:
    """Raises InputError when the password is too short for the factors it comes with."""
    minimum = MIN_PASSWORD_WITH_TOTP if with_totp else MIN_PASSWORD
    if len(password) < minimum:
        raise InputError(
            f"the password must have at least {minimum} characters"
            + ("" if with_totp else f" ({MIN_PASSWORD_WITH_TOTP} with a second factor)")
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password must have at most {MAX_PASSWORD} characters")


def set_staff_password(tutela: Tutela, name: str, password: str, *, totp: bool) -> StaffLogin:
    """Gives a staff member a portal login; with ``totp`` also a new second-factor seed.

    Every session the member had is ended.

    Raises:
        NotFoundError: no current staff member has this name.
        InputError: the password breaks the rules.
    """
    check_password_rules(password, with_totp=totp)
    now = _now(tutela)
    with tutela.database.transaction() as session:
        member = _staff_by_name(session, name)
        member.password_hash = generate_password_hash(password)
        uri = None
        if totp:
            seed = pyotp.random_base32()
            member.totp_sealed = seal_json(
                tutela.master_key, {"seed": seed}, associated_data=_totp_aad(member.id)
            ).to_bytes()
            uri = pyotp.TOTP(seed).provisioning_uri(name=member.name, issuer_name=TOTP_ISSUER)
        else:
            member.totp_sealed = None
        _end_sessions(session, "staff", member.id, now)
        return StaffLogin(member.name, uri)


def staff_totp_now(tutela: Tutela, name: str) -> str:
    """The member's current TOTP code; for the demo and the tests, which play the phone."""
    with tutela.database.reading() as session:
        member = _staff_by_name(session, name)
        if member.totp_sealed is None:
            raise NotFoundError(f"{name} has no second factor")
        return pyotp.TOTP(_totp_seed(tutela, member)).at(_now(tutela))


def login_staff(
    tutela: Tutela, name: str, password: str, totp_code: str, *, address: str
) -> Principal:
    """Checks a staff login and opens a session.

    Raises:
        ThrottledError: the account or the address failed too often lately.
        SignatureError: the name, password or code is wrong (one message for all three).
    """
    now = _now(tutela)
    account_key = "staff:" + name.strip().casefold()
    with tutela.database.transaction() as session:
        throttle.check(session, throttle.ADDRESS_LIMIT, address, now)
        throttle.check(session, throttle.ACCOUNT_LIMIT, account_key, now)
    with tutela.database.transaction() as session:
        member = session.scalar(
            select(StaffMember).where(
                StaffMember.name == name.strip(), StaffMember.removed_at.is_(None)
            )
        )
        ok = _staff_secrets_match(tutela, member, password, totp_code, now)
        throttle.record(session, throttle.ADDRESS_LIMIT, address, ok, now)
        throttle.record(session, throttle.ACCOUNT_LIMIT, account_key, ok, now)
        if ok and member is not None:
            token = _open_session(session, "staff", member.id, now)
            return Principal("staff", member.id, member.name, member.role, token)
    # Raised after the commit, so the failed try is counted.
    raise SignatureError("the name, password or code is wrong")


def _staff_secrets_match(
    tutela: Tutela, member: StaffMember | None, password: str, totp_code: str, now: datetime
) -> bool:
    stored = member.password_hash if member is not None else None
    # A hash is checked even for an unknown name, so the answer takes as long either way.
    password_ok = check_password_hash(stored or _DUMMY_HASH, password) and stored is not None
    if not password_ok or member is None:
        return False
    if member.totp_sealed is None:
        return True
    return bool(
        pyotp.TOTP(_totp_seed(tutela, member)).verify(
            totp_code.strip(), for_time=now, valid_window=1
        )
    )


def login_guardian(tutela: Tutela, document: str, password: str, *, address: str) -> Principal:
    """Checks a guardian's login (document number and password) and opens a session.

    Raises:
        ThrottledError: the account or the address failed too often lately.
        SignatureError: the document or the password is wrong (one message for both).
        InputError: the account is not activated yet.
    """
    from ledger_client.services.guardians import authenticate_guardian

    now = _now(tutela)
    try:
        # Counted under a keyed hash: the attempts table never holds a document number.
        account_key = (
            "guardian:"
            + document_commitment(tutela.commitment_key, normalise_document(document)).hex()
        )
    except InputError:
        account_key = "guardian:malformed"
    with tutela.database.transaction() as session:
        throttle.check(session, throttle.ADDRESS_LIMIT, address, now)
        throttle.check(session, throttle.ACCOUNT_LIMIT, account_key, now)
    try:
        account = authenticate_guardian(tutela, document=document, password=password)
    except (SignatureError, NotFoundError, InputError):
        with tutela.database.transaction() as session:
            throttle.record(session, throttle.ADDRESS_LIMIT, address, False, now)
            throttle.record(session, throttle.ACCOUNT_LIMIT, account_key, False, now)
        raise
    with tutela.database.transaction() as session:
        throttle.record(session, throttle.ADDRESS_LIMIT, address, True, now)
        throttle.record(session, throttle.ACCOUNT_LIMIT, account_key, True, now)
        token = _open_session(session, "guardian", account.id, now)
    return Principal("guardian", account.id, f"guardian-{account.id}", None, token)


def session_principal(tutela: Tutela, token: str) -> Principal | None:
    """The live session of this token; None when unknown, ended or timed out.

    A read, except once a minute per session (the idle clock) and when a session ends: most
    pages then take no write lock, which SQLite gives to one writer at a time.
    """
    now = _now(tutela)
    session_id = _session_id(token)
    with tutela.database.reading() as session:
        row = session.get(PortalSession, session_id)
        if row is None or row.revoked_at is not None:
            return None
        expired = now - as_utc(row.last_seen_at) > IDLE_TIMEOUT or (
            now - as_utc(row.created_at) > ABSOLUTE_TIMEOUT
        )
        principal = None if expired else _principal_of(session, row, token)
        stale = now - as_utc(row.last_seen_at) > timedelta(minutes=1)
    if principal is not None and not stale:
        return principal
    with tutela.database.transaction() as session:
        row = session.get(PortalSession, session_id)
        if row is None:
            return None
        if principal is None:
            row.revoked_at = row.revoked_at or now
        else:
            row.last_seen_at = now
    return principal


def end_session(tutela: Tutela, token: str) -> None:
    """Logs out: the token is worthless from now on, wherever it was copied."""
    with tutela.database.transaction() as session:
        row = session.get(PortalSession, _session_id(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = _now(tutela)


def check_staff_password(tutela: Tutela, staff_id: int, password: str, *, address: str) -> None:
    """Re-authentication before a decision: the member types their password again.

    Raises:
        ThrottledError: too many failures lately.
        SignatureError: the password is wrong.
    """
    now = _now(tutela)
    with tutela.database.transaction() as session:
        member = session.get(StaffMember, staff_id)
        if member is None or member.removed_at is not None:
            raise NotFoundError("this staff member no longer exists")
        account_key = "staff:" + member.name.casefold()
        throttle.check(session, throttle.ACCOUNT_LIMIT, account_key, now)
        ok = member.password_hash is not None and check_password_hash(
            member.password_hash, password
        )
        throttle.record(session, throttle.ACCOUNT_LIMIT, account_key, ok, now)
    if not ok:
        raise SignatureError("the password is wrong")


def _principal_of(session: Session, row: PortalSession, token: str) -> Principal | None:
    if row.principal == "staff":
        member = session.get(StaffMember, row.principal_id)
        if member is None or member.removed_at is not None:
            return None
        return Principal("staff", member.id, member.name, member.role, token)
    account = session.get(GuardianAccount, row.principal_id)
    if account is None or account.activated_at is None:
        return None
    return Principal("guardian", account.id, f"guardian-{account.id}", None, token)


def _open_session(session: Session, kind: str, principal_id: int, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            id=_session_id(token),
            principal=kind,
            principal_id=principal_id,
            created_at=now,
            last_seen_at=now,
        )
    )
    return token


def _end_sessions(session: Session, kind: str, principal_id: int, now: datetime) -> None:
    session.execute(
        update(PortalSession)
        .where(
            PortalSession.principal == kind,
            PortalSession.principal_id == principal_id,
            PortalSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def _session_id(token: str) -> str:
    # Only the hash is stored: a copy of the store does not give anyone a live session.
    return hashlib.sha256(token.encode()).hexdigest()


def _staff_by_name(session: Session, name: str) -> StaffMember:
    member = session.scalar(
        select(StaffMember).where(StaffMember.name == name, StaffMember.removed_at.is_(None))
    )
    if member is None:
        raise NotFoundError(f"no current staff member is called {name!r}")
    return member


def _totp_seed(tutela: Tutela, member: StaffMember) -> str:
    assert member.totp_sealed is not None
    record = SealedRecord.from_bytes(member.totp_sealed)
    return str(open_json(tutela.master_key, record, associated_data=_totp_aad(member.id))["seed"])


def _totp_aad(staff_id: int) -> bytes:
    return f"staff-totp:{staff_id}".encode()


def _now(tutela: Tutela) -> datetime:
    return datetime.fromtimestamp(tutela.clock(), UTC)
