"""The registry desk's forms.

The fields are checked here first, so that each mistake is shown next to its field in the
official's language; the services check everything again and stay the authority.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateField, FieldList, SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from guardian_portal.hooks import tutela
from ledger_client.errors import InputError
from ledger_client.identity import normalise_document, normalise_phone

MAX_GUARDIANS = 4
ADULT_AGE = 18
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")

# Length fills in %(max)s.
TOO_LONG = _l("At most %(max)s characters.")
REVOCATION_REASONS = [
    SelectChoice("data-error", _l("The record holds wrong data")),
    SelectChoice("duplicate", _l("The child is registered twice")),
    SelectChoice("fraud", _l("The record was obtained by fraud")),
    SelectChoice("deceased", _l("The child has died")),
    SelectChoice("court-order", _l("A court ordered it")),
    SelectChoice("other", _l("Another reason")),
]


def at_most(characters: int) -> Length:
    return Length(max=characters, message=TOO_LONG)


def today() -> date:
    """Today by Tutela's clock, which the tests move."""
    return datetime.fromtimestamp(tutela().clock(), UTC).date()


def check_document(form: Any, field: Any) -> None:
    """An identity document number the services will accept."""
    if field.data:
        try:
            field.data = normalise_document(field.data)
        except InputError:
            raise FieldError(
                str(_l("Letters A-Z and digits only (spaces and dashes are ignored), at most 32."))
            ) from None


def check_email(form: Any, field: Any) -> None:
    if field.data and (len(field.data) > 254 or not _EMAIL.fullmatch(field.data.strip())):
        raise FieldError(str(_l("Write an e-mail address such as name@example.org.")))


def check_phone(form: Any, field: Any) -> None:
    if field.data and field.data.strip():
        try:
            field.data = normalise_phone(field.data)
        except InputError:
            raise FieldError(
                str(_l("Write the number with its country code, such as +373 69 123 456."))
            ) from None


def check_child_birth_date(form: Any, field: Any) -> None:
    """A birth date in the past, of someone under 18 today."""
    born: date | None = field.data
    if born is None:
        return
    now = today()
    if born > now:
        raise FieldError(str(_l("The birth date is in the future. Check the year.")))
    try:
        adult = born.replace(year=born.year + ADULT_AGE)
    except ValueError:  # born on 29 February
        adult = date(born.year + ADULT_AGE, 3, 1)
    if adult <= now:
        raise FieldError(str(_l("Only children under 18 can be registered.")))


class IsoDateField(DateField):
    """A date written YYYY-MM-DD (what a browser's date picker sends), with our message."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(
                str(_l("Write the date as YYYY-MM-DD, for example 2019-05-31."))
            ) from None


class ChoiceField(SelectField):
    """A list of choices whose refusal of anything else speaks the official's language."""

    def pre_validate(self, form: Any) -> None:
        if self.data not in {choice.value for choice in self.choices or []}:
            raise FieldError(str(_l("Choose one of the options in the list.")))


class RadioChoiceField(RadioField):
    def pre_validate(self, form: Any) -> None:
        if self.data not in {choice.value for choice in self.choices or []}:
            raise FieldError(str(_l("Choose one of the options in the list.")))


class NumberField(IntegerField):
    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(_l("Write a whole number."))) from None


class GuardianEntry(Form):
    """One guardian of the enrolment form; all empty means no guardian in this place."""

    name = StringField(_l("Full name"), validators=[Optional(), at_most(100)])
    document = StringField(
        _l("Identity document number"), validators=[Optional(), at_most(40), check_document]
    )
    email = StringField(_l("E-mail address"), validators=[Optional(), check_email])
    phone = StringField(
        _l("Mobile phone (optional, for SMS)"), validators=[Optional(), at_most(30), check_phone]
    )

    def is_empty(self) -> bool:
        parts = (self.name, self.document, self.email, self.phone)
        return not any((f.data or "").strip() for f in parts)


class ChildFields(FlaskForm):
    given_name = StringField(
        _l("Given name(s)"),
        validators=[DataRequired(_l("Write the child's given name.")), at_most(100)],
    )
    family_name = StringField(
        _l("Family name"),
        validators=[DataRequired(_l("Write the child's family name.")), at_most(100)],
    )
    birth_date = IsoDateField(
        _l("Birth date"),
        validators=[InputRequired(_l("Write the birth date.")), check_child_birth_date],
        format="%Y-%m-%d",
    )
    birth_place = StringField(
        _l("Birth place (town or village)"),
        validators=[DataRequired(_l("Write the place of birth.")), at_most(100)],
    )


