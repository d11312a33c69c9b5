"""The workbench's forms: the case, the search criteria, a look-up of links, a check on the
ledger, an export and a flag's review.

The fields are checked here first, so that each mistake is shown next to its field; the
investigation service checks everything again and stays the authority.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Regexp
from wtforms.validators import ValidationError as FieldError

from guardian_portal.registry.forms import check_document
from ledger_client.cards import parse_card
from ledger_client.errors import InputError

CASE_PATTERN = r"^[A-Za-z0-9/._-]{1,40}$"
REASON_MIN, REASON_MAX = 10, 500
NOTE_MAX = 2000
_BORDER_POINT = re.compile(r"[A-Z0-9_-]{1,16}")
_TX_HASH = r"^0x[0-9a-fA-F]{64}$"
_PERSON_KEY = r"^(person:0x[0-9a-fA-F]{64})?$"

OUTCOMES = [
    SelectChoice("", _l("Any outcome")),
    SelectChoice("crossed", _l("Crossed the border")),
    SelectChoice("turned-back", _l("Turned back")),
    SelectChoice("denied", _l("Denied")),
    SelectChoice("expired", _l("Expired")),
    SelectChoice("pending", _l("Waiting for a decision")),
    SelectChoice("approved", _l("Approved")),
]

# The criteria, in the order the form shows them and the report lists them.
CRITERIA = (
    "card",
    "child_name",
    "birth_date",
    "companion_name",
    "companion_document",
    "guardian_name",
    "guardian_document",
    "border_point",
    "date_from",
    "date_to",
    "outcome",
)


def _strip(text: Any) -> Any:
    return " ".join(text.split()) if isinstance(text, str) else text


def check_card(form: Any, field: Field) -> None:
    if field.data:
        try:
            parse_card(field.data)
        except InputError:
            raise FieldError(str(_l("A card number has 10 digits, as 1234-5678-90."))) from None


def check_date(form: Any, field: Field) -> None:
    if field.data:
        try:
            date.fromisoformat(field.data)
        except ValueError:
            raise FieldError(
                str(_l("Write a date as YYYY-MM-DD, for example 2026-03-01."))
            ) from None


def check_border_point(form: Any, field: Field) -> None:
    if field.data:
        field.data = field.data.upper()
        if not _BORDER_POINT.fullmatch(field.data):
            raise FieldError(
                str(_l("A border point code has capital letters, digits, - and _, as MD-LEUSENI."))
            )


def _text(label: Any, characters: int, *checks: Any, **kwargs: Any) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[Length(max=characters, message=_l("At most %(max)s characters.")), *checks],
        **kwargs,
    )


class CaseFields:
    """The case a look-up is made for: both go into the audit log with it."""

    case_number = StringField(
        _l("Case number"),
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[
            DataRequired(_l("Type the case number this search is for.")),
            Regexp(
                CASE_PATTERN,
                message=_l("A case number has at most 40 letters, digits and / . _ -."),
            ),
        ],
    )
    reason = TextAreaField(
        _l("Reason for this search"),
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[
            DataRequired(_l("Write why you search, in a sentence.")),
            Length(
                min=REASON_MIN,
                max=REASON_MAX,
                message=_l("Write the reason in %(min)s to %(max)s characters."),
            ),
        ],
    )


class CriteriaFields:
    card = _text(_l("Card number"), 20, check_card)
    child_name = _text(_l("Child's name (given and family name)"), 200)
    birth_date = _text(_l("Child's birth date"), 10, check_date, render_kw={"type": "date"})
    companion_name = _text(_l("Companion's name"), 100)
    companion_document = _text(_l("Companion's document number"), 40, check_document)
    guardian_name = _text(_l("Guardian's name"), 100)
    guardian_document = _text(_l("Guardian's document number"), 40, check_document)
    border_point = _text(_l("Border point"), 16, check_border_point)
    date_from = _text(_l("Requested on or after"), 10, check_date, render_kw={"type": "date"})
    date_to = _text(_l("Requested on or before"), 10, check_date, render_kw={"type": "date"})
    outcome = SelectField(_l("Outcome"), choices=OUTCOMES, default="")

    def criteria(self) -> dict[str, str]:
        """The criteria given, by name; empty ones left out."""
        return {
            name: str(getattr(self, name).data) for name in CRITERIA if getattr(self, name).data
        }

    def check_criteria(self) -> bool:
        """At least one criterion, and a date range that runs forward."""
        given = self.criteria()
        if not given:
            self.card.errors = [*self.card.errors, str(_l("Give at least one criterion."))]
            return False
        if "date_from" in given and "date_to" in given and given["date_from"] > given["date_to"]:
            self.date_to.errors = [
                *self.date_to.errors,
                str(_l("The end of the range is before its start.")),
            ]
            return False
        return True


class SearchForm(FlaskForm, CaseFields, CriteriaFields):
    pass


class CaseForm(FlaskForm, CaseFields):
    """The case alone: opens a timeline or links when none is held for this session yet."""


class OptionalCase:
    """A page reached from the results carries the session's case; a new one may be typed."""

    case_number = StringField(
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[Length(max=40)],
    )
    reason = StringField(
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[Length(max=REASON_MAX)],
    )


class LinksForm(FlaskForm, OptionalCase):
    card = _text(_l("Card number"), 20, check_card)
    companion_document = _text(_l("Companion's document number"), 40, check_document)
    guardian_document = _text(_l("Guardian's document number"), 40, check_document)
    # An adult in a picture, by the key its node carries: never typed, so never shown as a
    # field; a malformed one is refused as bad input.
    person = StringField(
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[Regexp(_PERSON_KEY)],
    )

    def centre(self) -> dict[str, str]:
        given = {
            name: str(getattr(self, name).data)
            for name in ("card", "companion_document", "guardian_document", "person")
            if getattr(self, name).data
        }
        return given

    def check_centre(self) -> bool:
        if len(self.centre()) != 1:
            self.card.errors = [
                *self.card.errors,
                str(_l("Give one card number, or one companion's or guardian's document.")),
            ]
            return False
        return True


class TimelineForm(FlaskForm, OptionalCase):
    pass


class CheckForm(FlaskForm, OptionalCase):
    card = StringField(validators=[DataRequired(), check_card])
    tx_hash = StringField(validators=[DataRequired(), Regexp(_TX_HASH)])
    block = IntegerField(validators=[InputRequired(), NumberRange(min=0)])
    log_index = IntegerField(validators=[InputRequired(), NumberRange(min=0)])


class ExportForm(FlaskForm, OptionalCase, CriteriaFields):
    """What to export: the results of a search (its criteria again) or a child's timeline."""

    what = StringField(validators=[AnyOf(["search", "timeline"])])
    timeline_card = StringField(validators=[Length(max=20), check_card])


class ReviewForm(FlaskForm):
    note = TextAreaField(
        _l("Review note"),
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[
            DataRequired(_l("Write what you found and what you did about it.")),
            Length(max=NOTE_MAX, message=_l("A note has at most %(max)s characters.")),
        ],
    )
    password = PasswordField(
        _l("Your password"),
        validators=[
            DataRequired(_l("Type your password again to confirm.")),
            Length(max=200, message=_l("A password has at most 200 characters.")),
        ],
    )
