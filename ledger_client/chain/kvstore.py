"""The embedded chain's SQLite file: py-evm's key-value store, chain metadata and a log index.

py-evm ships only an in-memory database. :class:`SQLiteKeyValueStore` implements its
``DatabaseAPI`` over one SQLite file so that the chain survives a restart or a ``kill -9``:

* every write (trie nodes, headers, blocks, receipts), every metadata change and every
  staged log row is buffered in memory and reaches the file only through :meth:`commit`,
  which writes them all in one SQLite transaction. A block is therefore on disk entirely or
  not at all; a crash between two commits loses only what no caller was told about.
* WAL journal with ``synchronous=FULL``: once :meth:`commit` returns, the transaction has
  been fsynced and survives a power cut, not only a killed process.
* the ``logs`` table mirrors every event log with its block, transaction and topics, so
  that ``eth_getLogs`` is answered with indexed SQL instead of a scan over blocks.

Hand the store to py-evm wrapped in ``eth.db.atomic.AtomicDB``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth.db.backends.base import BaseDB

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash BLOB NOT NULL,
    block_timestamp INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    tx_hash BLOB NOT NULL,
    address BLOB NOT NULL,
    topic0 BLOB,
    topic1 BLOB,
    topic2 BLOB,
    topic3 BLOB,
    data BLOB NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS logs_address_topic0 ON logs (address, topic0);
CREATE INDEX IF NOT EXISTS logs_topic0 ON logs (topic0);
CREATE INDEX IF NOT EXISTS logs_topic1 ON logs (topic1);
CREATE INDEX IF NOT EXISTS logs_topic2 ON logs (topic2);
CREATE INDEX IF NOT EXISTS logs_topic3 ON logs (topic3);
-- No separate block_number index: the primary key (block_number, log_index) is one.
"""

_SELECT_LOGS = (
    "SELECT block_number, log_index, block_hash, block_timestamp, tx_index, tx_hash,"
    " address, topic0, topic1, topic2, topic3, data FROM logs"
)


@dataclass(frozen=True, slots=True)
class LogRow:
    """One event log as stored in (and read back from) the ``logs`` table."""

    block_number: int
    log_index: int
    block_hash: bytes
    block_timestamp: int
    tx_index: int
    tx_hash: bytes
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class LogQuery:
    """An ``eth_getLogs`` filter with block numbers already resolved.

    ``addresses`` empty means any address. ``topics[i]`` empty means any value at position
    ``i``, otherwise one of the listed values; a log needs at least ``len(topics)`` topics.
    """

    from_block: int
    to_block: int
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...], ...] = ()


