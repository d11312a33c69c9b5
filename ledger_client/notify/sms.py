"""Guardians' answers by SMS: ``YES 4821 <PIN>`` or ``NO 4821 <PIN>``.

The gateway POSTs each incoming SMS as JSON ``{"from", "text"}``, signed like the outgoing
ones (:mod:`ledger_client.notify.webhook`). The portal checks the call with
:func:`accept_webhook` and answers it with :func:`handle_sms_reply`, whose answer it returns
for the gateway to send back.

Every reply is counted per phone in ``login_attempts`` (scope ``sms``, subject the phone's
keyed look-up), which is also the log of replies; wrong PINs are counted apart (scope
``sms-pin``). A phone gets at most 5 replies and 3 wrong PINs in 15 minutes, far too few to
guess a PIN and enough for a person who mistypes.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger_client.contracts.reverts import (
    CrossingLedgerAlreadyDecided,
    CrossingLedgerNoApprovalNeeded,
    CrossingLedgerNotGuardian,
    CrossingLedgerRequestClosed,
    CrossingLedgerRequestExpired,
    CrossingLedgerRequestNotPending,
    CrossingLedgerUnknownRequest,
)
from ledger_client.contracts.types import RequestStatus
from ledger_client.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    SignatureError,
    TutelaError,
)
from ledger_client.identity import normalise_phone, phone_lookup
from ledger_client.notify import messages
from ledger_client.notify.webhook import sign_webhook, verify_webhook
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import decide_as_guardian, deciding_account
from ledger_client.services.guardian_keys import GuardianLockedError
from ledger_client.settings import SMS_WEBHOOK_KEY
from ledger_client.store.portal_models import GuardianAccount, LoginAttempt

__all__ = [
    "InboundSms",
    "SmsAnswer",
    "SmsReply",
    "accept_webhook",
    "handle_sms_reply",
    "parse_inbound",
    "parse_sms_reply",
    "sign_webhook",
    "verify_webhook",
]

logger = logging.getLogger(__name__)

REPLY_SCOPE: Final = "sms"
WRONG_PIN_SCOPE: Final = "sms-pin"
WEBHOOK_SCOPE: Final = "sms-hook"
WINDOW: Final = timedelta(minutes=15)
MAX_REPLIES: Final = 5
MAX_WRONG_PINS: Final = 3
MAX_INBOUND_CHARS: Final = 1600
_APPROVE: Final = frozenset({"yes", "da", "да"})
_DENY: Final = frozenset({"no", "nu", "нет"})

_DECIDED: Final = frozenset({"approved", "approved-waiting", "denied"})
_NOT_PENDING: Final = (
    CrossingLedgerRequestExpired,
    CrossingLedgerRequestNotPending,
    CrossingLedgerRequestClosed,
    CrossingLedgerNoApprovalNeeded,
)


@dataclass(frozen=True)
class SmsReply:
    approve: bool
    request_number: int
    pin: str

    def __repr__(self) -> str:
        # The PIN must not reach a log or a traceback.
        return f"SmsReply(approve={self.approve}, request_number={self.request_number})"


@dataclass(frozen=True)
class SmsAnswer:
    """What happened (one of :data:`ledger_client.notify.messages.ANSWER_OUTCOMES` or
    ``unknown-sender``) and the text to send back, in the guardian's language."""

    outcome: str
    text: str
    request_number: int | None = None


@dataclass(frozen=True)
class InboundSms:
    sender: str
    text: str


def parse_sms_reply(text: str) -> SmsReply:
    """Reads ``YES 4821 123456``: a word (YES/NO, DA/NU, Cyrillic DA/NET; any case), the request
    number and the 6-digit PIN, separated by any spaces.

    Raises:
        InputError: anything else; the message never repeats the text (it may hold a PIN).
    """
    malformed = InputError("reply YES or NO, then the request number and your PIN")
    words = unicodedata.normalize("NFKC", text or "").split()
    if len(words) != 3:
        raise malformed
    word, number, pin = words[0].casefold(), words[1].lstrip("#"), words[2].strip("<>")
    if word in _APPROVE:
        approve = True
    elif word in _DENY:
        approve = False
    else:
        raise malformed
    if not (number.isascii() and number.isdigit()) or not 1 <= int(number) < 2**64:
        raise malformed
    if not (pin.isascii() and pin.isdigit() and len(pin) == 6):
        raise malformed
    return SmsReply(approve=approve, request_number=int(number), pin=pin)


