"""The child-protection desk's forms: a decision and a court-ordered override, each with the
officer's password typed again, and the look-up of a request by its number."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

COURT_ORDER_MAX = 64
# Letters of any alphabet, digits, and the separators courts use: "CH-2026-1234", "1234/2024".
COURT_ORDER_PATTERN = r"^\w[\w ./-]*$"


def _password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(_l("Type your password again to confirm.")),
            Length(max=200, message=_l("A password has at most 200 characters.")),
        ],
    )


class DecisionForm(FlaskForm):
    password = _password(_l("Your password"))
    # Filled by the button pressed: "Co-approve" or "Deny".
    decision = StringField(
        validators=[AnyOf(["approve", "deny"], message=_l("Press Co-approve or Deny."))]
    )

    @property
    def approve(self) -> bool:
        return bool(self.decision.data == "approve")


class OverrideForm(FlaskForm):
    court_order = StringField(
        _l("Court order reference"),
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[
            DataRequired(_l("Type the court order's reference.")),
            Length(
                max=COURT_ORDER_MAX,
                message=_l("A court order reference has at most 64 characters."),
            ),
            Regexp(
                COURT_ORDER_PATTERN,
                message=_l(
                    "A court order reference has letters, digits, spaces and . / - only, "
                    "as CH-2026-1234."
                ),
            ),
        ],
    )
    # Its own name: the decision form on the same page has a password field too.
    override_password = _password(_l("Your password (for the override)"))


class FindForm(FlaskForm):
    class Meta:
        csrf = False  # a GET look-up changes nothing

    number = StringField(
        _l("Request number"),
        validators=[
            DataRequired(_l("Type a request number.")),
            Regexp(r"^\s*#?\d{1,19}\s*$", message=_l("A request number has digits only.")),
        ],
    )
