"""What each kind of action changes in the store once the chain has settled it.

Store rows are written with the action's outbox entry, before the transaction is sent, so a
crash cannot leave a mined transaction without its off-chain half. When the transaction
reverts after all (the state changed between the check and the block), the rows are undone
here, in the database transaction that marks the action failed.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from web3.types import TxReceipt

from ledger_client.contracts.types import ChildStatus
from ledger_client.contracts.wrappers import CrossingLedgerContract
from ledger_client.outbox.models import OutboxItem
from ledger_client.outbox.outbox import Effects
from ledger_client.store.models import Child, CrossingRequest, Guardian, StaffMember


def store_effects(ledger: CrossingLedgerContract) -> dict[str, Effects]:
    def request_confirmed(session: Session, item: OutboxItem, receipt: TxReceipt) -> None:
        session.execute(
            update(CrossingRequest)
            .where(CrossingRequest.action_key == item.key)
            .values(request_id=ledger.request_id_from(receipt), tx_hash=item.tx_hash)
        )

    return {
        "enrol": Effects(failed=_forget_enrolment),
        "correct": Effects(failed=_forget_correction),
        "revoke": Effects(failed=_restore_revoked),
        "add-guardian": Effects(failed=_forget_guardian),
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