class SQLiteKeyValueStore(BaseDB):
    """A py-evm ``DatabaseAPI`` over SQLite whose writes become durable on :meth:`commit`.

    Not thread-safe by itself: the embedded chain serialises every call under its lock.
    """

    def __init__(self, path: Path, *, create: bool) -> None:
        """Open (or create) the store at ``path``.

        Args:
            path: the SQLite file.
            create: ``True`` to create a new file (refused if it exists), ``False`` to open
                an existing one (refused if it does not).

        Raises:
            FileExistsError: ``create`` and the file exists.
            FileNotFoundError: not ``create`` and the file does not exist.
            sqlite3.DatabaseError: the file is not a Tutela chain file (or not SQLite).
        """
        if create and path.exists():
            raise FileExistsError(f"{path} already exists")
        if not create and not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        self.path = path
        # Autocommit mode: transactions are opened explicitly in commit(), so that reads
        # never hold a transaction open between calls. check_same_thread=False because the
        # HTTP server answers on several threads, one at a time under the chain's lock.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._writes: dict[bytes, bytes | None] = {}
        self._meta_writes: dict[str, str] = {}
        self._log_rows: list[LogRow] = []
        try:
            if not create:
                # Checked before anything is written: a foreign SQLite file stays untouched.
                self._check_schema()
            # WAL: readers never block the writer. FULL: a commit is fsynced before it
            # returns, so an answered transaction survives a power cut, not only a crash.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            if create:
                self._conn.executescript(_SCHEMA)
                self.set_meta("schema_version", SCHEMA_VERSION)
                self.commit()
        except BaseException:
            self._conn.close()
            raise

    def _check_schema(self) -> None:
        try:
            version = self.get_meta("schema_version")
        except sqlite3.OperationalError as error:  # no meta table: not a chain file
            raise sqlite3.DatabaseError(f"{self.path} is not a Tutela chain file") from error
        if version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path} has chain schema version {version!r}, expected {SCHEMA_VERSION!r}"
            )

    # -- py-evm DatabaseAPI ------------------------------------------------------------

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._writes:
            value = self._writes[key]
            if value is None:
                raise KeyError(key)
            return value
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._writes[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._writes[key] = None  # a staged deletion

    def _exists(self, key: bytes) -> bool:
        if key in self._writes:
            return self._writes[key] is not None
        row = self._conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone()
        return row is not None

    # py-evm's BaseDB is a MutableMapping, so these must exist; py-evm never calls them, and
    # walking or counting a whole chain's trie nodes is never what a caller means (py-evm's
    # own LevelDB backend refuses them the same way).
    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("the chain store cannot be iterated")

    def __len__(self) -> int:
        raise NotImplementedError("the chain store cannot be counted")

    # -- metadata and logs ---------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        """Return a metadata value (staged or committed), or ``None`` when unset."""
        if name in self._meta_writes:
            return self._meta_writes[name]
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        """Stage a metadata value for the next :meth:`commit`."""
        self._meta_writes[name] = value

    def stage_logs(self, rows: Sequence[LogRow]) -> None:
        """Stage log rows for the next :meth:`commit` (the commit of their block)."""
        self._log_rows.extend(rows)

    def query_logs(self, query: LogQuery) -> list[LogRow]:
        """Return the committed logs matching ``query``, in chain order.

        Raises:
            ValueError: more than four topic positions.
        """
        if len(query.topics) > 4:
            raise ValueError("a log has at most four topics")
        clauses = ["block_number BETWEEN ? AND ?"]
        params: list[object] = [query.from_block, query.to_block]
        if query.addresses:
            clauses.append(f"address IN ({', '.join('?' * len(query.addresses))})")
            params.extend(query.addresses)
        for position, alternatives in enumerate(query.topics):
            if alternatives:
                clauses.append(f"topic{position} IN ({', '.join('?' * len(alternatives))})")
                params.extend(alternatives)
        if query.topics:
            # Like geth: a filter with n positions only matches logs with at least n
            # topics, even where the filter's trailing positions are wildcards. Topics are
            # stored contiguously, so the last position being set is enough.
            clauses.append(f"topic{len(query.topics) - 1} IS NOT NULL")
        # Only fixed column names and "?" placeholders are interpolated; values are bound.
        where = " AND ".join(clauses)
        sql = f"{_SELECT_LOGS} WHERE {where} ORDER BY block_number, log_index"
        return [
            LogRow(
                block_number=row[0],
                log_index=row[1],
                block_hash=bytes(row[2]),
                block_timestamp=row[3],
                tx_index=row[4],
                tx_hash=bytes(row[5]),
                address=bytes(row[6]),
                topics=tuple(bytes(topic) for topic in row[7:11] if topic is not None),
                data=bytes(row[11]),
            )
            for row in self._conn.execute(sql, params)
        ]

    # -- durability ------------------------------------------------------------------------

    @property
    def has_pending_writes(self) -> bool:
        """Whether anything is staged that :meth:`commit` would write."""
        return bool(self._writes or self._meta_writes or self._log_rows)

    def commit(self) -> None:
        """Write every staged key, metadata value and log row in one durable transaction.

        Raises:
            sqlite3.Error: the write failed; nothing was written and the staged changes
                are kept, so the caller decides between retrying and :meth:`discard`.
        """
        if not self.has_pending_writes:
            return
        upserts = [(k, v) for k, v in self._writes.items() if v is not None]
        deletes = [(k,) for k, v in self._writes.items() if v is None]
        logs = [
            (
                row.block_number,
                row.log_index,
                row.block_hash,
                row.block_timestamp,
                row.tx_index,
                row.tx_hash,
                row.address,
                *(row.topics[i] if i < len(row.topics) else None for i in range(4)),
                row.data,
            )
            for row in self._log_rows
        ]
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", upserts)
            conn.executemany("DELETE FROM kv WHERE key = ?", deletes)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                self._meta_writes.items(),
            )
            conn.executemany(
                "INSERT INTO logs (block_number, log_index, block_hash, block_timestamp,"
                " tx_index, tx_hash, address, topic0, topic1, topic2, topic3, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                logs,
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.discard()

    def discard(self) -> None:
        """Drop every staged change (after a failed block, before rebuilding from disk)."""
        self._writes.clear()
        self._meta_writes.clear()
        self._log_rows.clear()

    def close(self) -> None:
        """Close the file; staged changes that were not committed are lost."""
        if self.has_pending_writes:
            logger.warning("closing the chain store with uncommitted changes; dropping them")
        self.discard()
        self._conn.close()
