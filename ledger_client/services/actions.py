"""What became of an action: read from the outbox, so it is known after a crash too."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ledger_client.errors import NotFoundError
from ledger_client.outbox.models import ActionState, OutboxItem
from ledger_client.outbox.outbox import failure_of
from ledger_client.outbox.reconciler import OPEN_STATES
from ledger_client.services.context import Tutela


@dataclass(frozen=True)
class ActionView:
    key: str
    purpose: str
    state: str
    sender: str
    nonce: int
    tx_hash: str
    block: int | None
    attempts: int
    # Why it failed (decoded from the contract's error), or why the node last refused it.
    reason: str | None


def action_status(tutela: Tutela, key: str) -> ActionView:
    """The state of the action sent under ``key``.

    Raises:
        NotFoundError: no action was ever queued under this key.
    """
    with tutela.database.reading() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.key == key))
        if item is None:
            raise NotFoundError(f"no action was queued under the key {key!r}")
        return _view(item)


def list_actions(tutela: Tutela, *, open_only: bool = False, limit: int = 100) -> list[ActionView]:
    """The most recent actions, newest first; ``open_only`` keeps those not yet settled."""
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if open_only:
        query = query.where(OutboxItem.state.in_(OPEN_STATES))
    with tutela.database.reading() as session:
        return [_view(item) for item in session.scalars(query)]


def _view(item: OutboxItem) -> ActionView:
    reason = str(failure_of(item)) if item.state == ActionState.FAILED else item.failure
    return ActionView(
        key=item.key,
        purpose=item.purpose,
        state=item.state,
        sender=item.sender,
        nonce=item.nonce,
        tx_hash=item.tx_hash,
        block=item.block_number,
        attempts=item.attempts,
        reason=reason,
    )
