"""``tutela verify``: rebuild the index from the chain into a scratch space and compare.

The rebuild goes up to the block the live index has reached, so a live index that is merely
behind is not "different". Tables are compared row by row, surrogate ids and the checkpoint's
``updated_at`` left out: rows are read from both sides in (block, log index) order and merged,
so memory stays flat whatever the size of the index. A row whose content changed but whose
(transaction hash, log index) stayed is reported as changed, column by column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger_client.indexer.fetch import DEFAULT_CHUNK
from ledger_client.indexer.scratch import scratch_store
from ledger_client.indexer.sync import index_once
from ledger_client.indexer.tables import BLOCKS, CHECKPOINTS, EVENT_TABLES
from ledger_client.indexer.target import IndexStore, IndexTarget

MAX_LISTED = 200  # differences listed in the report; all are counted
_IGNORED = frozenset({"id", "updated_at"})
_LOCATION = frozenset({"block_number", "block_hash", "block_time", "tx_hash", "log_index"})


@dataclass(frozen=True)
class ColumnDifference:
    column: str
    index: Any
    chain: Any


@dataclass(frozen=True)
class Difference:
    table: str
    where: str  # "block 12 log 3", "block 12", "checkpoint"
    kind: str  # "changed" | "missing" (on the chain only) | "unexpected" (in the index only)
    tx: str | None
    columns: tuple[ColumnDifference, ...] = ()
    row: dict[str, Any] = field(default_factory=dict)  # the missing or unexpected row

    def text(self) -> str:
        where = f"{self.table}, {self.where}" + (f" (tx {self.tx})" if self.tx else "")
        if self.kind == "changed":
            changes = "; ".join(
                f"{c.column} is {c.index!r} in the index, {c.chain!r} on the chain"
                for c in self.columns
            )
            return f"{where}: {changes}"
        content = " ".join(f"{k}={v}" for k, v in self.row.items() if k not in _LOCATION)
        state = (
            "on the chain, missing from the index"
            if self.kind == "missing"
            else ("in the index, not on the chain")
        )
        return f"{where}: {state}" + (f" [{content}]" if content else "")


@dataclass(frozen=True)
class VerifyReport:
    events: int  # events on the chain up to last_block
    blocks: int  # blocks holding them
    last_block: int
    difference_count: int
    differences: tuple[Difference, ...]  # the first MAX_LISTED

    @property
    def matches(self) -> bool:
        return self.difference_count == 0

    def summary(self) -> str:
        if self.matches:
            return (
                f"index matches the chain: {self.events} events in {self.blocks} blocks "
                f"(up to block {self.last_block})"
            )
        rows = "row" if self.difference_count == 1 else "rows"
        return f"index differs from the chain in {self.difference_count} {rows}:"


def verify_index(
    store: IndexStore, w3: Web3, target: IndexTarget, *, chunk_size: int = DEFAULT_CHUNK
) -> VerifyReport:
    """Rebuilds the index of ``target`` from the chain and compares it with ``store``'s.

    Raises:
        ChainError: the node failed.
        StoreError: a database failed.
    """
    with store.transaction() as session:
        position = session.execute(
            select(CHECKPOINTS.c.block_number).where(
                CHECKPOINTS.c.registry_address == target.registry_address,
                CHECKPOINTS.c.ledger_address == target.ledger_address,
            )
        ).scalar()
    last = target.deploy_block - 1 if position is None else int(position)
    with scratch_store(store) as scratch:
        index_once(scratch, w3, target, up_to=last, chunk_size=chunk_size, lock=False)
        with store.transaction() as mine, scratch.transaction() as rebuilt:
            found: list[Difference] = []
            count = 0
            for table in (CHECKPOINTS, BLOCKS, *EVENT_TABLES):
                for difference in _compare(table, mine, rebuilt, last):
                    count += 1
                    if len(found) < MAX_LISTED:
                        found.append(difference)
            events = sum(_count(rebuilt, t) for t in EVENT_TABLES)
            blocks = _count(rebuilt, BLOCKS, BLOCKS.c.events > 0)
    return VerifyReport(events, blocks, last, count, tuple(found))


def _compare(table: Table, mine: Session, rebuilt: Session, last: int) -> Iterator[Difference]:
    missing: list[tuple[Any, dict[str, Any]]] = []
    unexpected: list[tuple[Any, dict[str, Any]]] = []
    ours, theirs = _rows(table, mine, last), _rows(table, rebuilt, last)
    a, b = next(ours, None), next(theirs, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            unexpected.append(a)
            a = next(ours, None)
        elif a is None or b[0] < a[0]:
            missing.append(b)
            b = next(theirs, None)
        else:
            columns = _changed(a[1], b[1])
            if columns:
                yield Difference(
                    table.name, _where(table, a[1]), "changed", a[1].get("tx_hash"), columns
                )
            a, b = next(ours, None), next(theirs, None)
    # An event whose block moved in the index is the same event, changed: pair them by log.
    by_log = {(r["tx_hash"], r["log_index"]): r for _, r in missing if "tx_hash" in r}
    for _, row in unexpected:
        chain_row = (
            by_log.pop((row["tx_hash"], row["log_index"]), None) if "tx_hash" in row else None
        )
        if chain_row is not None:
            where = _where(table, chain_row)
            yield Difference(table.name, where, "changed", row["tx_hash"], _changed(row, chain_row))
        else:
            yield Difference(
                table.name, _where(table, row), "unexpected", row.get("tx_hash"), row=row
            )
    for _, row in missing:
        if "tx_hash" not in row or (row["tx_hash"], row["log_index"]) in by_log:
            yield Difference(table.name, _where(table, row), "missing", row.get("tx_hash"), row=row)


def _rows(table: Table, session: Session, last: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    columns = [c for c in table.c if c.name not in _IGNORED]
    keys: tuple[str, ...]
    query = select(*columns)
    if table is CHECKPOINTS:
        query = query.order_by(table.c.registry_address, table.c.ledger_address)
        keys = ("registry_address", "ledger_address")
    elif table is BLOCKS:
        # Blocks kept only for the reorganisation window depend on when the index ran.
        query = query.where(table.c.events > 0, table.c.number <= last).order_by(table.c.number)
        keys = ("number",)
    else:
        query = query.where(table.c.block_number <= last)
        query = query.order_by(table.c.block_number, table.c.log_index)
        keys = ("block_number", "log_index")
    for row in session.execute(query.execution_options(yield_per=1000)):
        values = dict(row._mapping)
        yield tuple(values[k] for k in keys), values


def _changed(index: dict[str, Any], chain: dict[str, Any]) -> tuple[ColumnDifference, ...]:
    return tuple(
        ColumnDifference(name, index.get(name), chain.get(name))
        for name in chain
        if index.get(name) != chain.get(name)
    )


def _where(table: Table, row: dict[str, Any]) -> str:
    if table is CHECKPOINTS:
        return "checkpoint"
    if table is BLOCKS:
        return f"block {row['number']}"
    return f"block {row['block_number']} log {row['log_index']}"


def _count(session: Session, table: Table, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
