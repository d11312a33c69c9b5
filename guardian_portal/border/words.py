"""A crossing request's status in words, and what the officer may record next."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ledger_client.services.crossings import CrossingView

# Every status the ledger reports, in the words the officer reads.
STATUS_WORDS: dict[str, LazyString] = {
    "pending": _l("Waiting for the guardians"),
    "approved": _l("Approved: the child may cross"),
    "overridden": _l("Approved by court order: the child may cross"),
    "denied": _l("Denied: the child may not cross"),
    "expired": _l("Expired: the child may not cross"),
    "crossed": _l("Crossed: recorded"),
    "turned-back": _l("Turned back: recorded"),
}

# Why the child may not cross, and what to do.
REASONS: dict[str, LazyString] = {
    "denied": _l(
        "A guardian (or a child-protection officer) denied this crossing. Record that the "
        "child was turned back."
    ),
    "expired": _l(
        "Nobody approved in time. Record that the child was turned back; if the family wants "
        "to try again, send a new request from the card."
    ),
}


def status_words(crossing: CrossingView) -> str:
    if crossing.direction == "entry" and crossing.status == "approved":
        return _("Entry: no guardian approval needed. Record the outcome.")
    return str(STATUS_WORDS.get(crossing.status, crossing.status))


def can_record(crossing: CrossingView) -> tuple[bool, bool]:
    """Whether 'Crossed' and whether 'Turned back' may be recorded now.

    The ledger allows a crossing only once approved (and not expired); turning back is
    allowed whenever the request is open, because it is the safe outcome.
    """
    status = crossing.status
    open_now = status not in ("crossed", "turned-back")
    # While pending too: a family that gives up and walks away must not leave a dead end.
    return status in ("approved", "overridden"), open_now


def delivery_problem(last_error: str) -> str:
    """Why a message to a guardian failed, in the officer's language.

    The notifier's reasons are English sentences for the log; the officer needs to know
    which way failed, not the server's words.
    """
    if last_error.startswith("no SMS gateway"):
        return _("no SMS gateway is configured")
    if "SMS gateway" in last_error:
        return _("the SMS gateway did not take the message")
    if "mail server" in last_error:
        return _("the mail server did not take the message")
    return _("the message could not be sent")
