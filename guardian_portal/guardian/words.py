"""Words both desks show for the ledger's codes: directions, statuses, outcomes, times.

The ledger speaks in codes ("exit", "turned-back"); people read sentences in their language.
Each desk's blueprint puts these helpers into its templates.
"""

from __future__ import annotations

import math
from datetime import datetime

from flask_babel import LazyString, format_datetime, ngettext
from flask_babel import lazy_gettext as _l

DIRECTIONS: dict[str, LazyString] = {
    "exit": _l("Leaving the country"),
    "entry": _l("Entering the country"),
}

STATUSES: dict[str, LazyString] = {
    "pending": _l("Waiting for a decision"),
    "approved": _l("Approved"),
    "denied": _l("Denied"),
    "overridden": _l("Allowed by court order"),
    "crossed": _l("Crossed the border"),
    "turned-back": _l("Turned back"),
    "expired": _l("Expired"),
}

OUTCOMES: dict[str, LazyString] = {
    "crossed": _l("Crossed the border"),
    "turned-back": _l("Turned back at the border"),
}

# The date, the time and the zone, so that nobody has to guess which clock is meant.
_MOMENT_FORMAT = "d MMM y, HH:mm z"


def direction_words(code: str) -> str:
    return str(DIRECTIONS.get(code, code))


def status_words(code: str) -> str:
    return str(STATUSES.get(code, code))


def outcome_words(code: str | None) -> str:
    return str(OUTCOMES.get(code, code)) if code else ""


def moment(value: datetime | str) -> str:
    """A time as people read it in their language, with its zone."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(format_datetime(when, _MOMENT_FORMAT))


def time_left(seconds: int) -> str:
    """What remains before a request expires, in whole minutes (rounded up, never 0 early)."""
    if seconds <= 0:
        return str(_l("No time left"))
    minutes = math.ceil(seconds / 60)
    return str(ngettext("%(num)d minute", "%(num)d minutes", minutes))


def helpers() -> dict[str, object]:
    """The helpers as template globals."""
    return {
        "direction_words": direction_words,
        "status_words": status_words,
        "outcome_words": outcome_words,
        "moment": moment,
        "time_left": time_left,
    }
