"""The guardians' messages in English, Romanian and Russian: complete, short where it matters."""

# ruff: noqa: RUF001
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ledger_client.notify import messages
from ledger_client.notify.messages import CrossingFacts

PLACEHOLDER = re.compile(r"[{}]")
LINK = "https://tutela.example.md/guardian/requests/4821"
ANSWER_WORDS = {"en": ("YES", "NO"), "ro": ("DA", "NU"), "ru": ("ДА", "НЕТ")}


def facts(**changes: object) -> CrossingFacts:
    base: dict[str, object] = {
        "request_id": 4821,
        "guardian_name": "Elena Rusu",
        "child_name": "Ana-Maria",
        "leaving": True,
        "border_point": "MD-LEUSENI",
        "companion_name": "Ion Popescu",
        "companion_is_guardian": False,
        "seconds_left": 3_540,
        "has_phone": True,
    }
    base.update(changes)
    return CrossingFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", messages.LANGUAGES)
@pytest.mark.parametrize("leaving", [True, False])
@pytest.mark.parametrize("companion_is_guardian", [True, False])
@pytest.mark.parametrize("has_phone", [True, False])
def test_the_crossing_email_says_everything_and_leaves_no_placeholder(
    language: str, leaving: bool, companion_is_guardian: bool, has_phone: bool
) -> None:
    shown = facts(leaving=leaving, companion_is_guardian=companion_is_guardian, has_phone=has_phone)
    email = messages.crossing_email(language, shown, LINK)
    for part in (email.subject, email.body):
        assert not PLACEHOLDER.search(part)
    assert "4821" in email.subject
    assert "Ana-Maria" in email.subject
    for expected in ("Elena Rusu", "Ana-Maria", "MD-LEUSENI", "Ion Popescu", LINK, "4821"):
        assert expected in email.body
    assert messages.time_left(language, 3_540) in email.body
    yes, no = ANSWER_WORDS[language]
    assert (f"{yes} 4821" in email.body) is has_phone
    assert (f"{no} 4821" in email.body) is has_phone


@pytest.mark.parametrize(
    ("language", "leaving", "direction", "role"),
    [
        ("en", True, "leaving the country", "not a guardian"),
        ("ro", False, "intrare în țară", "nu este reprezentant legal"),
        ("ru", True, "выезд из страны", "не является законным представителем"),
    ],
)
def test_the_email_names_the_direction_and_the_companion_s_role(
    language: str, leaving: bool, direction: str, role: str
) -> None:
    body = messages.crossing_email(language, facts(leaving=leaving), LINK).body
    assert direction in body
    assert role in body


def test_a_companion_who_is_a_guardian_is_said_to_be_one() -> None:
    body = messages.crossing_email("en", facts(companion_is_guardian=True), LINK).body
    assert "Ion Popescu (one of the child's guardians)" in body


@pytest.mark.parametrize("language", ["en", "ro"])
@pytest.mark.parametrize("leaving", [True, False])
def test_a_latin_sms_fits_one_gsm_message(language: str, leaving: bool) -> None:
    text = messages.crossing_sms(
        language,
        facts(
            leaving=leaving,
            child_name="Ștefănuță",
            companion_name="Gheorghe Țurcanu-Bălănescu",
            request_id=48_211_234,
        ),
    )
    assert not PLACEHOLDER.search(text)
    assert messages.sms_parts(text) == 1
    # Diacritics would make it UCS-2 (70 characters a part): they are dropped.
    assert "Stefanuta" in text
    assert "Gheorghe Turcanu-Balanescu" in text
    yes, no = ANSWER_WORDS[language]
    assert f"{yes} 48211234 <PIN>" in text
    assert f"{no} 48211234 <PIN>" in text


def test_the_english_sms_reads_as_specified() -> None:
    assert messages.crossing_sms("en", facts()) == (
        "Tutela: Ana-Maria leaving via MD-LEUSENI with Ion Popescu. "
        "Reply YES 4821 <PIN> or NO 4821 <PIN>"
    )


