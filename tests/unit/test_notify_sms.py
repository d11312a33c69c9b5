"""Reading SMS answers and checking the gateway's signatures, without a store."""

# ruff: noqa: RUF001
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from ledger_client.errors import InputError, SignatureError
from ledger_client.notify.sms import SmsReply, parse_inbound, parse_sms_reply
from ledger_client.notify.webhook import sign_webhook, verify_webhook

KEY = bytes(range(32))
NOW = 1_760_000_000.0
BODY = b'{"from":"+37369123456","text":"YES 4821 246810"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YES 4821 246810", SmsReply(True, 4821, "246810")),
        ("yes 4821 246810", SmsReply(True, 4821, "246810")),
        ("  Da   4821\t246810 \n", SmsReply(True, 4821, "246810")),
        ("ДА 4821 246810", SmsReply(True, 4821, "246810")),
        ("да 4821 246810", SmsReply(True, 4821, "246810")),
        ("NO 4821 246810", SmsReply(False, 4821, "246810")),
        ("nu 12 000111", SmsReply(False, 12, "000111")),
        ("НЕТ 4821 246810", SmsReply(False, 4821, "246810")),
        ("Нет 4821 246810", SmsReply(False, 4821, "246810")),
        # People copy the request from the e-mail, or the placeholder's brackets.
        ("YES #4821 <246810>", SmsReply(True, 4821, "246810")),
    ],
)
def test_answers_are_read_in_three_languages(text: str, expected: SmsReply) -> None:
    assert parse_sms_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "YES",
        "YES 4821",
        "YES 4821 246810 thanks",
        "MAYBE 4821 246810",
        "YES abc 246810",
        "YES 0 246810",
        "YES 4821 24681",
        "YES 4821 2468101",
        "YES 4821 24681O",
        "YES 99999999999999999999 246810",
    ],
)
def test_anything_else_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_sms_reply(text)
    assert str(refused.value) == "reply YES or NO, then the request number and your PIN"


def test_a_reply_never_shows_its_pin() -> None:
    reply = parse_sms_reply("YES 4821 246810")
    assert "246810" not in repr(reply)
    assert "246810" not in str(reply)


def test_a_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(KEY, b"1760000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(KEY, "1760000000", BODY) == "sha256=" + expected


def test_a_fresh_well_signed_call_is_accepted() -> None:
    signature = sign_webhook(KEY, "1760000000", BODY)
    verify_webhook(KEY, "1760000000", BODY, signature, NOW)
    verify_webhook(KEY, "1760000000", BODY, signature.upper().replace("SHA256=", "sha256="), NOW)
    verify_webhook(KEY, "1760000000", BODY, signature, NOW + 300)


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "now"),
    [
        # Another key, another body, another timestamp than signed.
        ("1760000000", BODY, sign_webhook(bytes(32), "1760000000", BODY), NOW),
        ("1760000000", BODY.replace(b"YES", b"NO "), sign_webhook(KEY, "1760000000", BODY), NOW),
        ("1760000001", BODY, sign_webhook(KEY, "1760000000", BODY), NOW),
        # Too old, from the future, malformed, missing.
        ("1760000000", BODY, sign_webhook(KEY, "1760000000", BODY), NOW + 301),
        ("1760000400", BODY, sign_webhook(KEY, "1760000400", BODY), NOW),
        ("1.76e9", BODY, sign_webhook(KEY, "1.76e9", BODY), NOW),
        ("", BODY, sign_webhook(KEY, "", BODY), NOW),
        ("1760000000", BODY, "", NOW),
        ("1760000000", BODY, sign_webhook(KEY, "1760000000", BODY)[7:], NOW),
    ],
)
def test_a_forged_altered_or_stale_call_is_refused(
    timestamp: str, body: bytes, signature: str, now: float
) -> None:
    with pytest.raises(SignatureError):
        verify_webhook(KEY, timestamp, body, signature, now)


def test_the_inbound_body_gives_sender_and_text() -> None:
    inbound = parse_inbound(json.dumps({"from": "+373 69 123 456", "text": "DA 7 135790"}).encode())
    assert inbound.sender == "+373 69 123 456"
    assert inbound.text == "DA 7 135790"


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"from": "+37369123456"}', b'{"from": 1, "text": "x"}']
)
def test_a_malformed_inbound_body_is_refused(body: bytes) -> None:
    with pytest.raises(InputError):
        parse_inbound(body)
