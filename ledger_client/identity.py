"""Keyed commitments to a child's identity and to identity documents.

The chain holds ``HMAC-SHA256(key, canonical form)``, never the data. Because the key is a
secret held by the registry, nobody can test a guessed name and birth date against the
chain; a plain hash of such low-entropy data would fall to a dictionary in seconds.

The canonical forms make the commitment depend on *what* was written, not on how it was
typed: Unicode normalisation, case folding and whitespace collapsing happen here, once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Final

from ledger_client.crypto import SecretKey
from ledger_client.errors import InputError

__all__ = [
    "ADULT_AGE",
    "CHILD_DOMAIN",
    "DOCUMENT_DOMAIN",
    "MAX_DOCUMENT_CHARS",
    "MAX_EMAIL_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PHONE_DIGITS",
    "MIN_PHONE_DIGITS",
    "ChildPersonalData",
    "CommitmentKey",
    "GuardianInput",
    "canonical_child",
    "child_commitment",
    "document_commitment",
    "normalise_document",
    "normalise_phone",
    "phone_lookup",
]

KEY_BYTES: Final = 32
MAX_NAME_CHARS: Final = 100
MAX_DOCUMENT_CHARS: Final = 32
MAX_EMAIL_CHARS: Final = 254
# E.164 allows at most 15 digits; fewer than 8 is no reachable number with its country code.
MIN_PHONE_DIGITS: Final = 8
MAX_PHONE_DIGITS: Final = 15
ADULT_AGE: Final = 18

# Domain separation: a child commitment can never equal a document commitment, and a
# future canonical form (v2) can never collide with this one.
CHILD_DOMAIN: Final = b"tutela/child/v1\x00"
DOCUMENT_DOMAIN: Final = b"tutela/document/v1\x00"
PHONE_DOMAIN: Final = b"phone:"

# Anything far longer than a field may be is refused before normalisation runs over it.
_MAX_RAW_CHARS: Final = 1024
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DOCUMENT_SEPARATORS: Final = re.compile(r"[\s\-./\u2010-\u2015\u2212]+")
_DOCUMENT_CHARS: Final = re.compile(r"[A-Z0-9]+")
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-.()\u2010-\u2015\u2212]+")
# Moldovan numbers dialled at home: a trunk 0, then 8 digits (never 00, the exit prefix).
_MOLDOVAN_LOCAL: Final = re.compile(r"0[1-9][0-9]{7}")
_MOLDOVA_CODE: Final = "373"
_EMAIL_LOCAL: Final = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_EMAIL_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Romanian keyboards and legacy systems type s/t with a cedilla where the standard has a
# comma below (ş/ș, ţ/ț). Both spellings of a name must give one commitment.
_CEDILLA_TO_COMMA: Final = str.maketrans("şţ", "șț")


class CommitmentKey(SecretKey):
    """The registry's HMAC-SHA256 key for commitments.

    Rotating it changes every commitment, so it is long-lived.
    """

    __slots__ = ()
    _label = "a commitment key"

    def mac(self, message: bytes) -> bytes:
        """Return ``HMAC-SHA256(key, message)`` (32 bytes)."""
        return hmac.new(self._key, message, hashlib.sha256).digest()


def _clean_text(value: str, label: str) -> str:
    """NFC, whitespace collapsed and trimmed; case kept, for display and storage."""
    if not isinstance(value, str):
        raise InputError(f"{label} must be text")
    if len(value) > _MAX_RAW_CHARS:
        raise InputError(f"{label} is longer than {MAX_NAME_CHARS} characters")
    cleaned = " ".join(unicodedata.normalize("NFC", value).split())
    if not cleaned:
        raise InputError(f"{label} is empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise InputError(f"{label} is longer than {MAX_NAME_CHARS} characters")
    # Invisible characters (a zero-width space, a soft hyphen) would give the same name a
    # different commitment and so let one child be enrolled twice unnoticed.
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in cleaned):
        raise InputError(f"{label} contains a control or invisible character")
    return cleaned


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        # Born on 29 February: the anniversary in a common year is taken as 1 March.
        return date(day.year + years, 3, 1)


def _parse_birth_date(value: str, today: date) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise InputError("birth date must be written YYYY-MM-DD")
    try:
        birth_date = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError("birth date is not a valid calendar date") from None
    if birth_date > today:
        raise InputError("birth date is in the future")
    if _add_years(birth_date, ADULT_AGE) <= today:
        raise InputError(
            f"birth date is {ADULT_AGE} or more years ago: only children under {ADULT_AGE} "
            "can be registered"
        )
    return birth_date


@dataclass(frozen=True)
class ChildPersonalData:
    """A child's personal data, as stored encrypted off-chain and committed on-chain.

    Build it with :meth:`parse`, which validates; the plain constructor trusts its
    arguments (use it for data read back from the encrypted store).
    """

    given_name: str
    family_name: str
    birth_date: date
    birth_place: str

    @classmethod
    def parse(
        cls,
        given_name: str,
        family_name: str,
        birth_date: str,
        birth_place: str,
        *,
        today: date,
    ) -> ChildPersonalData:
        """Validate user input and return it tidied (NFC, single spaces, trimmed).

        Args:
            given_name: One or more given names.
            family_name: One or more family names.
            birth_date: ``YYYY-MM-DD``.
            birth_place: Locality of birth.
            today: The current date, from the caller's clock.

        Raises:
            InputError: A field is empty, longer than 100 characters or holds a control
                or invisible character; the birth date is not ``YYYY-MM-DD``, not a
                calendar date, in the future, or 18 or more years before ``today``. Messages
                name the field, never its value.
        """
        return cls(
            given_name=_clean_text(given_name, "given name"),
            family_name=_clean_text(family_name, "family name"),
            birth_date=_parse_birth_date(birth_date, today),
            birth_place=_clean_text(birth_place, "birth place"),
        )


def _fold(value: str) -> str:
    # NFD before and after case folding is Unicode's canonical caseless matching (D145);
    # the result is recomposed to NFC so that the bytes are the usual, shortest form.
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFD", value).casefold())
    folded = unicodedata.normalize("NFC", folded).translate(_CEDILLA_TO_COMMA)
    return " ".join(folded.split())


def _field(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack(">I", len(encoded)) + encoded


def canonical_child(data: ChildPersonalData) -> bytes:
    """Return the canonical bytes committed to for a child.

    ``b"tutela/child/v1\\x00"`` followed by given name, family name, birth date
    (``YYYY-MM-DD``) and birth place, in that order, each as a 4-byte big-endian length and
    UTF-8. Text is NFC, case-folded, with whitespace collapsed and trimmed, and with the
    Romanian cedilla letters ş/ţ mapped to the standard comma-below ș/ț. The lengths keep
    ``("Ana Maria", "Pop")`` apart from ``("Ana", "Maria Pop")``.

    Changing anything here changes every commitment: add a new version prefix instead.
    """
    return CHILD_DOMAIN + b"".join(
        (
            _field(_fold(data.given_name)),
            _field(_fold(data.family_name)),
            _field(data.birth_date.isoformat()),
            _field(_fold(data.birth_place)),
        )
    )


def child_commitment(key: CommitmentKey, data: ChildPersonalData) -> bytes:
    """Return the 32-byte commitment of a child: HMAC-SHA256 over :func:`canonical_child`."""
    return key.mac(canonical_child(data))


def normalise_document(document: str) -> str:
    """Normalise an identity document number for comparison.

    Compatibility forms (full-width digits) are folded, letters are upper-cased, and
    spaces, hyphens, dashes, dots and slashes are removed: ``"ab-123 456"`` and
    ``"AB123456"`` are the same document.

    Raises:
        InputError: Nothing is left, more than 32 characters are left, or a character other
            than A-Z and 0-9 remains (a Cyrillic look-alike letter, for instance). The
            message never repeats the number.
    """
    if not isinstance(document, str):
        raise InputError("document number must be text")
    if len(document) > _MAX_RAW_CHARS:
        raise InputError(f"document number is longer than {MAX_DOCUMENT_CHARS} characters")
    normalised = _DOCUMENT_SEPARATORS.sub("", unicodedata.normalize("NFKC", document).upper())
    if not normalised:
        raise InputError("document number is empty")
    if len(normalised) > MAX_DOCUMENT_CHARS:
        raise InputError(f"document number is longer than {MAX_DOCUMENT_CHARS} characters")
    if not _DOCUMENT_CHARS.fullmatch(normalised):
        raise InputError("document number may contain only the letters A-Z and digits")
    return normalised


def document_commitment(key: CommitmentKey, document: str) -> bytes:
    """Return the 32-byte commitment of an identity document number.

    ``HMAC-SHA256(key, b"tutela/document/v1\\x00" + normalised number)``: the same
    document gives the same commitment however it was typed, which is how the contract
    recognises a travelling companion as one of the child's guardians.

    Raises:
        InputError: As for :func:`normalise_document`.
    """
    return key.mac(DOCUMENT_DOMAIN + normalise_document(document).encode("ascii"))


def normalise_phone(phone: str) -> str:
    """Normalise a phone number to ``+`` and its digits, country code first.

    Spaces, dashes, dots and brackets are dropped; a leading ``00`` is read as ``+``; a
    Moldovan number dialled at home (``0`` and 8 digits, as ``069 123 456``) gets ``+373``.
    So ``"+373 69 123 456"``, ``"0037369123456"`` and ``"069-123-456"`` are one number.

    Raises:
        InputError: No country code can be found, or the number has fewer than 8 or more
            than 15 digits, or holds anything else. The message never repeats the number.
    """
    if not isinstance(phone, str):
        raise InputError("phone number must be text")
    if len(phone) > _MAX_RAW_CHARS:
        raise InputError(f"phone number has more than {MAX_PHONE_DIGITS} digits")
    compact = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", phone))
    if not compact:
        raise InputError("phone number is empty")
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif _MOLDOVAN_LOCAL.fullmatch(compact):
        digits = _MOLDOVA_CODE + compact[1:]
    else:
        raise InputError(
            "phone number must start with + or 00 and the country code "
            "(a Moldovan number may be written 0XXXXXXXX)"
        )
    # ASCII digits only: str.isdigit would let other scripts' digits through.
    if not digits.isascii() or not digits.isdigit():
        raise InputError("phone number may contain only digits after the +")
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise InputError(
            f"phone number must have {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits "
            "with its country code"
        )
    return "+" + digits


def phone_lookup(key: CommitmentKey, phone: str) -> str:
    """Return the keyed look-up of a phone number: ``0x`` and 64 hex digits.

    ``HMAC-SHA256(key, b"phone:" + normalised number)``, so an incoming SMS finds its
    guardian without the store holding the number in clear, and nobody without the key can
    test a guessed number against the store.

    Raises:
        InputError: As for :func:`normalise_phone`.
    """
    return "0x" + key.mac(PHONE_DOMAIN + normalise_phone(phone).encode("ascii")).hex()


def _parse_email(value: str) -> str:
    invalid = InputError("guardian e-mail address is not valid")
    if not isinstance(value, str):
        raise invalid
    email = value.strip()
    if len(email) > MAX_EMAIL_CHARS:
        raise InputError(f"guardian e-mail address is longer than {MAX_EMAIL_CHARS} characters")
    if email.count("@") != 1:
        raise invalid
    local, domain = email.split("@")
    labels = domain.split(".")
    # ASCII only: an internationalised domain must be given in its xn-- form.
    if (
        not _EMAIL_LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or not all(_EMAIL_LABEL.fullmatch(label) for label in labels)
    ):
        raise invalid
    # Domains are case-insensitive; the local part is the mailbox owner's business.
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True)
class GuardianInput:
    """A guardian as entered by a registry official.

    ``document`` is already normalised (see :func:`normalise_document`), and ``phone`` too
    when given (see :func:`normalise_phone`).
    """

    name: str
    document: str
    email: str
    phone: str | None = None

    @classmethod
    def parse(cls, name: str, document: str, email: str, phone: str | None = None) -> GuardianInput:
        """Validate one guardian's fields; an empty or missing phone means none.

        Raises:
            InputError: The name is empty, longer than 100 characters or holds a control
                or invisible character; the document number is invalid (see
                :func:`normalise_document`); the e-mail address is not a plausible
                address of at most 254 characters; or the phone number is invalid (see
                :func:`normalise_phone`). Messages never repeat the values.
        """
        return cls(
            name=_clean_text(name, "guardian name"),
            document=normalise_document(document),
            email=_parse_email(email),
            phone=normalise_phone(phone) if phone is not None and phone.strip() else None,
        )

    @classmethod
    def parse_spec(cls, spec: str) -> GuardianInput:
        """Parse the CLI form ``"NAME;DOCUMENT;EMAIL"`` or ``"NAME;DOCUMENT;EMAIL;PHONE"``.

        Raises:
            InputError: ``spec`` does not have three or four ``;``-separated parts, or a
                part is invalid as for :meth:`parse`.
        """
        parts = spec.split(";") if isinstance(spec, str) else []
        if len(parts) not in (3, 4):
            raise InputError(
                "a guardian must be given as NAME;DOCUMENT;EMAIL or NAME;DOCUMENT;EMAIL;PHONE "
                "(parts separated by ';')"
            )
        return cls.parse(*parts)


# Keeps the name-and-birth look-up apart from every other MAC made with the commitment key.
NAME_BIRTH_DOMAIN: Final = b"tutela/name-birth/v1\x00"


def name_birth_lookup(
    key: CommitmentKey, given_name: str, family_name: str, birth_date: date
) -> str:
    """Return the keyed look-up of a child's names and birth date: ``0x`` and 64 hex digits.

    ``HMAC-SHA256(key, b"tutela/name-birth/v1\\x00" + canonical form)``, where the canonical
    form is the child commitment's (:func:`canonical_child`) with an
    empty birth place: the same case folding, Unicode and cedilla rules, so "Maria Popescu"
    and "MARIA  POPESCU" find each other. Keyed, so a copy of the store cannot be searched
    for a guessed name and birth date.
    """
    data = ChildPersonalData(given_name, family_name, birth_date, "")
    return "0x" + key.mac(NAME_BIRTH_DOMAIN + canonical_child(data)).hex()


# The investigators' look-ups (migration 0008): one domain each, so that no two of them, and
# none of them and a commitment, can ever be compared with one another.
CHILD_NAME_DOMAIN: Final = b"tutela/child-name/v1\x00"
BIRTH_DATE_DOMAIN: Final = b"tutela/birth-date/v1\x00"
GUARDIAN_NAME_DOMAIN: Final = b"tutela/guardian-name/v1\x00"
COMPANION_NAME_DOMAIN: Final = b"tutela/companion-name/v1\x00"


def _keyed_lookup(key: CommitmentKey, domain: bytes, text: str) -> str:
    return "0x" + key.mac(domain + _field(_fold(text))).hex()


def child_name_lookup(key: CommitmentKey, given_name: str, family_name: str) -> str:
    """Return the keyed look-up of a child's full name (given names, then family names).

    Over the folded ``"given family"`` (the commitment's case folding, Unicode and cedilla
    rules), so an investigator who types "maria  POPESCU" finds Maria Popescu, without
    knowing where the given names end. Keyed, as :func:`name_birth_lookup` is.
    """
    return _keyed_lookup(key, CHILD_NAME_DOMAIN, f"{given_name} {family_name}")


def birth_date_lookup(key: CommitmentKey, birth_date: date) -> str:
    """Return the keyed look-up of a birth date (``YYYY-MM-DD``)."""
    return "0x" + key.mac(BIRTH_DATE_DOMAIN + _field(birth_date.isoformat())).hex()


def guardian_name_lookup(key: CommitmentKey, name: str) -> str:
    """Return the keyed look-up of a guardian's name, folded as the child's names are."""
    return _keyed_lookup(key, GUARDIAN_NAME_DOMAIN, name)


def companion_name_lookup(key: CommitmentKey, name: str) -> str:
    """Return the keyed look-up of a travelling companion's name, folded likewise."""
    return _keyed_lookup(key, COMPANION_NAME_DOMAIN, name)
