"""The case an investigator works on, held for the rest of the login session.

The investigator types the case number and the reason once, with the first search; the
next pages (a timeline, the links, an export) reuse them and every look-up is still audited
with its case. The reason may name people, and Flask's session is a cookie the browser
holds in clear (signed, not encrypted), so the case is sealed with the master key and bound
to the login session's token: a copied cookie opens nothing under another login.
"""

from __future__ import annotations

import base64
import binascii
import logging

from flask import session

from guardian_portal.hooks import client_address, principal, tutela
from ledger_client.crypto import SealedRecord, open_json, seal_json
from ledger_client.errors import TutelaError
from ledger_client.services.audit import Actor
from ledger_client.services.investigation import Case

logger = logging.getLogger(__name__)

_KEY = "investigate_case"


def _bound_to() -> bytes:
    # The login session's token: a new login starts without a case.
    return b"tutela-investigate-case:" + str(session.get("token", "")).encode()


def remember(case: Case) -> None:
    sealed = seal_json(
        tutela().master_key,
        {"number": case.number, "reason": case.reason},
        associated_data=_bound_to(),
    )
    session[_KEY] = base64.b64encode(sealed.to_bytes()).decode("ascii")


def current() -> Case | None:
    """The case held for this session, or None when none is (or it cannot be opened)."""
    held = session.get(_KEY)
    if not isinstance(held, str):
        return None
    try:
        record = SealedRecord.from_bytes(base64.b64decode(held, validate=True))
        payload = open_json(tutela().master_key, record, associated_data=_bound_to())
        return Case.parse(str(payload["number"]), str(payload["reason"]))
    except (TutelaError, binascii.Error, KeyError, ValueError):
        logger.info("a held investigation case could not be opened; it is dropped")
        session.pop(_KEY, None)
        return None


def from_fields(number: str | None, reason: str | None) -> Case | None:
    """The case typed with this request if any (then held from now on), else the session's.

    Raises:
        InputError: a case number or reason was typed, and it is not valid.
    """
    if number or reason:
        case = Case.parse(number or "", reason or "")
        remember(case)
        return case
    return current()


def forget() -> None:
    session.pop(_KEY, None)


def actor() -> Actor:
    """The signed-in investigator, as the services record them in the audit log."""
    who = principal()
    assert who is not None  # @allow let only a signed-in member through
    return Actor(kind=who.kind, id=who.id, name=who.name, address=client_address())
