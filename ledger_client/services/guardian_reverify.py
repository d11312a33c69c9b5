"""Re-verification in person: a guardian who lost their password or PIN gets a new key.

The registry official has seen the guardian again, with their document. The account gets a
new key under a new activation code, and every active child the person guards moves to the
new address on chain, one replacement per child. If the chain refuses a replacement after it
was queued, the store effects (``services.effects``) put that child, and once no child names
the new key the account, back as they were.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger_client.contracts.types import ChildId, ChildStatus
from ledger_client.errors import ConflictError
from ledger_client.identity import GuardianInput, normalise_document
from ledger_client.notify.enqueue import enqueue_activation_notice
from ledger_client.outbox.outbox import Call
from ledger_client.services.children import (
    active_child_id,
    child_by_card,
    guardian_by_document,
    guardian_payload,
    seal_guardian_payload,
)
from ledger_client.services.context import Prepared, Tutela, staff_acting_as
from ledger_client.services.effects import REVERIFY_ACCOUNT_STATE
from ledger_client.services.guardian_keys import (
    ActivationCode,
    account_by_commitment,
    account_for,
    commitment_hex,
    give_new_key,
    now_of,
    open_contact,
)
from ledger_client.store.models import Child, Guardian, StaffRole
from ledger_client.store.portal_models import GuardianAccount, PortalSession
from ledger_client.store.times import as_utc

logger = logging.getLogger(__name__)


def reverify_guardian(
    tutela: Tutela,
    card: str,
    *,
    document: str,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ActivationCode:
    """The registry has seen the guardian in person again: a new key, under a new code.

    For every active child the person guards, the chain's guardian address is replaced by
    the new one (one transaction per child). The old guardian rows are kept, marked removed,
    so the history still attributes earlier decisions to the old address. The password and
    PIN go with the old key, and the guardian's portal sessions end. A guardian enrolled
    before accounts gets an account here.

    Raises:
        InputError: a malformed card or document.
        NotFoundError: no child has this card, or no current guardian of it has this
            document.
        ConflictError: the record is not active; or this re-verification was made already
            (its code was shown then).
        ContractRevertError: the registry refused; the store is as it was.
    """
    commitment = commitment_hex(tutela, document)
    normalised = normalise_document(document)
    with tutela.database.reading() as session:
        record = child_by_card(session, card).child_id
    intent = tutela.intent(
        "reverify",
        {"child": record, "guardian": commitment, "as": acting_as},
        idempotency_key,
        tutela.minute(),
    )
    shown: list[ActivationCode] = []

    def prepare(session: Session) -> Prepared:
        shown.clear()
        child = child_by_card(session, card)
        active_child_id(tutela, child, "its guardians can no longer change")
        named = guardian_by_document(tutela, session, child.child_id, normalised)
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        now = now_of(tutela)
        account = account_by_commitment(session, commitment, for_update=True)
        previous: dict[str, Any] | None = None
        if account is None:
            # Enrolled before guardians held their own keys: the account starts here.
            details = guardian_payload(tutela, named)
            person = GuardianInput(
                details["name"], normalised, details["email"], details.get("phone")
            )
            account, code = account_for(tutela, session, person, now)
            assert code is not None  # a new account comes with its code
            shown.append(code)
        else:
            previous = {name: _jsonable(getattr(account, name)) for name in REVERIFY_ACCOUNT_STATE}
            contact = open_contact(tutela, account)
            fresh = give_new_key(tutela, account, now)
            session.flush()
            enqueue_activation_notice(session, tutela.master_key, account.id, fresh, now)
            assert account.activation_expires_at is not None
            expires = as_utc(account.activation_expires_at).isoformat(timespec="seconds")
            shown.append(ActivationCode(contact["name"], contact["document"], fresh, expires))
        # After the new key: every row still on an older address moves to it.
        rows = _guardianships_to_move(session, account, commitment)
        session.execute(
            update(PortalSession)
            .where(
                PortalSession.principal == "guardian",
                PortalSession.principal_id == account.id,
                PortalSession.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        calls = [_replacement(tutela, session, account, old, now, previous) for old in rows]
        logger.info("guardian account %s re-verified: %s children", account.id, len(calls))
        return Prepared(tutela.signer_of(registrar), calls)

    tutela.carry_out(intent, prepare)
    if not shown:
        raise ConflictError(
            "this re-verification was made already and its activation code shown then; "
            "to give another code, re-verify again with a new idempotency key"
        )
    return shown[0]


def _guardianships_to_move(
    session: Session, account: GuardianAccount, commitment: str
) -> list[Guardian]:
    """The person's current guardianships of active records, under any earlier key.

    Rows made before accounts carry no account: the document commitment finds them. A row
    left on an old address by an earlier re-verification that the chain half refused is
    moved too.
    """
    query = (
        select(Guardian)
        .join(Child, Child.child_id == Guardian.child_id)
        .where(
            Guardian.removed_at.is_(None),
            Guardian.address != account.address,
            Guardian.document_commitment == commitment,
            (Guardian.account_id == account.id) | Guardian.account_id.is_(None),
            Child.status == ChildStatus.ACTIVE,
            Child.successor_id.is_(None),
        )
        .order_by(Guardian.id)
    )
    return list(session.scalars(query))


def _replacement(
    tutela: Tutela,
    session: Session,
    account: GuardianAccount,
    old: Guardian,
    now: datetime,
    previous: dict[str, Any] | None,
) -> Call:
    """Moves one guardianship to the account's new address, in the store and on chain."""
    details = guardian_payload(tutela, old)
    old.removed_at = now
    new = Guardian(
        child_id=old.child_id,
        address=account.address,
        document_commitment=old.document_commitment,
        name_lookup=old.name_lookup,
        sealed=seal_guardian_payload(tutela, old.child_id, account.address, details),
        account_id=account.id,
        added_at=now,
    )
    session.add(new)
    session.flush()
    child_id = ChildId(bytes.fromhex(old.child_id.removeprefix("0x")))
    call = tutela.registry.replace_guardian_account(child_id, old.address, account.address)
    context: dict[str, object] = {
        "account": account.id,
        "old_guardian": old.id,
        "new_guardian": new.id,
        "new_address": account.address,
    }
    if previous is not None:
        context["previous"] = previous
    return Call.of(call, **context)


def _jsonable(value: object) -> object:
    return as_utc(value).isoformat() if isinstance(value, datetime) else value
