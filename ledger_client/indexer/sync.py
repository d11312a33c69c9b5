"""Indexing: ``index_once`` catches up with the chain, ``follow`` keeps doing it.

A round: compare the hash of the last indexed block with the chain's; if it differs, find
the newest stored block the chain still has (the fork point), delete every row above it and
recompute the derived columns, all in one transaction. Then read the blocks up to the head
less the confirmations, in chunks, each committed with the checkpoint in one transaction, so
an interrupted run resumes where its last commit left off, and nothing is written twice
(every insert also skips an existing (transaction hash, log index)).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete
from web3 import Web3

from ledger_client.errors import ChainError, TutelaError
from ledger_client.indexer.checkpoint import Checkpoint, claim, load_checkpoint
from ledger_client.indexer.derived import refresh_children, refresh_requests
from ledger_client.indexer.fetch import DEFAULT_CHUNK, REORG_WINDOW, ChainMoved, Chunk, ChunkReader
from ledger_client.indexer.reorg import Reorganisation, roll_back_if_forked
from ledger_client.indexer.rows import row_of
from ledger_client.indexer.rpc import Rpc
from ledger_client.indexer.tables import BLOCKS, IndexedBlock
from ledger_client.indexer.target import (
    IndexStore,
    IndexTarget,
    exclusive,
    insert_ignoring_duplicates,
)

__all__ = ["IndexReport", "Reorganisation", "follow", "index_once"]

logger = logging.getLogger(__name__)

ATTEMPTS = 5  # rounds started again when the chain moves under a read
_REQUEST_EVENTS = frozenset(
    {"GuardianDecided", "ProtectionDecided", "CrossingOverridden", "CrossingRecorded"}
)
_CHILD_EVENTS = frozenset({"PolicyChanged", "ChildRevoked", "ChildSuperseded"})


@dataclass(frozen=True)
class IndexReport:
    first_block: int | None  # the first block read by this run (None: nothing new)
    last_block: int  # the last block indexed, after the run
    head: int  # the chain's head as seen by the run
    blocks: int  # blocks read
    events: int  # events read and stored
    reorganisations: tuple[Reorganisation, ...]


def index_once(
    store: IndexStore,
    w3: Web3,
    target: IndexTarget,
    *,
    confirmations: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    up_to: int | None = None,
    lock: bool = True,
) -> IndexReport:
    """Indexes every event up to the head less ``confirmations`` (or ``up_to``), once.

    Safe to run again, concurrently or after an interruption: it resumes at its checkpoint.

    Raises:
        IndexerBusyError: another indexer holds the lock (PostgreSQL).
        ChainError: the node failed, or the chain kept changing during ``ATTEMPTS`` rounds.
        StoreError: the database failed.
        ConfigurationError: the index holds the events of other contracts.
    """
    rpc = Rpc(w3)
    reader = ChunkReader(rpc, target, chunk_size)
    with exclusive(store) if lock else nullcontext():
        reorganisations: list[Reorganisation] = []
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return _round(store, rpc, reader, target, confirmations, up_to, reorganisations)
            except ChainMoved as moved:
                logger.info("the chain moved (%s); round %d again", moved, attempt)
    raise ChainError("the chain kept changing while it was read; run the indexer again")


def follow(
    store: IndexStore,
    w3: Web3,
    target: IndexTarget,
    *,
    stop_event: threading.Event,
    poll_interval: float = 1.0,
    confirmations: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    on_report: Callable[[IndexReport], None] | None = None,
) -> None:
    """Runs :func:`index_once` every ``poll_interval`` seconds until ``stop_event`` is set.

    A failed round is logged and tried again at the next tick: the loop outlives a node or a
    database that is briefly away.
    """
    while not stop_event.is_set():
        try:
            report = index_once(
                store, w3, target, confirmations=confirmations, chunk_size=chunk_size
            )
            if on_report is not None:
                on_report(report)
        except TutelaError as error:
            # A node or a database briefly away, or another indexer holding the lock.
            logger.warning("indexing paused: %s; trying again in %.1f s", error, poll_interval)
        except Exception:
            # The edge of the indexer loop: whatever failed, keep following.
            logger.exception("indexing failed; trying again in %.1f s", poll_interval)
        stop_event.wait(poll_interval)


def _round(
    store: IndexStore,
    rpc: Rpc,
    reader: ChunkReader,
    target: IndexTarget,
    confirmations: int,
    up_to: int | None,
    reorganisations: list[Reorganisation],
) -> IndexReport:
    checkpoint = load_checkpoint(store, target)
    head = rpc.head()
    reorganisation = roll_back_if_forked(store, rpc, target, checkpoint)
    if reorganisation is not None:
        reorganisations.append(reorganisation)
        checkpoint = load_checkpoint(store, target)
    end = head - confirmations if up_to is None else min(up_to, head)
    first = checkpoint.block_number + 1
    events = 0
    while checkpoint.block_number < end:
        chunk = reader.read(
            checkpoint.block_number + 1, end, checkpoint.block_hash, end - REORG_WINDOW + 1
        )
        checkpoint = _store_chunk(store, target, checkpoint, chunk)
        events += len(chunk.events)
    return IndexReport(
        first_block=first if first <= checkpoint.block_number else None,
        last_block=checkpoint.block_number,
        head=head,
        blocks=max(0, checkpoint.block_number - first + 1),
        events=events,
        reorganisations=tuple(reorganisations),
    )


def _store_chunk(
    store: IndexStore, target: IndexTarget, checkpoint: Checkpoint, chunk: Chunk
) -> Checkpoint:
    rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    per_block: dict[int, int] = defaultdict(int)
    requests: set[int] = set()
    children: set[str] = set()
    times = {b.number: b.time for b in chunk.blocks}
    for event in chunk.events:
        table, row = row_of(event, times[event.block_number])
        rows[table].append(row)
        per_block[event.block_number] += 1
        if event.name in _REQUEST_EVENTS:
            requests.add(int(event.args["requestId"]))
        elif event.name in _CHILD_EVENTS:
            children.add(str(event.args["childId"]))
    blocks = [
        {"number": b.number, "hash": b.hash, "time": b.time, "events": per_block[b.number]}
        for b in chunk.blocks
    ]
    last = chunk.last
    with store.transaction() as session:
        stored = claim(session, target, checkpoint)
        for table, table_rows in rows.items():
            session.execute(
                insert_ignoring_duplicates(session, table, ["tx_hash", "log_index"]), table_rows
            )
        if blocks:
            session.execute(insert_ignoring_duplicates(session, BLOCKS, ["number"]), blocks)
        refresh_requests(session, requests)
        refresh_children(session, children)
        session.execute(
            delete(IndexedBlock).where(
                IndexedBlock.number <= last.number - REORG_WINDOW, IndexedBlock.events == 0
            )
        )
        stored.block_number, stored.block_hash = last.number, last.hash
        stored.block_time, stored.updated_at = last.time, datetime.now(UTC)
    if chunk.events:
        logger.info(
            "indexed %d events in blocks %d-%d", len(chunk.events), chunk.first, last.number
        )
    return Checkpoint(last.number, last.hash)
