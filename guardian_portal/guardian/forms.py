"""The guardians' forms: activation and a decision with the PIN."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, Regexp, ValidationError

from ledger_client.errors import InputError
from ledger_client.services.guardian_keys import check_guardian_password, check_pin

PIN_PATTERN = r"^[0-9]{6}$"


class ActivationForm(FlaskForm):
    document = StringField(
        _l("Identity document number"),
        validators=[
            DataRequired(_l("Type the number of your identity document.")),
            Length(max=40, message=_l("A document number has at most 40 characters.")),
        ],
    )
    code = StringField(
        _l("Activation code"),
        validators=[
            DataRequired(_l("Type the activation code the registry gave you.")),
            Length(max=40, message=_l("An activation code has 16 letters and digits.")),
        ],
    )
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Choose a password."))],
    )
    password_again = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Type the password again.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )
    pin = PasswordField(
        _l("New PIN (6 digits)"),
        validators=[
            DataRequired(_l("Choose a PIN.")),
            Regexp(PIN_PATTERN, message=_l("The PIN must be exactly 6 digits.")),
        ],
    )
    pin_again = PasswordField(
        _l("New PIN again"),
        validators=[
            DataRequired(_l("Type the PIN again.")),
            EqualTo("pin", message=_l("The two PINs are not the same.")),
        ],
    )

    def validate_password(self, field: Field) -> None:
        try:
            check_guardian_password(field.data or "")
        except InputError as error:
            raise ValidationError(
                str(_l("The password must have at least 15 and at most 200 characters."))
            ) from error

    def validate_pin(self, field: Field) -> None:
        pin = field.data or ""
        if not _is_pin(pin):
            return  # the pattern's own message says what is wrong
        try:
            check_pin(pin, self.password.data or "")
        except InputError as error:
            raise ValidationError(
                str(
                    _l(
                        "This PIN is too easy to guess. Do not repeat one digit, do not use a "
                        "run like 123456, and do not take it from your password."
                    )
                )
            ) from error


class DecisionForm(FlaskForm):
    pin = PasswordField(
        _l("Your PIN"),
        validators=[
            DataRequired(_l("Type your PIN to decide.")),
            Regexp(PIN_PATTERN, message=_l("The PIN is 6 digits.")),
        ],
    )
    # Filled by the button pressed: "Approve" or "Deny".
    decision = StringField(
        validators=[
            AnyOf(["approve", "deny"], message=_l("Press Approve or Deny.")),
        ]
    )

    @property
    def approve(self) -> bool:
        return bool(self.decision.data == "approve")


def _is_pin(text: str) -> bool:
    return len(text) == 6 and text.isascii() and text.isdigit()
