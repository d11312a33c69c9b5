"""The card's QR payload: signed by the registry, refused when forged, altered or foreign."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_client.card_qr import (
    ScannedCard,
    card_public_key,
    card_public_key_hex,
    card_signing_key,
    looks_like_payload,
    qr_svg,
    sign_card,
    verify_card,
)
from ledger_client.cards import damm_check_digit
from ledger_client.errors import ConfigurationError, InputError, SignatureError
from ledger_client.settings import Settings, load_settings

CARD = "123456789" + damm_check_digit("123456789")
CHILD_ID = "0x00112233445566778899aabbccddeeff"
ISSUED = date(2026, 3, 9)
# The characters a payload can hold, so a flip stays plausible scanner output.
PAYLOAD_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(tmp_path, environ={})
    settings.generate_secrets()
    return settings


@pytest.fixture
def payload(settings: Settings) -> str:
    return sign_card(settings, CARD, CHILD_ID, ISSUED)


def test_a_signed_card_verifies_with_the_registry_public_key(
    settings: Settings, payload: str
) -> None:
    scanned = verify_card(card_public_key_hex(settings), payload)
    assert scanned == ScannedCard(card=CARD, child_id=CHILD_ID, issued=ISSUED)
    assert verify_card(card_public_key(settings), payload) == scanned
    assert verify_card(bytes.fromhex(card_public_key_hex(settings)), payload) == scanned


def test_the_payload_has_the_documented_shape(settings: Settings, payload: str) -> None:
    prefix, card, child, issued, signature = payload.split(":")
    assert (prefix, card, child, issued) == ("TUTELA1", CARD, CHILD_ID[2:].upper(), "20260309")
    assert re.fullmatch(r"[A-Z2-7]{103}", signature)  # 64 bytes, base32 without padding
    assert card_signing_key(settings).public_key().public_bytes_raw().hex() == (
        card_public_key_hex(settings)
    )


def test_the_payload_carries_no_personal_data(payload: str) -> None:
    # sign_card is never given a name or a birth date; the payload holds only the card
    # number, the opaque record id, the issue date and the signature.
    fields = payload.split(":")
    assert len(fields) == 5
    assert re.fullmatch(r"[0-9A-Z:]+", payload)
    assert len(payload) == 164


def test_signing_with_the_key_equals_signing_with_the_settings(
    settings: Settings, payload: str
) -> None:
    # Ed25519 is deterministic: the same key and message give the same signature.
    by_key = sign_card(
        card_signing_key(settings),
        f"{CARD[:4]}-{CARD[4:8]}-{CARD[8:]}",
        bytes.fromhex(CHILD_ID[2:]),
        ISSUED,
    )
    assert by_key == payload


def test_any_flipped_character_is_refused(settings: Settings, payload: str) -> None:
    public = card_public_key_hex(settings)
    accepted = []
    for position, original in enumerate(payload):
        for replacement in PAYLOAD_ALPHABET.replace(original, ""):
            altered = payload[:position] + replacement + payload[position + 1 :]
            try:
                verify_card(public, altered)
            except (SignatureError, InputError):
                continue
            accepted.append((position, replacement))
    assert accepted == []


def test_an_altered_child_id_is_a_bad_signature(settings: Settings, payload: str) -> None:
    start = payload.index(CHILD_ID[2:].upper())
    altered = payload[:start] + "F" + payload[start + 1 :]
    with pytest.raises(SignatureError) as caught:
        verify_card(card_public_key_hex(settings), altered)
    assert str(caught.value) == "this card's signature is not the registry's: do not accept it"


def test_another_registrys_card_is_refused(settings: Settings) -> None:
    foreign = sign_card(Ed25519PrivateKey.generate(), CARD, CHILD_ID, ISSUED)
    with pytest.raises(SignatureError, match="not the registry's"):
        verify_card(card_public_key_hex(settings), foreign)


def test_whitespace_and_lower_case_from_a_scanner_are_accepted(
    settings: Settings, payload: str
) -> None:
    typed = f"  {payload.lower()}\r\n"
    assert looks_like_payload(typed)
    assert verify_card(card_public_key_hex(settings), typed).card == CARD


@pytest.mark.parametrize(
    "text", ["", "1234-5678-90", CARD, "https://example.org/", "TUTELA", "tutela1"]
)
def test_a_typed_number_or_other_text_is_not_a_payload(settings: Settings, text: str) -> None:
    assert not looks_like_payload(text)
    with pytest.raises(InputError, match="not a Tutela card QR code"):
        verify_card(card_public_key_hex(settings), text)


@pytest.mark.parametrize(
    "text", ["TUTELA1:", "TUTELA1:1234567890", "TUTELA1:" + "0" * 300, "TUTELA1::::"]
)
def test_a_broken_payload_is_refused(settings: Settings, text: str) -> None:
    with pytest.raises(InputError, match="not a Tutela card QR code"):
        verify_card(card_public_key_hex(settings), text)


def test_a_newer_format_says_so(settings: Settings, payload: str) -> None:
    newer = "TUTELA2" + payload.removeprefix("TUTELA1")
    assert looks_like_payload(newer)
    with pytest.raises(InputError, match="newer format"):
        verify_card(card_public_key_hex(settings), newer)


def test_errors_do_not_echo_the_payload(settings: Settings, payload: str) -> None:
    with pytest.raises(SignatureError) as forged:
        verify_card(card_public_key_hex(settings), payload[:-10] + "AAAAAAAAAA")
    with pytest.raises(InputError) as malformed:
        verify_card(card_public_key_hex(settings), payload + "X")
    for error in (forged.value, malformed.value):
        assert CARD not in str(error)
        assert CHILD_ID[2:].upper() not in str(error)


@pytest.mark.parametrize("child_id", ["0x1234", "not hex", b"\x00" * 15])
def test_a_malformed_record_id_is_not_signed(settings: Settings, child_id: str | bytes) -> None:
    with pytest.raises(InputError, match="16 bytes"):
        sign_card(settings, CARD, child_id, ISSUED)


def test_a_malformed_public_key_is_a_configuration_error(payload: str) -> None:
    with pytest.raises(ConfigurationError, match="32 bytes"):
        verify_card("abcd", payload)


def test_the_signing_key_needs_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tutela init"):
        card_signing_key(load_settings(tmp_path, environ={}))


def test_the_qr_code_is_an_accessible_inline_svg_sized_for_print(payload: str) -> None:
    svg = qr_svg(payload, label='Card "QR" <code>')
    assert svg.startswith('<svg role="img" aria-label="Card &quot;QR&quot; &lt;code&gt;" ')
    assert "<?xml" not in svg
    assert 'width="26.5mm" height="26.5mm"' in svg
    assert '<title>Card "QR" &lt;code&gt;</title>' in svg  # escaped by segno
    # The payload fits a QR code's compact alphanumeric mode: version 7 at level M.
    code = segno.make(payload, error="m")
    assert (code.mode, code.designator) == ("alphanumeric", "7-M")


def test_an_empty_qr_code_is_refused() -> None:
    with pytest.raises(InputError):
        qr_svg("")
