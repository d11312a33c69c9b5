"""The border desk's forms."""

from __future__ import annotations

import os
import re
from typing import Any, Final

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange

from guardian_portal.registry.forms import (
    ChoiceField,
    NumberField,
    RadioChoiceField,
    at_most,
    check_document,
)
from ledger_client.services.crossings import DEFAULT_EXPIRY_MINUTES, MAX_EXPIRY_MINUTES

# Moldova's busiest crossings; a post sets its own with TUTELA_BORDER_POINTS.
DEFAULT_BORDER_POINTS: Final = (
    "MD-LEUSENI",
    "MD-SCULENI",
    "MD-GIURGIULESTI",
    "MD-PALANCA",
    "MD-OTACI",
    "MD-KIV-AIRPORT",
)
BORDER_POINTS_SETTING: Final = "TUTELA_BORDER_POINTS"
# What the ledger accepts as a border point code.
_CODE: Final = re.compile(r"[A-Z0-9_-]{1,16}")


def border_points() -> list[str]:
    """The posts an officer chooses from: the app's setting, else the environment's, else
    Moldova's main crossings. Malformed codes are left out rather than offered."""
    configured = current_app.config.get(BORDER_POINTS_SETTING) or os.environ.get(
        BORDER_POINTS_SETTING, ""
    )
    codes = [code.strip().upper() for code in str(configured).split(",") if code.strip()]
    valid = [code for code in codes if _CODE.fullmatch(code)]
    return valid or list(DEFAULT_BORDER_POINTS)


class ScanForm(FlaskForm):
    card = StringField(
        _l("Scan the card or type its number"),
        validators=[
            DataRequired(_l("Scan the card's QR code, or type the 10-digit card number.")),
            Length(max=256, message=_l("This is too long for a card number or a card's code.")),
        ],
    )


class CrossingForm(FlaskForm):
    direction = RadioChoiceField(
        _l("Direction"),
        choices=[
            SelectChoice("exit", _l("Leaving the country (exit)")),
            SelectChoice("entry", _l("Entering the country (entry)")),
        ],
        default="exit",
        validators=[InputRequired(_l("Choose the direction."))],
    )
    border_point = ChoiceField(_l("Your border point"))
    companion_name = StringField(
        _l("Companion's full name"),
        validators=[
            DataRequired(_l("Write the name of the adult travelling with the child.")),
            at_most(100),
        ],
    )
    companion_document = StringField(
        _l("Companion's identity document number"),
        validators=[
            DataRequired(_l("Write the companion's document number.")),
            at_most(40),
            check_document,
        ],
    )
    expires_in = NumberField(
        _l("The guardians may answer for (minutes)"),
        default=DEFAULT_EXPIRY_MINUTES,
        validators=[
            InputRequired(_l("Write a number of minutes.")),
            NumberRange(
                min=1,
                max=MAX_EXPIRY_MINUTES,
                # NumberRange fills in %(max)s.
                message=_l("From 1 to %(max)s minutes."),
            ),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.border_point.choices = [SelectChoice(code) for code in border_points()]


class OutcomeForm(FlaskForm):
    # Set by the button pressed: each button carries its outcome.
    outcome = StringField(validators=[AnyOf(["crossed", "turned-back"])])
