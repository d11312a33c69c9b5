"""Reading one range of blocks from the chain, and checking it did not move meanwhile."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ledger_client.indexer.events import DecodedEvent, decode_log
from ledger_client.indexer.rpc import Header, Rpc, RpcError, too_many
from ledger_client.indexer.target import IndexTarget

logger = logging.getLogger(__name__)

# Blocks below the head whose hashes are all kept: a reorganisation up to this deep is found
# to the block. Deeper ones are still found (every stored hash is compared), at the cost of
# re-reading from the last block with events that the chain still has.
REORG_WINDOW = 128
DEFAULT_CHUNK = 2000


class ChainMoved(Exception):  # noqa: N818 - a control-flow signal, caught in sync.py
    """The chain changed under a read: start the round again (reorganisation check first)."""


@dataclass(frozen=True)
class Chunk:
    first: int
    last: Header
    events: tuple[DecodedEvent, ...]
    blocks: tuple[Header, ...]  # every block to store: those with events and the window


class ChunkReader:
    """Reads ``[first, last]`` ranges, halving the range when the node finds it too large."""

    def __init__(self, rpc: Rpc, target: IndexTarget, chunk_size: int) -> None:
        self._rpc = rpc
        self._target = target
        self._contracts = target.contracts
        self._addresses = sorted(self._contracts)
        self.size = max(1, chunk_size)

    def read(self, first: int, end: int, parent_hash: str | None, window_start: int) -> Chunk:
        """Reads from ``first`` up to at most ``end``.

        ``parent_hash`` is the hash of the block before ``first`` as the index has it (None
        before the first block); ``window_start`` the first block whose hash is kept anyway.

        Raises:
            ChainMoved: a block read is no longer on the chain, or the range is not on top of
                ``parent_hash``.
            RpcError, ChainError: the node failed.
        """
        while True:
            last = min(first + self.size - 1, end)
            # The last block's hash before and after the logs: equal, nothing below it moved.
            before = self._rpc.header(last)
            if before is None:
                raise ChainMoved(f"block {last} is gone")
            try:
                raw = self._rpc.logs(self._addresses, first, last)
            except RpcError as error:
                if last > first and too_many(error):
                    self.size = max(1, (last - first + 1) // 2)
                    logger.info("log range too large for the node; now %d blocks", self.size)
                    continue
                raise
            break
        events = tuple(decode_log(log, self._contracts) for log in raw)
        window = range(max(first, window_start), last + 1)
        untimed = {e.block_number for e in events if e.block_time is None}
        headers = self._rpc.headers({first, last, *window, *untimed})
        _check(headers, before, first, parent_hash, events)
        times = {n: h.time for n, h in headers.items() if h is not None}
        kept: dict[int, Header] = {}
        for event in events:
            time = event.block_time if event.block_time is not None else times[event.block_number]
            kept[event.block_number] = Header(event.block_number, event.block_hash, "", time)
        for number in window:
            header = headers[number]
            assert header is not None  # _check saw every one
            kept.setdefault(number, header)
        return Chunk(
            first=first,
            last=before,
            events=events,
            blocks=tuple(kept[n] for n in sorted(kept)),
        )


def _check(
    headers: dict[int, Header | None],
    before: Header,
    first: int,
    parent_hash: str | None,
    events: tuple[DecodedEvent, ...],
) -> None:
    after = headers.get(before.number)
    if after is None or after.hash != before.hash:
        raise ChainMoved(f"block {before.number} changed while its logs were read")
    start = headers.get(first)
    if start is None or (parent_hash is not None and start.parent_hash != parent_hash):
        raise ChainMoved(f"block {first} no longer follows the indexed block {first - 1}")
    for number, header in headers.items():
        if header is None:
            raise ChainMoved(f"block {number} is gone")
        parent = headers.get(number - 1)
        if parent is not None and header.parent_hash != parent.hash:
            raise ChainMoved(f"block {number} does not follow block {number - 1}")
    for event in events:
        header = headers.get(event.block_number)
        if header is not None and header.hash != event.block_hash:
            raise ChainMoved(f"the log {event.tx_hash}:{event.log_index} is from an old block")
