"""risk flags: what the risk indicators found, and how far they have looked

Revision ID: 0007_risk_flags
Revises: 0006_notifications

The tables of :mod:`ledger_client.risk.models`, and the indexes on the event index that keep
each of the engine's per-subject look-ups an index range scan.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_risk_flags"
down_revision = "0006_notifications"

_INDEXES = (
    ("ix_chain_requests_companion_commitment_block_time", "chain_requests",
     ["companion_commitment", "block_time"]),
    ("ix_chain_requests_child_id_direction_block_time", "chain_requests",
     ["child_id", "direction", "block_time"]),
    ("ix_chain_outcomes_child_id_block_time", "chain_outcomes", ["child_id", "block_time"]),
    ("ix_chain_outcomes_block_time", "chain_outcomes", ["block_time"]),
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "risk_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(66), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("children", sa.JSON(), nullable=False),
        sa.Column("crossings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("first_flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_crossings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_flags")),
        sa.UniqueConstraint("indicator", "subject", name=op.f("uq_risk_flags_indicator")),
    )
    op.create_index(op.f("ix_risk_flags_subject"), "risk_flags", ["subject"])
    op.create_index(op.f("ix_risk_flags_status"), "risk_flags", ["status"])
    op.create_table(
        "risk_review_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["risk_flags.id"], name=op.f("fk_risk_review_notes_flag_id_risk_flags")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_review_notes")),
    )
    op.create_index(op.f("ix_risk_review_notes_flag_id"), "risk_review_notes", ["flag_id"])
    op.create_table(
        "risk_checkpoints",
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_checkpoints")),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("risk_checkpoints")
    op.drop_table("risk_review_notes")
    op.drop_table("risk_flags")
