"""Guardians' own keys: accounts, activation codes, the secrets that open a key, and the lock.

A guardian's key rests in the store encrypted under that guardian's secrets only: the
one-time activation code until activation, then the password and, in a second keystore, the
PIN mixed with a pepper kept outside the store. Whoever runs Tutela holds none of them, so
cannot sign a decision for a guardian; a copy of the store alone cannot try the million PINs
offline either. Every try of a secret is counted on the account: five wrong ones in a row
lock its decisions for a quarter of an hour.

The pure rules (codes, passwords, PINs) are at the top; what touches the store follows.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.crypto import SealedRecord, open_json, seal_json
from ledger_client.errors import CryptoError, InputError, NotFoundError, SignatureError
from ledger_client.identity import GuardianInput, document_commitment, phone_lookup
from ledger_client.keys import (
    LocalSigner,
    new_keystore,
    reencrypt_keystore,
    unlock_keystore,
)
from ledger_client.notify.enqueue import enqueue_activation_notice
from ledger_client.services.context import Tutela
from ledger_client.settings import PIN_PEPPER
from ledger_client.store.portal_models import GuardianAccount
from ledger_client.store.times import as_utc

logger = logging.getLogger(__name__)

# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH: Final = 16  # 80 bits: far beyond guessing within five tries
CODE_GROUP: Final = 4
ACTIVATION_LIFETIME: Final = timedelta(days=30)
MIN_PASSWORD: Final = 15
MAX_PASSWORD: Final = 200
PIN_LENGTH: Final = 6
MAX_WRONG_SECRETS: Final = 5
LOCK_DURATION: Final = timedelta(minutes=15)
DEFAULT_LANGUAGE: Final = "ro"
_CODE_READINGS: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_SEPARATORS: Final = re.compile(r"[\s\-]+")
_PIN: Final = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class ActivationCode:
    """A one-time code for a guardian to activate their account; shown once, never stored."""

    name: str
    document: str
    code: str  # grouped XXXX-XXXX-XXXX-XXXX
    expires_at: str  # ISO 8601, UTC

    def __repr__(self) -> str:
        # A code in a log or a traceback would let its reader activate the account.
        return f"ActivationCode(expires_at={self.expires_at!r})"


class GuardianLockedError(SignatureError):
    """Too many wrong secrets in a row: the account's decisions wait until ``locked_until``."""

    def __init__(self, locked_until: datetime) -> None:
        super().__init__(
            "too many wrong PINs or passwords in a row: decisions are locked until "
            f"{locked_until:%Y-%m-%d %H:%M} UTC"
        )
        self.locked_until = locked_until


# -- pure rules ---------------------------------------------------------------------------------


