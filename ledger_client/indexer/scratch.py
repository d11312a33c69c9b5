"""A throwaway copy of the index tables, for ``verify`` to rebuild into.

SQLite: a database file in a temporary folder. PostgreSQL: a schema of its own in the same
database (``tutela_verify_<random>``), reached through SQLAlchemy's ``schema_translate_map``
so the indexer's code runs unchanged. A schema needs only the CREATE privilege on the
database, which the store's role has to run its migrations anyway, whereas a scratch
database would need CREATEDB; and it is dropped with everything in it when verify ends.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ledger_client.errors import ConfigurationError, StoreError
from ledger_client.indexer.tables import INDEX_TABLES
from ledger_client.indexer.target import IndexStore
from ledger_client.store.database import Database
from ledger_client.store.models import Base


class SchemaStore:
    """The store's engine with every unqualified table name pointed at ``schema``."""

    def __init__(self, engine: Engine, schema: str) -> None:
        self.engine: Engine = engine.execution_options(schema_translate_map={None: schema})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """As :meth:`Database.transaction`.

        Raises:
            StoreError: the database failed; the transaction is rolled back.
        """
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as error:
            raise StoreError(f"the database failed: {error.__class__.__name__}") from error
        finally:
            session.close()


@contextmanager
def scratch_store(store: IndexStore) -> Iterator[IndexStore]:
    """Empty index tables beside ``store``'s, removed on exit.

    Raises:
        ConfigurationError: a database other than SQLite or PostgreSQL.
        StoreError: the scratch space cannot be made.
    """
    dialect = store.engine.dialect.name
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tutela-verify-") as folder:
            scratch = Database(f"sqlite:///{Path(folder) / 'index.sqlite3'}")
            try:
                _create_tables(scratch.engine)
                yield scratch
            finally:
                scratch.dispose()
        return
    if dialect != "postgresql":
        raise ConfigurationError(f"verify supports SQLite and PostgreSQL, not {dialect}")
    schema = f"tutela_verify_{secrets.token_hex(6)}"  # [a-z0-9_]: safe to quote as is
    _execute(store.engine, f'CREATE SCHEMA "{schema}"')
    try:
        scratch_schema = SchemaStore(store.engine, schema)
        _create_tables(scratch_schema.engine)
        yield scratch_schema
    finally:
        _execute(store.engine, f'DROP SCHEMA "{schema}" CASCADE')


def _create_tables(engine: Engine) -> None:
    try:
        Base.metadata.create_all(engine, tables=list(INDEX_TABLES))
    except SQLAlchemyError as error:
        raise StoreError(f"the scratch index cannot be made: {error}") from error


def _execute(engine: Engine, statement: str) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    except SQLAlchemyError as error:
        raise StoreError(f"the scratch schema cannot be managed: {error}") from error