class EnrolForm(ChildFields):
    guardians = FieldList(FormField(GuardianEntry), min_entries=MAX_GUARDIANS, max_entries=4)
    policy = ChoiceField(
        _l("Who must approve a crossing"),
        choices=[
            SelectChoice("any", _l("Any one of the guardians")),
            SelectChoice("all", _l("All the guardians")),
            SelectChoice("k-of-n", _l("A number of the guardians (choose below)")),
        ],
        default="any",
    )
    approvals = NumberField(
        _l("How many guardians must approve (only for 'a number of the guardians')"),
        validators=[Optional(), NumberRange(min=1, max=MAX_GUARDIANS)],
    )
    photo = FileField(_l("Photo of the child (JPEG or PNG, at most 5 MB)"))
    enrol_anyway = BooleanField(
        _l("I checked the existing record(s): this is another child. Enrol anyway.")
    )
    # Names this filled-in form, so that sending it twice (a reload) enrols nobody twice.
    form_id = HiddenField()

    def filled_guardians(self) -> list[GuardianEntry]:
        return [entry.form for entry in self.guardians if not entry.form.is_empty()]

    def guardian_specs(self) -> list[str]:
        return [
            ";".join(
                (g.name.data or "", g.document.data or "", g.email.data or "", g.phone.data or "")
            )
            for g in self.filled_guardians()
        ]

    def policy_text(self) -> str:
        if self.policy.data == "k-of-n":
            return f"{self.approvals.data}-of-{len(self.filled_guardians())}"
        return self.policy.data or ""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        entries = [entry.form for entry in self.guardians]
        for position, guardian in enumerate(entries):
            if guardian.is_empty() and position > 0:
                continue
            for part, message in (
                (guardian.name, _l("Write the guardian's name.")),
                (guardian.document, _l("Write the guardian's document number.")),
                (guardian.email, _l("Write the guardian's e-mail address.")),
            ):
                if not (part.data or "").strip() and not part.errors:
                    part.errors = [*part.errors, str(message)]
                    valid = False
        seen: set[str] = set()
        for guardian in self.filled_guardians():
            document = guardian.document.data or ""
            if document and not guardian.document.errors and document in seen:
                guardian.document.errors = [
                    str(_l("This document is given for another guardian already."))
                ]
                valid = False
            seen.add(document)
        if self.policy.data == "k-of-n":
            count = len(self.filled_guardians())
            if self.approvals.data is None or not 1 <= self.approvals.data <= count:
                self.approvals.errors = [
                    str(_l("Choose a number from 1 to the number of guardians given."))
                ]
                valid = False
        return valid


class CorrectForm(ChildFields):
    pass


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a search changes nothing; it is a GET form

    card = StringField(
        _l("Card number"),
        validators=[DataRequired(_l("Write the card number.")), at_most(64)],
    )


class GuardianForm(FlaskForm):
    name = StringField(
        _l("Full name"),
        validators=[DataRequired(_l("Write the guardian's name.")), at_most(100)],
    )
    document = StringField(
        _l("Identity document number"),
        validators=[
            DataRequired(_l("Write the guardian's document number.")),
            at_most(40),
            check_document,
        ],
    )
    email = StringField(
        _l("E-mail address"),
        validators=[DataRequired(_l("Write the guardian's e-mail address.")), check_email],
    )
    phone = StringField(
        _l("Mobile phone (optional, for SMS)"), validators=[Optional(), at_most(30), check_phone]
    )
    form_id = HiddenField()

    def spec(self) -> str:
        return ";".join(
            (
                self.name.data or "",
                self.document.data or "",
                self.email.data or "",
                self.phone.data or "",
            )
        )


class ConfirmForm(FlaskForm):
    """A plain confirmation: the button is the answer."""

    form_id = HiddenField()


class ReverifyForm(FlaskForm):
    seen_in_person = BooleanField(
        _l("I saw the guardian in person and checked their identity document."),
        validators=[DataRequired(_l("Check the guardian's document in person first."))],
    )
    form_id = HiddenField()


class RevokeForm(FlaskForm):
    code = ChoiceField(_l("Reason"), choices=REVOCATION_REASONS, default="data-error")
    reason = TextAreaField(
        _l("Explain the reason (kept sealed, for investigators)"),
        validators=[DataRequired(_l("Explain why the record is revoked.")), at_most(500)],
    )


class PhotoForm(FlaskForm):
    photo = FileField(_l("Photo of the child (JPEG or PNG, at most 5 MB)"))
