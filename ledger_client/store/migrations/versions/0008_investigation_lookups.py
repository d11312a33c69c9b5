"""investigation look-ups: keyed look-ups of names and birth dates for the investigators' searches

Revision ID: 0008_investigation_lookups
Revises: 0007_risk_flags

Nullable columns, filled by the services for new rows and by
``investigation_backfill.backfill_lookups`` for rows written before this revision (it needs
the master key to open them, which a migration does not hold). Plain ``add_column``: a
nullable column needs no table copy on SQLite.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_investigation_lookups"
down_revision = "0007_risk_flags"

_LOOKUPS = (
    ("children", "name_lookup"),
    ("children", "birth_lookup"),
    ("guardians", "name_lookup"),
    ("crossing_requests", "companion_name_lookup"),
)


def upgrade() -> None:
    for table, column in _LOOKUPS:
        op.add_column(table, sa.Column(column, sa.String(66), nullable=True))
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    op.create_index(
        "ix_chain_requests_border_point_block_time",
        "chain_requests",
        ["border_point", "block_time"],
    )
    op.create_index("ix_chain_requests_block_time", "chain_requests", ["block_time"])
    # Found missing by scripts/bench/investigate.py: without them a name search read every
    # child (38 ms) and a search for open requests every request (232 ms) of a million.
    op.create_index(op.f("ix_children_successor_id"), "children", ["successor_id"])
    op.create_index(op.f("ix_chain_requests_expires_at"), "chain_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chain_requests_expires_at"), table_name="chain_requests")
    op.drop_index(op.f("ix_children_successor_id"), table_name="children")
    op.drop_index("ix_chain_requests_block_time", table_name="chain_requests")
    op.drop_index("ix_chain_requests_border_point_block_time", table_name="chain_requests")
    for table, column in reversed(_LOOKUPS):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(column)
