"""Engine, sessions and migrations of the off-chain store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ledger_client.errors import StoreError
from ledger_client.settings import _redact_url

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """Owns the engine; callers open sessions and own their transactions."""

    def __init__(self, url: str) -> None:
        """Builds the engine; nothing connects until the first query.

        Raises:
            StoreError: the URL cannot be parsed or names a driver that is not installed.
        """
        try:
            parsed = make_url(url)
            # A pooled connection dies with a server restart or a failover; test it before use.
            self.engine: Engine = create_engine(
                parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite"
            )
        except (SQLAlchemyError, ImportError, ValueError) as error:
            raise StoreError(
                f"cannot use the database URL {_redact_url(url)!r}: {error}"
            ) from error
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite a deferred transaction reads a WAL snapshot while
        # a writer (the indexer, the outbox) works. PostgreSQL needs no second engine.
        self._reader = self.engine
        if self.dialect == "sqlite":
            self._reader = create_engine(parsed)
            event.listen(self._reader, "connect", _sqlite_connect)
            event.listen(self._reader, "begin", _sqlite_begin_deferred)
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """The database's kind: ``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Brings the schema to the newest migration.

        Raises:
            StoreError: when the database cannot be reached or a migration fails.
        """
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")
        except SQLAlchemyError as error:
            raise self._failure(error, f"the database could not be migrated: {error}") from error

    def is_migrated(self) -> bool:
        """True when the schema exists (``tutela init`` ran against this database)."""
        try:
            return inspect(self.engine).has_table("alembic_version")
        except SQLAlchemyError as error:
            raise self._failure(error, f"the database cannot be read: {error}") from error

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends and rolls back on error.

        Raises:
            StoreError: when the database fails; the transaction is rolled back.
        """
        with self._session(self._sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: it neither waits for writers nor holds them up.

        Raises:
            StoreError: when the database fails.
        """
        with self._session(self._read_sessions) as session:
            yield session

    @contextmanager
    def _session(self, sessions: sessionmaker[Session]) -> Iterator[Session]:
        session = sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as error:
            # The class name only: a statement's parameters may hold personal data.
            message = f"the database failed: {error.__class__.__name__}"
            raise self._failure(error, message) from error
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        self._reader.dispose()

    def _failure(self, error: SQLAlchemyError, message: str) -> StoreError:
        """The error to raise: says where the database is when it cannot be reached."""
        if not _is_unreachable(error):
            return StoreError(message)
        url = self.engine.url
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        if url.password:
            reason = reason.replace(str(url.password), "***")
        return StoreError(f"the database at {_where(url)} is unreachable: {reason}")


def _is_unreachable(error: SQLAlchemyError) -> bool:
    # A DBAPI error without a statement was raised while connecting; an invalidated
    # connection is one the server dropped in the middle of a transaction.
    if not isinstance(error, OperationalError):
        return False
    return error.statement is None or error.connection_invalidated


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _sqlite_connect(dbapi_connection: object, _record: object) -> None:
    # pysqlite's own BEGIN comes late (at the first write) and never before DDL:
    # _sqlite_begin emits it instead (the recipe of SQLAlchemy's SQLite dialect docs).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # Foreign keys are off by default in SQLite; WAL lets the CLI read while a node writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, waiting up to busy_timeout for it, so writers
    # from several processes queue instead of failing: a deferred transaction that reads, then
    # writes, gets SQLITE_BUSY_SNAPSHOT at once when another process committed in between
    # (nonce allocation reads then updates). Readers queue too: keep transactions short.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