def new_activation_code() -> str:
    """A fresh code from ``secrets``, grouped for reading: ``XXXX-XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return format_activation_code(raw)


def format_activation_code(code: str) -> str:
    """A normalised code in groups of four, as it is shown."""
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def normalise_activation_code(text: str) -> str:
    """A code as typed, in its one canonical form (16 characters, no dashes).

    Case does not matter, dashes and spaces may be left out, and the letters people mistake
    for digits are read as those digits (O as 0, I and L as 1).

    Raises:
        InputError: not 16 characters of the code's alphabet once tidied.
    """
    cleaned = _CODE_SEPARATORS.sub("", text.strip()).upper().translate(_CODE_READINGS)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        raise InputError(
            f"an activation code has {CODE_LENGTH} letters and digits, as XXXX-XXXX-XXXX-XXXX"
        )
    return cleaned


def check_guardian_password(password: str) -> None:
    """A guardian's password: long rather than complicated.

    Raises:
        InputError: fewer than 15 or more than 200 characters.
    """
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password must have at most {MAX_PASSWORD} characters")


def check_pin(pin: str, password: str) -> None:
    """A guardian's PIN: six digits that are not the first a thief would try.

    Raises:
        InputError: not exactly six digits; all the same digit; a straight run up or down
            (123456, 654321, 890123); or found inside the password, which would make the
            password as weak as the PIN.
    """
    if not _PIN.fullmatch(pin):
        raise InputError(f"the PIN must be exactly {PIN_LENGTH} digits")
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps == {0}:
        raise InputError("the PIN must not repeat one digit")
    if steps in ({1}, {9}):
        raise InputError("the PIN must not be a run of consecutive digits")
    if pin in password:
        raise InputError("the PIN must not appear inside the password")


def pin_keystore_password(tutela: Tutela, pin: str) -> str:
    """What the PIN keystore is encrypted under: the PIN and the pepper, never the PIN alone."""
    return pin + ":" + tutela.settings.secret(PIN_PEPPER).hex()


# -- the account's contact ----------------------------------------------------------------------


def contact_aad(document_commitment_hex: str) -> bytes:
    """Binds a sealed contact to its account, so it cannot be moved to another row."""
    return b"guardian-account:" + document_commitment_hex.encode("ascii")


def seal_contact(tutela: Tutela, commitment_hex: str, contact: dict[str, Any]) -> bytes:
    return seal_json(
        tutela.master_key, contact, associated_data=contact_aad(commitment_hex)
    ).to_bytes()


def open_contact(tutela: Tutela, account: GuardianAccount) -> dict[str, Any]:
    """The account's name, document, e-mail and phone (a read of personal data).

    Raises:
        CryptoError: the sealed contact does not open (wrong master key, moved or altered).
    """
    record = SealedRecord.from_bytes(account.contact_sealed)
    return open_json(
        tutela.master_key, record, associated_data=contact_aad(account.document_commitment)
    )


# -- accounts in the store ----------------------------------------------------------------------


def now_of(tutela: Tutela) -> datetime:
    """Now, from Tutela's clock (tests move it)."""
    return datetime.fromtimestamp(tutela.clock(), UTC)


def commitment_hex(tutela: Tutela, document: str) -> str:
    """The document's commitment as the store keeps it.

    Raises:
        InputError: a malformed document number.
    """
    return "0x" + document_commitment(tutela.commitment_key, document).hex()


def account_by_commitment(
    session: Session, commitment: str, *, for_update: bool = False
) -> GuardianAccount | None:
    query = select(GuardianAccount).where(GuardianAccount.document_commitment == commitment)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def account_for(
    tutela: Tutela, session: Session, guardian: GuardianInput, now: datetime
) -> tuple[GuardianAccount, ActivationCode | None]:
    """The guardian's account, made with a new key and code when the person has none yet.

    The same person guarding another child keeps one account and one address: no new key,
    no code (the one they have works for every child they guard).
    """
    commitment = commitment_hex(tutela, guardian.document)
    existing = account_by_commitment(session, commitment, for_update=True)
    if existing is not None:
        return existing, None
    code = new_activation_code()
    keystore, address = new_keystore(
        normalise_activation_code(code), work_factor=tutela.settings.keystore_work_factor
    )
    contact = {
        "name": guardian.name,
        "document": guardian.document,
        "email": guardian.email,
        "phone": guardian.phone,
    }
    expires_at = now + ACTIVATION_LIFETIME
    account = GuardianAccount(
        document_commitment=commitment,
        address=address,
        contact_sealed=seal_contact(tutela, commitment, contact),
        phone_lookup=(
            phone_lookup(tutela.commitment_key, guardian.phone) if guardian.phone else None
        ),
        language=DEFAULT_LANGUAGE,
        keystore_activation=keystore,
        activation_expires_at=expires_at,
        failed_secret_attempts=0,
        created_at=now,
    )
    session.add(account)
    session.flush()
    # The code also goes by e-mail, sealed in the notification outbox until delivered; it
    # is undone with the account if the enrolment's transaction reverts.
    enqueue_activation_notice(session, tutela.master_key, account.id, code, now)
    logger.info("guardian account %s created for %s", account.id, address)
    shown = ActivationCode(
        guardian.name, guardian.document, code, expires_at.isoformat(timespec="seconds")
    )
    return account, shown


def give_new_key(tutela: Tutela, account: GuardianAccount, now: datetime) -> str:
    """Replaces the account's key by a new one under a new activation code; returns the code.

    The password and PIN go with the old key: the guardian activates again.
    """
    code = new_activation_code()
    keystore, address = new_keystore(
        normalise_activation_code(code), work_factor=tutela.settings.keystore_work_factor
    )
    account.address = address
    account.keystore_activation = keystore
    account.activation_expires_at = now + ACTIVATION_LIFETIME
    account.password_hash = None
    account.keystore_password = None
    account.keystore_pin = None
    account.activated_at = None
    account.failed_secret_attempts = 0
    account.locked_until = None
    return code


