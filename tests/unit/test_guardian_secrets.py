"""The rules of guardians' secrets and contacts: activation codes, passwords, PINs, phones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_client.errors import InputError
from ledger_client.identity import CommitmentKey, GuardianInput, normalise_phone, phone_lookup
from ledger_client.services.guardian_keys import (
    CODE_ALPHABET,
    ActivationCode,
    check_guardian_password,
    check_pin,
    format_activation_code,
    new_activation_code,
    normalise_activation_code,
)

PASSWORD = "a long walk by the river Prut"


def test_a_new_code_is_sixteen_characters_of_crockford_base32_in_groups() -> None:
    codes = {new_activation_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(CODE_ALPHABET)
    # Every character of the alphabet turns up: the codes are drawn from all of it.
    assert set("".join(codes).replace("-", "")) == set(CODE_ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "7K3M-9QXZ-0A1B-4T8V",
        "7k3m-9qxz-0a1b-4t8v",
        "7K3M9QXZ0A1B4T8V",
        " 7K3M 9QXZ 0A1B 4T8V ",
        "7K3M-9QXZ-OA1B-4T8V",  # O typed for 0
        "7K3M-9QXZ-0AIB-4T8V",  # I typed for 1
        "7K3M-9QXZ-0alb-4T8V",  # l typed for 1
    ],
)
def test_a_code_is_accepted_however_it_is_typed(typed: str) -> None:
    assert normalise_activation_code(typed) == "7K3M9QXZ0A1B4T8V"


@pytest.mark.parametrize(
    "typed", ["", "7K3M-9QXZ-0A1B-4T8", "7K3M-9QXZ-0A1B-4T8VW", "7K3M-9QXZ-0A1B-4T8U", "7K3M_9QXZ"]
)
def test_a_malformed_code_is_refused_without_repeating_it(typed: str) -> None:
    with pytest.raises(InputError, match="16 letters and digits") as caught:
        normalise_activation_code(typed)
    if typed:
        assert typed not in str(caught.value)


@given(st.text(alphabet=CODE_ALPHABET, min_size=16, max_size=16))
def test_a_shown_code_reads_back_as_itself(raw: str) -> None:
    assert normalise_activation_code(format_activation_code(raw)) == raw


def test_the_repr_of_a_code_shows_no_secret_and_no_personal_data() -> None:
    shown = ActivationCode("Elena Pop", "AB123456", "7K3M-9QXZ-0A1B-4T8V", "2030-01-01T00:00:00")
    assert all(part not in repr(shown) for part in ("Elena", "AB123456", "7K3M"))


@pytest.mark.parametrize(
    ("password", "message"),
    [("fourteen chars", "at least 15"), ("x" * 201, "at most 200")],
)
def test_guardian_passwords_are_long(password: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_guardian_password(password)


def test_a_fifteen_character_password_will_do() -> None:
    check_guardian_password("fifteen chars!!")
    check_guardian_password("x" * 200)


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        ("40621", "exactly 6 digits"),
        ("4062130", "exactly 6 digits"),
        ("40621a", "exactly 6 digits"),
        ("\u0664\u0660\u0666\u0662\u0661\u0663", "exactly 6 digits"),  # Arabic-Indic digits
        ("000000", "repeat one digit"),
        ("777777", "repeat one digit"),
        ("123456", "consecutive"),
        ("345678", "consecutive"),
        ("654321", "consecutive"),
        ("987654", "consecutive"),
        ("890123", "consecutive"),
        ("210987", "consecutive"),
    ],
)
def test_weak_or_malformed_pins_are_refused(pin: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_pin(pin, PASSWORD)


def test_a_pin_inside_the_password_is_refused() -> None:
    with pytest.raises(InputError, match="inside the password"):
        check_pin("406213", "my pin is 406213, not that you asked")


@pytest.mark.parametrize("pin", ["406213", "112233", "135790", "123455", "000001"])
def test_other_pins_are_accepted(pin: str) -> None:
    check_pin(pin, PASSWORD)


@pytest.mark.parametrize(
    "typed",
    [
        "+37369123456",
        "+373 69 123 456",
        "+373-69-123-456",
        "0037369123456",
        "00 373 69 123 456",
        "069123456",
        "069 123 456",
        "069-123-456",
        "069.123.456",
        "(069) 123 456",
        "\uff0b\uff13\uff17\uff13\uff16\uff19\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width
    ],
)
def test_phone_numbers_are_normalised_to_plus_and_digits(typed: str) -> None:
    assert normalise_phone(typed) == "+37369123456"


def test_other_countries_keep_their_code() -> None:
    assert normalise_phone("+40 721 234 567") == "+40721234567"
    assert normalise_phone("0040721234567") == "+40721234567"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("69123456", "must start with \\+ or 00"),
        ("0691234567", "must start with \\+ or 00"),  # a trunk 0 and 9 digits: not Moldovan
        ("+1234567", "8 to 15 digits"),
        ("+1234567890123456", "8 to 15 digits"),
        ("+3736912345a", "only digits"),
        ("+373 69 123 456 ext 1", "only digits"),
        ("+\u0663\u0667\u0663\u0666\u0669\u0661\u0662\u0663", "only digits"),  # Arabic-Indic
    ],
)
def test_malformed_phone_numbers_are_refused_without_repeating_them(
    typed: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        normalise_phone(typed)
    if typed.strip():
        assert typed.strip() not in str(caught.value)


def test_a_phone_lookup_is_keyed_and_ignores_how_the_number_was_typed() -> None:
    key = CommitmentKey.from_bytes(bytes(range(32)))
    other = CommitmentKey.from_bytes(bytes(range(1, 33)))
    lookup = phone_lookup(key, "069 123 456")
    assert lookup == phone_lookup(key, "+37369123456") == phone_lookup(key, "0037369123456")
    assert lookup.startswith("0x")
    assert len(lookup) == 66
    assert lookup != phone_lookup(other, "+37369123456")
    assert lookup != phone_lookup(key, "+37369123457")
    # Not the document commitment's domain: a phone and a document never share a look-up.
    assert "37369123456" not in lookup


def test_a_guardian_may_be_given_with_a_phone() -> None:
    guardian = GuardianInput.parse_spec("Elena Pop;AB-123 456;elena@x.md;069 123 456")
    assert guardian == GuardianInput("Elena Pop", "AB123456", "elena@x.md", "+37369123456")
    assert GuardianInput.parse_spec("Elena Pop;AB123456;elena@x.md;").phone is None
    assert GuardianInput.parse_spec("Elena Pop;AB123456;elena@x.md").phone is None
