"""One table from errors to status codes and messages in the user's language.

Views catch ``TutelaError`` around a service call and show ``describe(error)`` next to the
form; anything that escapes is answered here with an error page, never a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ledger_client.errors import (
    ChainError,
    ChainUnavailableError,
    ConflictError,
    ContractRevertError,
    CryptoError,
    InputError,
    NotFoundError,
    SignatureError,
    StoreError,
    TutelaError,
)
from ledger_client.services.throttle import ThrottledError

logger = logging.getLogger(__name__)

# The contract's refusals a user can meet, by Solidity error name.
REVERT_MESSAGES: dict[str, LazyString] = {
    "CrossingLedgerRequestExpired": _l("The request has expired. Ask again if needed."),
    "CrossingLedgerRequestNotPending": _l("This request is not waiting for a decision any more."),
    "CrossingLedgerRequestClosed": _l("This request is closed."),
    "CrossingLedgerNotApproved": _l("This request is not approved: the child may not cross."),
    "CrossingLedgerNoApprovalNeeded": _l("This request needs no approval from this desk."),
    "CrossingLedgerSignatureExpired": _l("The signed decision expired. Decide again."),
    "CrossingLedgerInvalidSignature": _l("The signature was not accepted."),
    "ChildRegistryAlreadyRegistered": _l("This child is registered already."),
    "CrossingLedgerAlreadyDecided": _l("This decision was made already."),
    "CrossingLedgerRulesChanged": _l(
        "The child's guardians changed after the request was made. The officer must ask again."
    ),
    "CrossingLedgerUnknownRequest": _l("There is no such request."),
    "CrossingLedgerInvalidCourtOrder": _l("The court order reference is not valid."),
    "CrossingLedgerNotGuardian": _l("You are not a guardian of this child."),
    "CrossingLedgerChildNotActive": _l("The child's record is not active: no crossing on it."),
    "ChildRegistryChildNotActive": _l("The child's record is not active."),
    "ChildRegistryUnknownChild": _l("There is no such child."),
}

# Most specific first.
STATUS_AND_MESSAGE: list[tuple[type[TutelaError], int, LazyString]] = [
    (ThrottledError, 429, _l("Too many attempts. Wait a few minutes and try again.")),
    (ChainUnavailableError, 503, _l("The ledger cannot be reached now. Try again shortly.")),
    (ContractRevertError, 409, _l("The ledger refused this action.")),
    (ChainError, 502, _l("The ledger did not confirm this action. It will be retried.")),
    (NotFoundError, 404, _l("Not found.")),
    (ConflictError, 409, _l("This conflicts with a record that exists.")),
    (StoreError, 503, _l("The records cannot be reached now. Try again shortly.")),
    (SignatureError, 403, _l("The secret you typed is wrong.")),
    (CryptoError, 500, _l("A record could not be opened.")),
    (InputError, 400, _l("Some of what you typed is not valid.")),
    (TutelaError, 500, _l("This could not be done.")),
]


def status_of(error: TutelaError) -> int:
    for kind, status, _message in STATUS_AND_MESSAGE:
        if isinstance(error, kind):
            return status
    return 500


def describe(error: TutelaError) -> str:
    """A message in the user's language; the English detail goes to the log."""
    if isinstance(error, ContractRevertError) and error.solidity_name in REVERT_MESSAGES:
        return str(REVERT_MESSAGES[error.solidity_name])
    logger.info("shown to the user as a generic message: %s", type(error).__name__)
    for kind, _status, message in STATUS_AND_MESSAGE:
        if isinstance(error, kind):
            return str(message)
    return str(_l("This could not be done."))


def init_app(app: Flask) -> None:
    app.register_error_handler(TutelaError, _tutela_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _page(status: int, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, message=message), status


def _tutela_error(error: TutelaError) -> tuple[str, int]:
    return _page(status_of(error), describe(error))


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return _page(400, str(_l("The form expired or was sent from elsewhere. Open it again.")))


_HTTP_MESSAGES: dict[int, LazyString] = {
    400: _l("The request was not understood."),
    403: _l("You may not open this page."),
    404: _l("This page does not exist."),
    405: _l("This page cannot be used that way."),
    413: _l("The file is too large."),
    429: _l("Too many attempts. Wait a few minutes and try again."),
}


def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return _page(status, str(_HTTP_MESSAGES.get(status, _l("This could not be done."))))


def _unexpected(error: Exception) -> tuple[str, int]:
    logger.exception("unexpected failure")
    return _page(500, str(_l("Something went wrong on our side. It has been logged.")))