# -- trying a secret ----------------------------------------------------------------------------


def try_secret(tutela: Tutela, account_id: int, secret: str) -> tuple[LocalSigner | None, int]:
    """Tries a secret on the account's key and counts the try, in its own transaction.

    The count is committed whatever the outcome, so a refused decision still counts against
    a guesser. Before activation the secret is the activation code; after, the PIN (six
    digits) or the password.

    Returns:
        The signer (None for a wrong secret) and how many wrong tries remain before the lock.

    Raises:
        NotFoundError: no such account.
        GuardianLockedError: the account is locked now, or this wrong try locked it.
        SignatureError: the activation code has expired (not counted: nothing was tried).
    """
    now = now_of(tutela)
    locked: datetime | None = None
    with tutela.database.transaction() as session:
        account = session.get(GuardianAccount, account_id, with_for_update=True)
        if account is None:
            raise NotFoundError("there is no such guardian account")
        if account.locked_until is not None and as_utc(account.locked_until) > now:
            raise GuardianLockedError(as_utc(account.locked_until))
        signer = _open_key(tutela, account, secret, now)
        if signer is not None:
            # A right secret forgives the earlier slips: only consecutive failures lock.
            if account.failed_secret_attempts or account.locked_until is not None:
                account.failed_secret_attempts = 0
                account.locked_until = None
            return signer, MAX_WRONG_SECRETS
        account.failed_secret_attempts += 1
        left = MAX_WRONG_SECRETS - account.failed_secret_attempts
        logger.info("wrong secret for guardian account %s (%s left)", account_id, left)
        if left <= 0:
            locked = now + LOCK_DURATION
            account.locked_until = locked
            account.failed_secret_attempts = 0
    # Raised after the commit, so the lock stands.
    if locked is not None:
        raise GuardianLockedError(locked)
    return None, left


def unlock_guardian_key(tutela: Tutela, account_id: int, secret: str) -> LocalSigner:
    """The guardian's key, opened in memory by their PIN or password (or, before activation,
    their activation code). The caller signs and lets it go; nothing here keeps it.

    Raises:
        NotFoundError: no such account.
        SignatureError: a wrong secret (counted), or an expired activation code.
        GuardianLockedError: too many wrong secrets in a row; the message says until when.
    """
    signer, left = try_secret(tutela, account_id, secret)
    if signer is None:
        raise SignatureError(
            "the PIN, password or activation code is wrong: "
            f"{left} more wrong {'try locks' if left == 1 else 'tries lock'} decisions for "
            f"{LOCK_DURATION.seconds // 60} minutes"
        )
    return signer


def _open_key(
    tutela: Tutela, account: GuardianAccount, secret: str, now: datetime
) -> LocalSigner | None:
    if account.activated_at is None:
        if account.keystore_activation is None:
            return None
        expires = account.activation_expires_at
        if expires is not None and as_utc(expires) <= now:
            raise SignatureError(
                "the activation code has expired: the registry must re-verify the guardian "
                "in person to give a new one"
            )
        try:
            code = normalise_activation_code(secret)
        except InputError:
            return None
        return _unlock(account.keystore_activation, code)
    if _PIN.fullmatch(secret):
        if account.keystore_pin is None:
            return None
        return _unlock(account.keystore_pin, pin_keystore_password(tutela, secret))
    if account.keystore_password is None or not secret:
        return None
    return _unlock(account.keystore_password, secret)


def _unlock(keystore: dict[str, object], password: str) -> LocalSigner | None:
    try:
        return unlock_keystore(keystore, password)
    except CryptoError:
        return None


def reencrypted(
    keystore: dict[str, Any], password: str, *new_passwords: str, work_factor: int
) -> list[dict[str, Any]]:
    """The same key in new keystores, one under each of ``new_passwords``.

    Raises:
        CryptoError: ``password`` does not open ``keystore``.
    """
    return reencrypt_keystore(keystore, password, *new_passwords, work_factor=work_factor)
