"""What the indexer writes to and reads from: a store, contracts, and the one-indexer lock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, Insert, Table, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ledger_client.errors import ConfigurationError, ConflictError, StoreError
from ledger_client.store.models import Deployment

# pg_try_advisory_lock takes a bigint: the first 8 bytes of a hash of the lock's name.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"tutela.indexer").digest()[:8], "big", signed=True)


class IndexerBusyError(ConflictError):
    """Another indexer is running on this database."""


class IndexStore(Protocol):
    """What the indexer needs of a store: :class:`~ledger_client.store.database.Database`."""

    engine: Engine

    def transaction(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class IndexTarget:
    """The contracts to index and the block they were deployed in (nothing before matters)."""

    registry_address: str
    ledger_address: str
    deploy_block: int

    @classmethod
    def of(cls, deployment: Deployment) -> IndexTarget:
        return cls(
            registry_address=deployment.registry_address,
            ledger_address=deployment.ledger_address,
            deploy_block=deployment.deploy_block,
        )

    @property
    def contracts(self) -> dict[str, str]:
        """Contract names by lower-case address, as logs carry them."""
        return {
            self.registry_address.lower(): "ChildRegistry",
            self.ledger_address.lower(): "CrossingLedger",
        }


def load_target(store: IndexStore) -> IndexTarget:
    """The deployment recorded by ``tutela init`` in this store.

    Raises:
        ConfigurationError: the store holds no deployment.
    """
    with store.transaction() as session:
        deployment = session.scalar(select(Deployment))
        if deployment is None:
            raise ConfigurationError("the store holds no deployment: run 'tutela init' first")
        return IndexTarget.of(deployment)


@contextmanager
def exclusive(store: IndexStore) -> Iterator[None]:
    """Holds the one-indexer lock while the block runs.

    On PostgreSQL a session-level advisory lock, held on a connection of its own (the server
    drops it if this process dies). On SQLite the database's write lock serialises writers,
    and each batch checks that the checkpoint it started from is still the stored one.

    Raises:
        IndexerBusyError: another indexer holds the lock.
    """
    if store.engine.dialect.name != "postgresql":
        yield
        return
    try:
        connection = store.engine.connect()
        held = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
        ).scalar()
        connection.commit()
    except SQLAlchemyError as error:
        raise StoreError(f"the database failed: {error.__class__.__name__}") from error
    try:
        if not held:
            raise IndexerBusyError("another indexer is running on this database")
        yield
    finally:
        try:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                connection.commit()
        finally:
            connection.close()


def insert_ignoring_duplicates(session: Session, table: Table, keys: list[str]) -> Insert:
    """An INSERT that skips rows whose ``keys`` already exist (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    return insert(table)


def rowcount(result: Any) -> int:
    """Rows a DELETE or UPDATE touched (0 when the driver cannot tell)."""
    count = getattr(result, "rowcount", 0)
    return int(count) if count and count > 0 else 0
