"""What each kind of action changes in the store once the chain has settled it.

Store rows are written with the action's outbox entry, before the transaction is sent, so a
crash cannot leave a mined transaction without its off-chain half. When the transaction
reverts after all (the state changed between the check and the block), the rows are undone
here, in the database transaction that marks the action failed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session
from web3.types import TxReceipt

from ledger_client.contracts.types import ChildStatus
from ledger_client.contracts.wrappers import CrossingLedgerContract
from ledger_client.notify.enqueue import notify_guardians_of
from ledger_client.outbox.models import OutboxItem
from ledger_client.outbox.outbox import Effects
from ledger_client.store.models import Child, CrossingRequest, Guardian, StaffMember
from ledger_client.store.portal_models import GuardianAccount

# What a re-verification keeps of the account's previous key and secrets, so that a
# replacement the chain refuses gives the guardian back the key the chain still names.
REVERIFY_ACCOUNT_STATE = (
    "address",
    "keystore_activation",
    "activation_expires_at",
    "password_hash",
    "keystore_password",
    "keystore_pin",
    "activated_at",
)
_TIMES = ("activation_expires_at", "activated_at")


def store_effects(ledger: CrossingLedgerContract) -> dict[str, Effects]:
    def request_confirmed(session: Session, item: OutboxItem, receipt: TxReceipt) -> None:
        session.execute(
            update(CrossingRequest)
            .where(CrossingRequest.action_key == item.key)
            .values(request_id=ledger.request_id_from(receipt), tx_hash=item.tx_hash)
        )
        # The guardians are asked in the transaction that numbers the request; idempotent.
        notify_guardians_of(session, item.key, ledger.request_id_from(receipt))

    return {
        "enrol": Effects(failed=_forget_enrolment),
        "correct": Effects(failed=_forget_correction),
        "revoke": Effects(failed=_restore_revoked),
        "add-guardian": Effects(failed=_forget_guardian),
        # A re-verification sends one replacement per child; the second and later are "+".
        "reverify": Effects(confirmed=_drop_previous_key, failed=_undo_replacement),
        "reverify+": Effects(confirmed=_drop_previous_key, failed=_undo_replacement),
        "remove-guardian": Effects(failed=_restore_guardian),
        "staff-add": Effects(failed=_forget_staff),
        "staff-remove": Effects(failed=_restore_staff),
        "crossing-request": Effects(
            confirmed=request_confirmed, failed=_forget_request, lost=_unnumber_request
        ),
    }


def _child_id(item: OutboxItem, name: str = "child_id") -> str:
    return str(item.context[name])


def _forget_child(session: Session, child_id: str) -> None:
    session.execute(delete(Guardian).where(Guardian.child_id == child_id))
    session.execute(delete(Child).where(Child.child_id == child_id))


def _forget_enrolment(session: Session, item: OutboxItem) -> None:
    _forget_child(session, _child_id(item))
    _forget_new_accounts(session, item)


def _forget_new_accounts(session: Session, item: OutboxItem) -> None:
    """Deletes the guardian accounts the failed action made, unless another child took them.

    Their codes were never shown (the action failed), so an account kept would hold a key
    nobody can open, and would be reused, without a code, at the guardian's next enrolment.
    """
    raw = item.context.get("accounts")
    for account_id in raw if isinstance(raw, list) else []:
        still_used = session.scalar(select(exists().where(Guardian.account_id == account_id)))
        if not still_used:
            session.execute(delete(GuardianAccount).where(GuardianAccount.id == account_id))


def _forget_correction(session: Session, item: OutboxItem) -> None:
    predecessor = session.get(Child, _child_id(item))
    if predecessor is not None:
        predecessor.status = ChildStatus.ACTIVE
        predecessor.successor_id = None
    session.flush()
    _forget_child(session, _child_id(item, "successor_id"))


def _restore_revoked(session: Session, item: OutboxItem) -> None:
    child = session.get(Child, _child_id(item))
    if child is not None:
        child.status = ChildStatus.ACTIVE
        child.revocation_sealed = None


def _forget_guardian(session: Session, item: OutboxItem) -> None:
    session.execute(delete(Guardian).where(Guardian.id == int(str(item.context["guardian"]))))
    _forget_new_accounts(session, item)


def _drop_previous_key(session: Session, item: OutboxItem, receipt: TxReceipt) -> None:
    # The chain no longer names the old address for this child: its keystores are kept no
    # longer than needed (they open with secrets the guardian may have lost to a thief).
    if "previous" in item.context:
        item.context = {k: v for k, v in item.context.items() if k != "previous"}


def _undo_replacement(session: Session, item: OutboxItem) -> None:
    """The chain kept the old address for this child: so does the store.

    The new guardian row goes and the old one is current again. Once no child names the new
    address, the account gets its previous key and secrets back (or, made by this
    re-verification for a guardian who had none, goes). Ended portal sessions stay ended.
    """
    context = item.context
    new_row = session.get(Guardian, int(str(context["new_guardian"])))
    if new_row is not None:
        session.delete(new_row)
    old_row = session.get(Guardian, int(str(context["old_guardian"])))
    if old_row is not None:
        old_row.removed_at = None
    session.flush()
    account = session.get(GuardianAccount, int(str(context["account"])))
    new_address = str(context["new_address"])
    if account is None or account.address != new_address:
        return  # re-verified again since: the newer key stands
    if session.scalar(
        select(exists().where(Guardian.address == new_address, Guardian.removed_at.is_(None)))
    ):
        return  # another child's replacement went through: the new key is the one in use
    previous = context.get("previous")
    if not isinstance(previous, dict):
        session.delete(account)
        return
    for name in REVERIFY_ACCOUNT_STATE:
        value = previous.get(name)
        if name in _TIMES and isinstance(value, str):
            value = datetime.fromisoformat(value)
        setattr(account, name, value)


def _restore_guardian(session: Session, item: OutboxItem) -> None:
    guardian = session.get(Guardian, int(str(item.context["guardian"])))
    if guardian is not None:
        guardian.removed_at = None


def _forget_staff(session: Session, item: OutboxItem) -> None:
    session.execute(delete(StaffMember).where(StaffMember.id == int(str(item.context["staff"]))))


def _restore_staff(session: Session, item: OutboxItem) -> None:
    member = session.get(StaffMember, int(str(item.context["staff"])))
    if member is not None:
        member.removed_at = None


def _forget_request(session: Session, item: OutboxItem) -> None:
    session.execute(delete(CrossingRequest).where(CrossingRequest.action_key == item.key))


def _unnumber_request(session: Session, item: OutboxItem) -> None:
    # Numbers are handed out in mining order, so a re-mined request may get another one.
    session.execute(
        update(CrossingRequest)
        .where(CrossingRequest.action_key == item.key)
        .values(request_id=None, tx_hash=None)
    )
