"""The checkpoint: how far the index has gone, claimed by each write that moves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.errors import ConfigurationError
from ledger_client.indexer.fetch import ChainMoved
from ledger_client.indexer.tables import IndexCheckpoint
from ledger_client.indexer.target import IndexStore, IndexTarget


@dataclass(frozen=True)
class Checkpoint:
    block_number: int
    block_hash: str | None


def load_checkpoint(store: IndexStore, target: IndexTarget) -> Checkpoint:
    """The checkpoint of ``target``, made (before its deploy block) on the first run.

    Raises:
        ConfigurationError: the index holds the events of other contracts.
    """
    with store.transaction() as session:
        rows = session.scalars(select(IndexCheckpoint)).all()
        mine = [
            r
            for r in rows
            if (r.registry_address.lower(), r.ledger_address.lower())
            == (target.registry_address.lower(), target.ledger_address.lower())
        ]
        if rows and not mine:
            raise ConfigurationError(
                "the event index holds the events of other contracts than this store's "
                "deployment; empty its tables before indexing again"
            )
        if mine:
            return Checkpoint(mine[0].block_number, mine[0].block_hash)
        session.add(
            IndexCheckpoint(
                registry_address=target.registry_address,
                ledger_address=target.ledger_address,
                deploy_block=target.deploy_block,
                block_number=target.deploy_block - 1,
                block_hash=None,
                block_time=None,
                updated_at=datetime.now(UTC),
            )
        )
        return Checkpoint(target.deploy_block - 1, None)


def claim(session: Session, target: IndexTarget, expected: Checkpoint) -> IndexCheckpoint:
    """The stored checkpoint, if it is still the one this batch started from."""
    row = session.scalars(
        select(IndexCheckpoint).where(
            IndexCheckpoint.registry_address == target.registry_address,
            IndexCheckpoint.ledger_address == target.ledger_address,
        )
    ).one()
    if (row.block_number, row.block_hash) != (expected.block_number, expected.block_hash):
        raise ChainMoved("another indexer moved the checkpoint")
    return row
