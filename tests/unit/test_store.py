"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger_client.store.database import Database
from ledger_client.store.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    assert not database.is_migrated()
    database.migrate()
    assert database.is_migrated()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == []


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    database.migrate()
    database.migrate()
    with database.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0002"
    database.dispose()
