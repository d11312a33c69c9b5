"""Card numbers: ten digits that people read aloud, type, and get wrong.

Nine random digits and a Damm check digit. Damm's quasigroup catches every single-digit
error and every transposition of two adjacent digits, the two mistakes people make most,
so a mistyped number is refused at the keyboard instead of finding another child's card.
The nine random digits (10**9 numbers) are not a secret: a card number identifies, the
QR signature and the photo authenticate.
"""

from __future__ import annotations

import re
import secrets
from typing import Final, NewType

from ledger_client.errors import InputError

__all__ = [
    "CARD_DIGITS",
    "CardNumber",
    "damm_check_digit",
    "format_card",
    "new_card_number",
    "parse_card",
]

CardNumber = NewType("CardNumber", str)

CARD_DIGITS: Final = 10

# The totally anti-symmetric quasigroup of order 10 from H. M. Damm's thesis (2004).
_DAMM: Final = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_DIGITS: Final = re.compile(r"[0-9]*")
# Spaces and hyphens people put in, and the dashes word processors turn hyphens into.
_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
# Longer input is refused before any regular expression runs over it.
_MAX_INPUT_CHARS: Final = 64


def _damm_interim(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][ord(digit) - ord("0")]
    return interim


def damm_check_digit(digits: str) -> str:
    """Return the Damm check digit of a string of ASCII digits (``"572"`` gives ``"4"``).

    Raises:
        InputError: ``digits`` holds something other than 0-9.
    """
    if not _DIGITS.fullmatch(digits):
        raise InputError("only digits 0-9 can be given a check digit")
    return str(_damm_interim(digits))


def new_card_number() -> CardNumber:
    """Return a fresh card number: nine digits from ``secrets`` and a Damm check digit.

    Uniqueness is the registry's job (a unique column, retry on conflict): with 10**9
    numbers, collisions become likely after some tens of thousands of cards.
    """
    body = "".join(str(secrets.randbelow(10)) for _ in range(CARD_DIGITS - 1))
    return CardNumber(body + damm_check_digit(body))


def parse_card(text: str) -> CardNumber:
    """Parse a card number as typed: spaces and hyphens are ignored.

    Args:
        text: For example ``"1234-5678-90"`` or ``"1234 567890"``.

    Returns:
        The ten digits.

    Raises:
        InputError: There are not exactly ten digits (or something other than digits,
            spaces and hyphens), or the check digit does not match. The message says how
            many digits were found but never repeats them.
    """
    if not isinstance(text, str) or len(text) > _MAX_INPUT_CHARS:
        raise InputError(f"card number must have {CARD_DIGITS} digits")
    digits = _SEPARATORS.sub("", text)
    if not _DIGITS.fullmatch(digits):
        raise InputError(
            f"card number must have {CARD_DIGITS} digits (only digits, spaces and hyphens)"
        )
    if len(digits) != CARD_DIGITS:
        raise InputError(f"card number must have {CARD_DIGITS} digits (found {len(digits)})")
    # A valid Damm number (body followed by its check digit) reduces to zero.
    if _damm_interim(digits) != 0:
        raise InputError("card number check digit does not match: check for a typing error")
    return CardNumber(digits)


def format_card(number: str) -> str:
    """Return the card number grouped for reading aloud: ``"1234-5678-90"``.

    Raises:
        InputError: As for :func:`parse_card`.
    """
    digits = parse_card(number)
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"
