"""Fixtures the store-backed unit tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger_client.store.database import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated store on SQLite or PostgreSQL (``test_store`` keeps an empty one of its own,
    since it tests the migrations themselves)."""
    opened = Database(database_url)
    opened.migrate()
    yield opened
    opened.dispose()
