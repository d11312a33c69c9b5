"""Engine, sessions and migrations of the off-chain store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ledger_client.errors import StoreError

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """Owns the engine; callers open sessions and own their transactions."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url, future=True)
        except (SQLAlchemyError, ImportError, ValueError) as error:
            raise StoreError(f"cannot use the database URL: {error}") from error
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

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
            raise StoreError(f"the database could not be migrated: {error}") from error

    def is_migrated(self) -> bool:
        """True when the schema exists (``tutela init`` ran against this database)."""
        try:
            return inspect(self.engine).has_table("alembic_version")
        except SQLAlchemyError as error:
            raise StoreError(f"the database cannot be reached: {error}") from error

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends and rolls back on error.

        Raises:
            StoreError: when the database fails; the transaction is rolled back.
        """
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as error:
            raise StoreError(f"the database failed: {error.__class__.__name__}") from error
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # Foreign keys are off by default in SQLite; WAL lets the CLI read while a node writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
