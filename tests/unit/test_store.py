"""The store: migrations build exactly the models' schema, failures say where, writers serialise.

Every test runs on SQLite and on a throwaway PostgreSQL cluster (the ``database_url`` fixture).
"""

from __future__ import annotations

import multiprocessing
import re
import uuid
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, insert, make_url, select, text, update

from ledger_client import store
from ledger_client.errors import StoreError
from ledger_client.store.database import Database
from ledger_client.store.models import Base
from tests.support.postgres import Cluster, free_port

MIGRATIONS = ScriptDirectory(str(Path(store.__file__).parent / "migrations"))
INCREMENTS = 200
PASSWORD = "hunter2-not-for-logs"

_counters = MetaData()
counters = Table(
    "counters",
    _counters,
    Column("id", Integer, primary_key=True),
    Column("value", Integer, nullable=False),
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = Database(database_url)
    yield opened
    opened.dispose()


def test_migrations_match_the_models(database: Database) -> None:
    assert not database.is_migrated()
    database.migrate()
    assert database.is_migrated()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(database: Database) -> None:
    database.migrate()
    database.migrate()
    with database.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    assert set(heads) == set(MIGRATIONS.get_heads())


def test_an_unreachable_database_is_named_without_its_password(
    database_url: str, tmp_path: Path
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        unreachable = url.set(database=str(tmp_path / "missing" / "store.sqlite3"))
        where = str(tmp_path / "missing" / "store.sqlite3")
    else:
        unreachable = url.set(password=PASSWORD, port=free_port())
        where = f"127.0.0.1:{unreachable.port}"
    database = Database(unreachable.render_as_string(hide_password=False))
    with pytest.raises(StoreError) as raised:
        database.migrate()
    message = str(raised.value)
    assert message.startswith(f"the database at {where} is unreachable: ")
    assert PASSWORD not in message
    database.dispose()


@pytest.mark.postgres
def test_a_stopped_server_is_reported_then_reconnected(postgres_cluster: Cluster) -> None:
    name = f"stopped_{uuid.uuid4().hex[:16]}"
    postgres_cluster.create_database(name)
    database = Database(postgres_cluster.url(name))
    _create_counter(database)
    postgres_cluster.stop()
    try:
        with (
            pytest.raises(
                StoreError, match=rf"^the database at {_where(postgres_cluster)} is unreachable: "
            ),
            database.transaction() as session,
        ):
            session.execute(select(counters.c.value))
    finally:
        postgres_cluster.start()
    # The pool's dead connection is noticed before use and replaced.
    with database.transaction() as session:
        assert session.execute(select(counters.c.value)).scalar_one() == 0
    database.dispose()
    postgres_cluster.drop_database(name)


def test_two_processes_serialise_their_read_modify_writes(database: Database) -> None:
    _create_counter(database)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(2)
    url = database.engine.url.render_as_string(hide_password=False)
    workers = [context.Process(target=_increment, args=(url, ready)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with database.transaction() as session:
        assert session.execute(select(counters.c.value)).scalar_one() == 2 * INCREMENTS


def _where(cluster: Cluster) -> str:
    return re.escape(f"127.0.0.1:{cluster.port}")


def _create_counter(database: Database) -> None:
    _counters.create_all(database.engine)
    with database.transaction() as session:
        session.execute(insert(counters).values(id=1, value=0))


def _increment(url: str, ready: Barrier) -> None:
    # Runs in a child process: read, then write what was read plus one, in one transaction.
    database = Database(url)
    ready.wait(timeout=60)
    for _ in range(INCREMENTS):
        with database.transaction() as session:
            value = session.execute(
                select(counters.c.value).where(counters.c.id == 1).with_for_update()
            ).scalar_one()
            session.execute(update(counters).where(counters.c.id == 1).values(value=value + 1))
    database.dispose()


def test_a_read_does_not_wait_for_a_writer(database_url: str) -> None:
    """The indexer or the outbox may hold a write transaction; a history read goes on."""
    database = Database(database_url)
    database.migrate()
    with database.transaction() as writer:
        writer.execute(text("CREATE TABLE IF NOT EXISTS probe (n INTEGER)"))
    with database.transaction() as writer:
        writer.execute(text("INSERT INTO probe VALUES (1)"))
        # Were the read to wait for the write lock, it would fail ("database is locked").
        with database.reading() as reader:
            assert reader.execute(text("SELECT count(*) FROM probe")).scalar() == 0
    database.dispose()