def parse_inbound(body: bytes) -> InboundSms:
    """The sender and text of the gateway's JSON ``{"from": "+373…", "text": "…"}``.

    Raises:
        InputError: the body is not such an object.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError("the SMS webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise InputError("the SMS webhook body is not a JSON object")
    sender, text = data.get("from"), data.get("text")
    if not isinstance(sender, str) or not isinstance(text, str):
        raise InputError("the SMS webhook body needs text fields 'from' and 'text'")
    if len(text) > MAX_INBOUND_CHARS:
        raise InputError("the SMS is too long")
    return InboundSms(sender=sender, text=text)


def accept_webhook(
    tutela: Tutela, *, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> None:
    """Checks an incoming webhook call: signed with the gateway key, fresh, and new.

    Each accepted signature is remembered in the store, so a call replayed within the
    tolerance is refused by every portal worker.

    Raises:
        SignatureError: a bad signature, an old or future timestamp, or a replay.
        StoreError: the database failed.
    """
    moment = tutela.clock() if now is None else now
    verify_webhook(tutela.settings.secret(SMS_WEBHOOK_KEY), timestamp, body, signature, moment)
    subject = signature.strip().lower()
    at = datetime.fromtimestamp(moment, UTC)
    with tutela.database.transaction() as session:
        seen = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.scope == WEBHOOK_SCOPE, LoginAttempt.subject == subject)
        )
        if seen:
            raise SignatureError("this webhook call was received before: refused as a replay")
        session.add(LoginAttempt(scope=WEBHOOK_SCOPE, subject=subject, at=at, success=True))


def handle_sms_reply(
    tutela: Tutela, *, sender_phone: str, text: str, now: datetime | None = None
) -> SmsAnswer:
    """Applies a guardian's SMS answer and says, in their language, what happened.

    Every failure becomes an answer (wrong PIN, unknown request, not pending any more, too
    many replies); nothing is raised for what the guardian wrote.

    Args:
        tutela: The open Tutela.
        sender_phone: The sender's number as the gateway gives it.
        text: The SMS.
        now: When the reply came, for the rate limits (default: ``tutela.clock()``).

    Raises:
        StoreError: the database failed.
    """
    moment = now or datetime.fromtimestamp(tutela.clock(), UTC)
    try:
        lookup = phone_lookup(tutela.commitment_key, normalise_phone(sender_phone))
    except InputError:
        return _answer("unknown-sender", messages.FALLBACK_LANGUAGE, None)
    with tutela.database.transaction() as session:
        replies = _count(session, REPLY_SCOPE, lookup, moment)
        wrong_pins = _count(session, WRONG_PIN_SCOPE, lookup, moment)
        log = LoginAttempt(scope=REPLY_SCOPE, subject=lookup, at=moment, success=False)
        session.add(log)
        accounts = [
            (account_id, language)
            for account_id, language in session.execute(
                select(GuardianAccount.id, GuardianAccount.language)
                .where(GuardianAccount.phone_lookup == lookup)
                .order_by(GuardianAccount.id)
            )
        ]
        session.flush()
        log_id = log.id
    languages = {language for _, language in accounts}
    language = languages.pop() if len(languages) == 1 else messages.FALLBACK_LANGUAGE
    number: int | None = None
    if replies >= MAX_REPLIES:
        outcome = "too-many-replies"
    elif wrong_pins >= MAX_WRONG_PINS:
        outcome = "too-many-wrong-pins"
    else:
        try:
            reply = parse_sms_reply(text)
        except InputError:
            outcome = "malformed"
        else:
            number = reply.request_number
            outcome, language = _decide(tutela, reply, accounts, language)
    if outcome in _DECIDED:
        with tutela.database.transaction() as session:
            session.execute(
                update(LoginAttempt).where(LoginAttempt.id == log_id).values(success=True)
            )
    elif outcome == "wrong-pin":
        with tutela.database.transaction() as session:
            session.add(
                LoginAttempt(scope=WRONG_PIN_SCOPE, subject=lookup, at=moment, success=False)
            )
    return _answer(outcome, language, number)


def _decide(
    tutela: Tutela, reply: SmsReply, accounts: list[tuple[int, str]], language: str
) -> tuple[str, str]:
    """Decides for the one account of this phone that guards the request's child."""
    request_text = str(reply.request_number)
    if not accounts:
        return "unknown-sender", language
    guarding = []
    for account_id, account_language in accounts:
        try:
            deciding_account(tutela, request_text, account_id=account_id)
        except (NotFoundError, ConflictError):
            continue
        guarding.append((account_id, account_language))
    if not guarding:
        return "unknown-request", language
    if len(guarding) > 1:
        # Trying the PIN on each would count a wrong PIN against the others.
        return "shared-phone", language
    ((account_id, language),) = guarding
    if not _activated(tutela, account_id):
        return "not-activated", language
    try:
        decision = decide_as_guardian(
            tutela, request_text, approve=reply.approve, secret=reply.pin, account_id=account_id
        )
    except GuardianLockedError:
        return "too-many-wrong-pins", language
    except SignatureError:
        return "wrong-pin", language
    except NotFoundError:
        return "unknown-request", language
    except (CrossingLedgerUnknownRequest, CrossingLedgerNotGuardian):
        return "unknown-request", language
    except CrossingLedgerAlreadyDecided:
        return "already-decided", language
    except _NOT_PENDING:
        return "not-pending", language
    except TutelaError as error:
        logger.warning("SMS reply to request %s not recorded: %s", reply.request_number, error)
        return "failed", language
    if not decision.approved:
        return "denied", language
    return (
        "approved-waiting" if decision.status == RequestStatus.PENDING else "approved"
    ), language


def _activated(tutela: Tutela, account_id: int) -> bool:
    with tutela.database.reading() as session:
        activated = session.scalar(
            select(GuardianAccount.activated_at).where(GuardianAccount.id == account_id)
        )
    return activated is not None


def _count(session: Session, scope: str, subject: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.scope == scope,
                LoginAttempt.subject == subject,
                LoginAttempt.at > now - WINDOW,
            )
        )
        or 0
    )


def _answer(outcome: str, language: str, number: int | None) -> SmsAnswer:
    # The request number and the outcome only: never the phone, the PIN or a name.
    logger.info("SMS reply to request %s: %s", number if number is not None else "-", outcome)
    shown = "unknown-request" if outcome == "unknown-sender" else outcome
    if shown == "unknown-request" and number is None:
        # Whether a number is registered is nobody's business: the same answer as a typo.
        shown = "malformed"
    return SmsAnswer(
        outcome=outcome, text=messages.sms_answer(language, shown, number), request_number=number
    )
