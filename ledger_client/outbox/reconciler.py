"""Brings the outbox and the chain into agreement: sends, confirms, and sends again.

Runs inside ``tutela node`` and ``tutela serve`` and as ``tutela reconcile``. Every step is
safe to repeat and to run in several processes at once: the outbox rows are the truth about
what Tutela meant to do, the node is asked what happened.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import select

from ledger_client.errors import ChainError, StoreError
from ledger_client.outbox.models import AccountNonce, ActionState, OutboxItem
from ledger_client.outbox.outbox import Outbox

logger = logging.getLogger(__name__)

OPEN_STATES = (ActionState.QUEUED, ActionState.SENT)


@dataclass(frozen=True)
class ReconcileReport:
    sent: int
    settled: int
    reopened: int
    waiting: int

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.settled} settled, {self.reopened} sent again after the "
            f"chain lost them, {self.waiting} still waiting"
        )


def reconcile_once(outbox: Outbox) -> ReconcileReport:
    """One pass over every account: reopen what the chain lost, send, and confirm.

    Raises:
        ChainUnavailableError: the node is down (nothing changed in the store).
        StoreError: the database is unreachable.
    """
    reopened = sum(outbox.recover_lost(address) for address in _accounts(outbox))
    sent = sum(outbox.push(sender) for sender in _senders_with_open_items(outbox))
    settled = 0
    waiting = 0
    for item_id in _open_items(outbox):
        if outbox.check(item_id):
            settled += 1
        else:
            waiting += 1
    return ReconcileReport(sent=sent, settled=settled, reopened=reopened, waiting=waiting)


def follow(outbox: Outbox, stop: threading.Event, interval: float = 1.0) -> None:
    """Reconciles until ``stop`` is set; a failing pass is logged and retried."""
    while not stop.is_set():
        try:
            report = reconcile_once(outbox)
            if report.sent or report.settled or report.reopened:
                logger.info("outbox: %s", report)
        except (ChainError, StoreError) as error:
            logger.warning("outbox reconciliation failed, will retry: %s", error)
        stop.wait(interval)


def _accounts(outbox: Outbox) -> list[str]:
    with outbox.database.transaction() as session:
        return list(
            session.scalars(
                select(AccountNonce.address).where(AccountNonce.chain_id == outbox.chain_id)
            )
        )


def _senders_with_open_items(outbox: Outbox) -> list[str]:
    with outbox.database.transaction() as session:
        return list(
            session.scalars(
                select(OutboxItem.sender)
                .where(OutboxItem.chain_id == outbox.chain_id, OutboxItem.state.in_(OPEN_STATES))
                .distinct()
            )
        )


def _open_items(outbox: Outbox) -> list[int]:
    with outbox.database.transaction() as session:
        return list(
            session.scalars(
                select(OutboxItem.id)
                .where(OutboxItem.chain_id == outbox.chain_id, OutboxItem.state.in_(OPEN_STATES))
                .order_by(OutboxItem.sender, OutboxItem.nonce)
            )
        )
