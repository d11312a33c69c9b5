"""Rendering a queued notification from the store, just before it is sent.

Nothing personal is copied into the queue: names, addresses and numbers are opened from
their sealed records here, with the master key, and live only in memory and in the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select

from ledger_client.contracts.types import Direction, RequestStatus
from ledger_client.crypto import MasterKey, SealedRecord, open_json
from ledger_client.errors import CryptoError, NotFoundError
from ledger_client.notify import messages
from ledger_client.notify.config import NotifyConfig
from ledger_client.notify.enqueue import payload_aad
from ledger_client.notify.models import Channel, NoticeKind
from ledger_client.notify.transports import DeliveryError
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import companion_of, show_crossing
from ledger_client.services.guardian_keys import contact_aad
from ledger_client.store.models import Child, CrossingRequest, Guardian
from ledger_client.store.portal_models import GuardianAccount


@dataclass(frozen=True)
class Notice:
    """A claimed row: what to render, without the ORM object."""

    id: int
    key: str
    kind: str
    channel: str
    account_id: int
    request_id: int | None
    payload_sealed: bytes | None


@dataclass(frozen=True)
class Outgoing:
    """A rendered message: an e-mail, or an SMS text with its number."""

    email: EmailMessage | None = None
    phone: str | None = None
    text: str | None = None


def contact_of(master_key: MasterKey, account: GuardianAccount) -> dict[str, Any]:
    """The account's sealed name, document, e-mail and phone.

    Raises:
        CryptoError: the record cannot be opened with this master key.
    """
    record = SealedRecord.from_bytes(account.contact_sealed)
    return open_json(master_key, record, associated_data=contact_aad(account.document_commitment))


def render(tutela: Tutela, config: NotifyConfig, notice: Notice, now: datetime) -> Outgoing:
    """The message ``notice`` stands for, as it reads now.

    Raises:
        DeliveryError: the message can never be sent (no address on record, the request is
            no longer pending or no longer this guardian's); permanent.
        ChainError: the chain could not be read (try again later).
    """
    try:
        if notice.kind == NoticeKind.ACTIVATION:
            return _activation(tutela, config, notice, now)
        return _crossing(tutela, config, notice, now)
    except CryptoError:
        raise DeliveryError("the guardian's record could not be opened", permanent=True) from None
    except NotFoundError:
        raise DeliveryError("the request is no longer in the registry", permanent=True) from None


def _crossing(tutela: Tutela, config: NotifyConfig, notice: Notice, now: datetime) -> Outgoing:
    assert notice.request_id is not None
    with tutela.database.reading() as session:
        account = _account(session.get(GuardianAccount, notice.account_id))
        contact = contact_of(tutela.master_key, account)
        stored = session.scalar(
            select(CrossingRequest).where(CrossingRequest.request_id == notice.request_id)
        )
        if stored is None:
            raise DeliveryError("the request is no longer in the registry", permanent=True)
        # Checked again at sending time: the guardian may have been removed since, and a
        # request renumbered after a reorganisation may now be another family's.
        guards = session.scalar(
            select(Guardian.id).where(
                Guardian.child_id == stored.child_id,
                Guardian.account_id == account.id,
                Guardian.removed_at.is_(None),
            )
        )
        if guards is None:
            raise DeliveryError("the guardian no longer guards this child", permanent=True)
        child = session.get(Child, stored.child_id)
        assert child is not None  # a foreign key guarantees it
        child_name = str(_child_record(tutela.master_key, child)["given_name"])
    view = show_crossing(tutela, notice.request_id)
    if view.status != RequestStatus.PENDING:
        raise DeliveryError("the request was no longer pending", permanent=True)
    expires_at = datetime.fromisoformat(view.expires_at)
    facts = messages.CrossingFacts(
        request_id=notice.request_id,
        guardian_name=str(contact["name"]),
        child_name=child_name,
        leaving=view.direction == Direction.EXIT,
        border_point=view.border_point,
        companion_name=companion_of(tutela, notice.request_id)["name"],
        companion_is_guardian=view.companion_is_guardian,
        seconds_left=int(expires_at.timestamp()) - tutela.read_time(),
        has_phone=account.phone_lookup is not None,
    )
    if notice.channel == Channel.SMS:
        return Outgoing(phone=_phone(contact), text=messages.crossing_sms(account.language, facts))
    link = config.link(f"/guardian/requests/{notice.request_id}")
    text = messages.crossing_email(account.language, facts, link)
    return Outgoing(email=_email(config, contact, account.language, text, now))


def _activation(tutela: Tutela, config: NotifyConfig, notice: Notice, now: datetime) -> Outgoing:
    if notice.payload_sealed is None:
        raise DeliveryError("the activation code is no longer held", permanent=True)
    payload = open_json(
        tutela.master_key,
        SealedRecord.from_bytes(notice.payload_sealed),
        associated_data=payload_aad(notice.key),
    )
    with tutela.database.reading() as session:
        account = _account(session.get(GuardianAccount, notice.account_id))
        contact = contact_of(tutela.master_key, account)
    expires_at = datetime.fromisoformat(str(payload["expires_at"]))
    # A code already used, replaced or run out would only confuse: say so instead of sending.
    if account.activated_at is not None or account.keystore_activation is None:
        raise DeliveryError("the account was activated before the code was sent", permanent=True)
    if expires_at <= now:
        raise DeliveryError("the activation code expired before it could be sent", permanent=True)
    text = messages.activation_email(
        account.language,
        str(contact["name"]),
        str(payload["code"]),
        expires_at,
        config.link("/guardian/activate"),
    )
    return Outgoing(email=_email(config, contact, account.language, text, now))


def _account(account: GuardianAccount | None) -> GuardianAccount:
    if account is None:
        raise DeliveryError("the guardian's account no longer exists", permanent=True)
    return account


def _child_record(master_key: MasterKey, child: Child) -> dict[str, Any]:
    # The registry seals a child's record under "children:" + the 16 id bytes.
    aad = b"children:" + bytes.fromhex(child.child_id.removeprefix("0x"))
    return open_json(master_key, SealedRecord.from_bytes(child.sealed), associated_data=aad)


def _phone(contact: dict[str, Any]) -> str:
    phone = contact.get("phone")
    if not phone:
        raise DeliveryError("no phone number is on record for this guardian", permanent=True)
    return str(phone)


def _email(
    config: NotifyConfig,
    contact: dict[str, Any],
    language: str,
    text: messages.EmailText,
    now: datetime,
) -> EmailMessage:
    address = contact.get("email")
    if not address:
        raise DeliveryError("no e-mail address is on record for this guardian", permanent=True)
    message = EmailMessage()
    try:
        message["To"] = Address(display_name=str(contact["name"]), addr_spec=str(address))
    except (ValueError, IndexError):
        raise DeliveryError("the guardian's e-mail address is not valid", permanent=True) from None
    message["From"] = Address(display_name="Tutela", addr_spec=config.mail_from)
    message["Subject"] = text.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=config.mail_from.rpartition("@")[2])
    message["Content-Language"] = messages.language_of(language)
    # Tells mail servers and holiday autoresponders not to answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text.body)
    return message
