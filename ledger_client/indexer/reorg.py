"""Reorganisations: find the fork point, delete what the chain no longer has, recompute."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from ledger_client.indexer.checkpoint import Checkpoint, claim
from ledger_client.indexer.derived import refresh_children, refresh_requests
from ledger_client.indexer.fetch import REORG_WINDOW
from ledger_client.indexer.rpc import Rpc
from ledger_client.indexer.tables import (
    BLOCKS,
    EVENT_TABLES,
    ChainDecision,
    ChainOutcome,
    ChainOverride,
    ChainPolicyChange,
    ChainRevocation,
    ChainSupersession,
    IndexedBlock,
)
from ledger_client.indexer.target import IndexStore, IndexTarget, rowcount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reorganisation:
    fork_block: int  # the newest indexed block the chain still has
    depth: int  # indexed blocks replaced
    events_removed: int


def roll_back_if_forked(
    store: IndexStore, rpc: Rpc, target: IndexTarget, checkpoint: Checkpoint
) -> Reorganisation | None:
    if checkpoint.block_hash is None:
        return None
    current = rpc.header(checkpoint.block_number)
    if current is not None and current.hash == checkpoint.block_hash:
        return None
    fork = _fork_point(store, rpc, target, checkpoint.block_number)
    with store.transaction() as session:
        row = claim(session, target, checkpoint)
        requests: set[int] = set()
        for model in (ChainDecision, ChainOverride, ChainOutcome):
            query = select(model.request_id).where(model.block_number > fork[0])
            requests.update(session.scalars(query))
        children: set[str] = set()
        for child_model in (ChainPolicyChange, ChainRevocation, ChainSupersession):
            children.update(
                session.scalars(
                    select(child_model.child_id).where(child_model.block_number > fork[0])
                )
            )
        removed = 0
        for table in EVENT_TABLES:
            result = session.execute(delete(table).where(table.c.block_number > fork[0]))
            removed += rowcount(result)
        session.execute(delete(BLOCKS).where(BLOCKS.c.number > fork[0]))
        refresh_requests(session, requests)
        refresh_children(session, children)
        row.block_number, row.block_hash, row.block_time = fork
        row.updated_at = datetime.now(UTC)
    logger.warning(
        "reorganisation: blocks after %d replaced (%d indexed blocks, %d events rolled back)",
        fork[0],
        checkpoint.block_number - fork[0],
        removed,
    )
    return Reorganisation(
        fork_block=fork[0], depth=checkpoint.block_number - fork[0], events_removed=removed
    )


def _fork_point(
    store: IndexStore, rpc: Rpc, target: IndexTarget, below: int
) -> tuple[int, str | None, int | None]:
    """The newest stored block that the chain still has: (number, hash, time)."""
    page = REORG_WINDOW
    while True:
        with store.transaction() as session:
            stored = session.execute(
                select(IndexedBlock.number, IndexedBlock.hash, IndexedBlock.time)
                .where(IndexedBlock.number <= below)
                .order_by(IndexedBlock.number.desc())
                .limit(page)
            ).all()
        if not stored:
            return (target.deploy_block - 1, None, None)
        chain = rpc.headers(number for number, _, _ in stored)
        for number, block_hash, time in stored:
            header = chain[number]
            if header is not None and header.hash == block_hash:
                return (number, block_hash, time)
        below = stored[-1][0] - 1