def test_a_russian_sms_keeps_cyrillic_and_takes_at_most_two_parts() -> None:
    text = messages.crossing_sms(
        "ru", facts(child_name="Анастасия", companion_name="Владимир Константинович Осадчий")
    )
    assert "Анастасия" in text
    assert "ДА 4821 <PIN>" in text
    assert "НЕТ 4821 <PIN>" in text
    assert messages.sms_parts(text) <= 2


def test_very_long_names_are_shortened_in_an_sms_only() -> None:
    long_name = "Maximilian " * 8
    shown = facts(companion_name=long_name.strip())
    assert messages.sms_parts(messages.crossing_sms("en", shown)) == 1
    assert long_name.strip() in messages.crossing_email("en", shown, LINK).body


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_the_activation_email_carries_the_code_its_expiry_and_the_link(language: str) -> None:
    expires = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)
    link = "https://tutela.example.md/guardian/activate"
    email = messages.activation_email(language, "Elena Rusu", "7K2M-9QXR-4TWB-C8ND", expires, link)
    for part in (email.subject, email.body):
        assert not PLACEHOLDER.search(part)
    for expected in ("Elena Rusu", "7K2M-9QXR-4TWB-C8ND", "2031-05-17 09:30 UTC", link):
        assert expected in email.body


@pytest.mark.parametrize("language", messages.LANGUAGES)
@pytest.mark.parametrize("outcome", messages.ANSWER_OUTCOMES)
def test_every_sms_answer_exists_in_every_language(language: str, outcome: str) -> None:
    text = messages.sms_answer(language, outcome, 4821)
    assert text.startswith("Tutela: ")
    assert not PLACEHOLDER.search(text)
    assert messages.sms_parts(text) <= 2


def test_answers_name_the_request_where_it_matters() -> None:
    assert messages.sms_answer("en", "not-pending", 4821) == (
        "Tutela: request 4821 is not pending any more."
    )
    assert messages.sms_answer("ro", "approved", 7) == (
        "Tutela: aprobarea cererii 7 a fost inregistrata."
    )
    assert messages.sms_answer("ru", "denied", 7) == "Tutela: ваш отказ по запросу 7 записан."
    assert messages.sms_answer("en", "too-many-replies", None) == (
        "Tutela: too many replies, try again in 15 minutes."
    )


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 30, "less than a minute"),
        ("en", 60, "1 minute"),
        ("en", 3_900, "1 hour and 5 minutes"),
        ("en", 2 * 86_400 + 7_200 + 59, "2 days and 2 hours"),
        ("ro", 60, "un minut"),
        ("ro", 19 * 60, "19 minute"),
        ("ro", 20 * 60, "20 de minute"),
        ("ro", 3_600 + 45 * 60, "o oră și 45 de minute"),
        ("ro", 86_400, "o zi"),
        ("ru", 21 * 60, "21 минута"),
        ("ru", 2 * 3_600 + 11 * 60, "2 часа 11 минут"),
        ("ru", 5 * 3_600, "5 часов"),
        ("ru", 23 * 60, "23 минуты"),
        ("ru", 3 * 86_400, "3 дня"),
        ("ru", 0, "меньше минуты"),
    ],
)
def test_time_left_uses_each_language_s_plurals(language: str, seconds: int, expected: str) -> None:
    assert messages.time_left(language, seconds) == expected


def test_an_unknown_language_falls_back_to_romanian() -> None:
    assert messages.language_of("de") == "ro"
    assert messages.sms_answer("de", "wrong-pin", None) == messages.sms_answer(
        "ro", "wrong-pin", None
    )


def test_sms_parts_counts_gsm_and_unicode_messages() -> None:
    assert messages.sms_parts("a" * 160) == 1
    assert messages.sms_parts("a" * 161) == 2
    assert messages.sms_parts("я" * 70) == 1
    assert messages.sms_parts("я" * 71) == 2
    assert messages.gsm_friendly("Bălți, Ștefan Țurcanu") == "Balti, Stefan Turcanu"
