"""The signed QR code on a child's ID card, checkable offline.

The payload is short ASCII that a QR code holds in its compact alphanumeric mode::

    TUTELA1:<card digits>:<child id, 32 hex>:<issued YYYYMMDD>:<Ed25519 signature, base32>

The registry signs everything before the last colon with its card-signing key (Ed25519, the
seed is the ``CARD_SIGNING_KEY`` secret). A border device that holds only the 32-byte public
key (:func:`card_public_key_hex`) can tell a genuine card from a forged or altered one with
no connection to the registry. The payload carries the card number, the opaque record id and
the issue date only: no name, no birth date, nothing that tells a stranger who the child is.

Ed25519 comes from ``cryptography``, like the envelope encryption in
:mod:`ledger_client.crypto`; the two primitives used here are kept in
:func:`_sign` and :func:`_verify` so that they can move there in one step.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from datetime import date
from typing import Final

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger_client.cards import CARD_DIGITS, CardNumber, parse_card
from ledger_client.errors import ConfigurationError, InputError, SignatureError
from ledger_client.settings import CARD_SIGNING_KEY, Settings

__all__ = [
    "PAYLOAD_PREFIX",
    "ScannedCard",
    "card_public_key",
    "card_public_key_hex",
    "card_signing_key",
    "looks_like_payload",
    "qr_svg",
    "sign_card",
    "verify_card",
]

PAYLOAD_PREFIX: Final = "TUTELA1"
_CHILD_ID_BYTES: Final = 16
_SIGNATURE_BYTES: Final = 64
_PUBLIC_KEY_BYTES: Final = 32
# A genuine payload is 164 characters; longer input is refused before any parsing.
_MAX_INPUT_CHARS: Final = 256
# Any version of the format, so that a newer card is told apart from a typed card number.
_ANY_VERSION: Final = re.compile(r"TUTELA[0-9]+:")
_PAYLOAD: Final = re.compile(
    rf"(?P<signed>{PAYLOAD_PREFIX}"
    rf":(?P<card>[0-9]{{{CARD_DIGITS}}})"
    rf":(?P<child>[0-9A-F]{{{_CHILD_ID_BYTES * 2}}})"
    r":(?P<issued>[0-9]{8}))"
    r":(?P<signature>[A-Z2-7]+)"
)
_NOT_A_CARD: Final = "this is not a Tutela card QR code"
_FORGED: Final = "this card's signature is not the registry's: do not accept it"
_DEFAULT_LABEL: Final = "Signed QR code of the child's Tutela card"


@dataclass(frozen=True)
class ScannedCard:
    """What a genuine card's QR code says.

    Attributes:
        card: The card number, ten digits.
        child_id: The child's record id as the store writes it: ``"0x"`` and 32 hex digits.
        issued: The day the card was issued.
    """

    card: CardNumber
    child_id: str
    issued: date


def card_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """Return the registry's card-signing key, from the ``CARD_SIGNING_KEY`` secret.

    Raises:
        ConfigurationError: The secret is missing or malformed.
    """
    return Ed25519PrivateKey.from_private_bytes(settings.secret(CARD_SIGNING_KEY))


def card_public_key(settings: Settings) -> Ed25519PublicKey:
    """Return the public half of the card-signing key, which border devices check against.

    Raises:
        ConfigurationError: The secret is missing or malformed.
    """
    return card_signing_key(settings).public_key()


def card_public_key_hex(settings: Settings) -> str:
    """Return the raw 32-byte card-signing public key in hex, for offline border devices.

    Raises:
        ConfigurationError: The secret is missing or malformed.
    """
    return card_public_key(settings).public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign_card(
    settings_or_key: Settings | Ed25519PrivateKey,
    card: str,
    child_id: str | bytes,
    issued: date,
) -> str:
    """Return the signed QR payload of a card.

    Args:
        settings_or_key: The settings holding the card-signing secret, or the key itself.
        card: The card number, as stored or as typed (``"1234-5678-90"``).
        child_id: The record id: ``"0x"`` and 32 hex digits, or the 16 bytes.
        issued: The day the card is issued.

    Returns:
        The payload, uppercase ASCII, to be encoded by :func:`qr_svg`.

    Raises:
        InputError: The card number or the record id is malformed.
        ConfigurationError: The card-signing secret is missing or malformed.
    """
    key = (
        card_signing_key(settings_or_key)
        if isinstance(settings_or_key, Settings)
        else settings_or_key
    )
    signed = ":".join(
        (PAYLOAD_PREFIX, parse_card(card), _child_id_hex(child_id), issued.strftime("%Y%m%d"))
    )
    signature = base64.b32encode(_sign(key, signed.encode("ascii"))).decode("ascii")
    return f"{signed}:{signature.rstrip('=')}"


def looks_like_payload(text: str) -> bool:
    """Return True when ``text`` is meant as a Tutela QR payload rather than a typed number.

    True for any version of the format, so that a card this desk cannot read is refused with
    a clear message by :func:`verify_card` instead of being taken for a card number.
    """
    if not isinstance(text, str) or len(text) > _MAX_INPUT_CHARS:
        return False
    return _ANY_VERSION.match(text.strip().upper()) is not None


def verify_card(public_key: Ed25519PublicKey | bytes | str, text: str) -> ScannedCard:
    """Check a scanned QR payload against the registry's card-signing public key.

    A QR scanner types into a text field, so surrounding whitespace and lower case (from a
    scanner with Caps Lock on, or a phone keyboard) are accepted.

    Args:
        public_key: The registry's public key, as an object, 32 raw bytes or 64 hex digits.
        text: What the scanner typed.

    Returns:
        The card number, record id and issue date the registry signed.

    Raises:
        InputError: ``text`` is not a Tutela card payload of a version this desk reads.
        SignatureError: The payload has the right shape but the registry did not sign it
            (a forged or altered card, or a card of another registry).
        ConfigurationError: ``public_key`` is not an Ed25519 public key.
    """
    key = _public_key(public_key)
    if not isinstance(text, str) or len(text) > _MAX_INPUT_CHARS:
        raise InputError(_NOT_A_CARD)
    normalised = text.strip().upper()
    match = _PAYLOAD.fullmatch(normalised)
    if match is None:
        version = _ANY_VERSION.match(normalised)
        if version is not None and version.group() != PAYLOAD_PREFIX + ":":
            raise InputError(
                "this card's QR code has a newer format than this desk reads: type the card "
                "number instead"
            )
        raise InputError(_NOT_A_CARD)
    signature = _decode_signature(match["signature"])
    try:
        card = parse_card(match["card"])
        issued = date(int(match["issued"][:4]), int(match["issued"][4:6]), int(match["issued"][6:]))
    except (InputError, ValueError):
        raise InputError(_NOT_A_CARD) from None
    if not _verify(key, signature, match["signed"].encode("ascii")):
        raise SignatureError(_FORGED)
    return ScannedCard(card=card, child_id="0x" + match["child"].lower(), issued=issued)


def qr_svg(payload: str, *, label: str = _DEFAULT_LABEL, module_mm: float = 0.5) -> str:
    """Return the QR code of ``payload`` as an inline ``<svg>`` element for an HTML page.

    The size is given in millimetres, so a printed card gets the same code on every printer:
    at 0.5 mm a module, the 164-character payload (a version 7 code, quiet zone included)
    is 26.5 mm wide, which a phone camera reads from a hand's length.

    Args:
        payload: The text to encode, usually from :func:`sign_card`.
        label: The accessible name screen readers announce (translate it in the page).
        module_mm: The side of one module (dark or light square), in millimetres.

    Raises:
        InputError: ``payload`` is empty or too long for a QR code.
    """
    if not payload:
        raise InputError("there is nothing to put in the QR code")
    try:
        # Level M survives about 15 % damage: a scratched or bent card still scans.
        code = segno.make(payload, error="m")
    except segno.DataOverflowError:
        raise InputError("the text is too long for a QR code") from None
    svg = code.svg_inline(scale=module_mm, unit="mm", title=label)
    # segno has no option for ARIA attributes: they go on the root element, whose opening
    # tag segno writes as "<svg " first.
    attributes = f'<svg role="img" aria-label="{html.escape(label, quote=True)}" '
    return attributes + svg.removeprefix("<svg ")


def _child_id_hex(child_id: str | bytes) -> str:
    if isinstance(child_id, bytes | bytearray):
        raw = bytes(child_id)
    else:
        try:
            raw = bytes.fromhex(child_id.removeprefix("0x"))
        except ValueError:
            raw = b""
    if len(raw) != _CHILD_ID_BYTES:
        raise InputError(f"a child's record id must be {_CHILD_ID_BYTES} bytes")
    return raw.hex().upper()


def _decode_signature(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    try:
        signature = base64.b32decode(padded)
    except binascii.Error:
        raise InputError(_NOT_A_CARD) from None
    # The last base32 character carries spare bits that decoding ignores; insisting on the
    # one canonical spelling means that no altered character is ever accepted.
    if len(signature) != _SIGNATURE_BYTES or base64.b32encode(signature).decode() != padded:
        raise InputError(_NOT_A_CARD)
    return signature


def _public_key(public_key: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    try:
        raw = bytes.fromhex(public_key) if isinstance(public_key, str) else bytes(public_key)
    except ValueError:
        raw = b""
    if len(raw) != _PUBLIC_KEY_BYTES:
        raise ConfigurationError(
            f"the card-signing public key must be {_PUBLIC_KEY_BYTES} bytes "
            f"({_PUBLIC_KEY_BYTES * 2} hex digits)"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def _sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def _verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
