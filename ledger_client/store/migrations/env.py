"""Alembic environment: migrations run on the connection the caller hands in."""

from __future__ import annotations

from alembic import context

# The event index keeps its models in its own package, on the same Base: import them so that
# target_metadata (and whoever compares migrations with Base.metadata after migrating) has them.
import ledger_client.indexer.tables  # noqa: F401
from ledger_client.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
