"""Card numbers: the Damm check digit catches the typing errors people make."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_client.cards import (
    damm_check_digit,
    format_card,
    new_card_number,
    parse_card,
)
from ledger_client.errors import InputError

bodies = st.text(alphabet="0123456789", min_size=9, max_size=9)


def _valid(body: str) -> str:
    return body + damm_check_digit(body)


@pytest.mark.parametrize(("digits", "check"), [("572", "4"), ("", "0"), ("5724", "0")])
def test_known_damm_values(digits: str, check: str) -> None:
    # 572 -> 4 is the worked example of Damm's algorithm; a valid number checks to 0.
    assert damm_check_digit(digits) == check


def test_new_card_numbers_are_valid_and_random() -> None:
    numbers = {new_card_number() for _ in range(200)}
    assert len(numbers) == 200
    for number in numbers:
        assert len(number) == 10
        assert number.isascii()
        assert number.isdigit()
        assert parse_card(number) == number


@given(body=bodies)
def test_every_single_digit_substitution_is_rejected(body: str) -> None:
    number = _valid(body)
    assert parse_card(number) == number
    for position in range(10):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            typo = number[:position] + digit + number[position + 1 :]
            with pytest.raises(InputError, match="check digit does not match"):
                parse_card(typo)


@given(body=bodies)
def test_every_adjacent_transposition_is_rejected(body: str) -> None:
    number = _valid(body)
    for position in range(9):
        first, second = number[position], number[position + 1]
        if first == second:
            continue
        swapped = number[:position] + second + first + number[position + 2 :]
        with pytest.raises(InputError, match="check digit does not match"):
            parse_card(swapped)


@given(body=bodies)
def test_format_then_parse_round_trips(body: str) -> None:
    number = _valid(body)
    formatted = format_card(number)
    assert formatted == f"{number[:4]}-{number[4:8]}-{number[8:]}"
    assert parse_card(formatted) == number


@pytest.mark.parametrize(
    "typed",
    ["5724-5724-5x", "572457245"],
)
def test_wrong_shape_is_refused(typed: str) -> None:
    with pytest.raises(InputError, match="card number must have 10 digits"):
        parse_card(typed)


def test_separators_people_type_are_accepted() -> None:
    number = _valid("123456789")
    spaced = f" {number[:4]} {number[4:8]}  {number[8:]} "
    dashed = f"{number[:3]}-{number[3:6]}\u2013{number[6:]}"
    assert parse_card(spaced) == number
    assert parse_card(dashed) == number


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", r"must have 10 digits \(found 0\)"),
        ("123", r"must have 10 digits \(found 3\)"),
        ("12345678901", r"must have 10 digits \(found 11\)"),
        ("1234/5678/90", r"must have 10 digits \(only digits"),
        ("1" * 100, "must have 10 digits"),
        ("\u0661" * 10, r"must have 10 digits \(only digits"),  # Arabic-Indic ones
    ],
)
def test_errors_never_echo_the_digits(typed: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_card(typed)
    assert "123" not in str(caught.value)
    assert "111" not in str(caught.value)


def test_check_digit_error_does_not_echo() -> None:
    number = _valid("987654321")
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(InputError) as caught:
        parse_card(typo)
    assert str(caught.value) == "card number check digit does not match: check for a typing error"


def test_format_refuses_an_invalid_number() -> None:
    with pytest.raises(InputError):
        format_card("0000000001")


def test_damm_check_digit_needs_digits() -> None:
    with pytest.raises(InputError):
        damm_check_digit("12a")
