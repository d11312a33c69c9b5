"""event index

Revision ID: 0004_event_index
Revises: 0003_outbox

The tables of :mod:`ledger_client.indexer.tables`: a checkpoint, the hashes of indexed blocks,
and one table per kind of event, each row located by block, transaction and log index.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_event_index"
down_revision = "0003_outbox"

_HASH = sa.String(length=66)
_ADDRESS = sa.String(length=42)
_CHILD = sa.String(length=34)


def _event_table(name: str, columns: list[Any], indexed: list[str]) -> None:
    """An event table: its own columns, then where the event sits on the chain."""
    op.create_table(
        name,
        *columns,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", _HASH, nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", _HASH, nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("tx_hash", "log_index", name=f"uq_{name}_tx_hash_log_index"),
    )
    op.create_index(f"ix_{name}_block_number", name, ["block_number"])
    for column in indexed:
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column])


def upgrade() -> None:
    op.create_table(
        "index_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_address", _ADDRESS, nullable=False),
        sa.Column("ledger_address", _ADDRESS, nullable=False),
        sa.Column("deploy_block", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", _HASH, nullable=True),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_checkpoints")),
        sa.UniqueConstraint(
            "registry_address",
            "ledger_address",
            name=op.f("uq_index_checkpoints_registry_address"),
        ),
    )
    op.create_table(
        "index_blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", _HASH, nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_index_blocks")),
    )
    _event_table(
        "chain_children",
        [
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("commitment", _HASH, nullable=False),
            sa.Column("registered_policy", sa.String(length=8), nullable=False),
            sa.Column("registered_threshold", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("policy", sa.String(length=8), nullable=False),
            sa.Column("threshold", sa.Integer(), nullable=False),
            sa.Column("successor_id", _CHILD, nullable=True),
            sa.UniqueConstraint("child_id", name=op.f("uq_chain_children_child_id")),
        ],
        [],
    )
    _event_table(
        "chain_guardian_changes",
        [
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("guardian", _ADDRESS, nullable=False),
            sa.Column("change", sa.String(length=8), nullable=False),
            sa.Column("document_commitment", _HASH, nullable=True),
        ],
        ["child_id", "guardian", "document_commitment"],
    )
    _event_table(
        "chain_policy_changes",
        [
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("policy", sa.String(length=8), nullable=False),
            sa.Column("threshold", sa.Integer(), nullable=False),
        ],
        ["child_id"],
    )
    _event_table(
        "chain_revocations",
        [
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("reason_code", sa.Integer(), nullable=False),
        ],
        ["child_id"],
    )
    _event_table(
        "chain_supersessions",
        [
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("successor_id", _CHILD, nullable=False),
        ],
        ["child_id", "successor_id"],
    )
    _event_table(
        "chain_requests",
        [
            sa.Column("request_id", sa.BigInteger(), nullable=False),
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("companion_commitment", _HASH, nullable=False),
            sa.Column("direction", sa.String(length=8), nullable=False),
            sa.Column("border_point", sa.String(length=16), nullable=False),
            sa.Column("expires_at", sa.BigInteger(), nullable=False),
            sa.Column("officer", _ADDRESS, nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.UniqueConstraint("request_id", name=op.f("uq_chain_requests_request_id")),
        ],
        ["child_id", "companion_commitment"],
    )
    _event_table(
        "chain_decisions",
        [
            sa.Column("request_id", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(length=12), nullable=False),
            sa.Column("decider", _ADDRESS, nullable=False),
            sa.Column("approved", sa.Boolean(), nullable=False),
            sa.Column("counted", sa.Boolean(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
        ],
        ["request_id", "decider"],
    )
    _event_table(
        "chain_overrides",
        [
            sa.Column("request_id", sa.BigInteger(), nullable=False),
            sa.Column("officer", _ADDRESS, nullable=False),
            sa.Column("court_order_hash", _HASH, nullable=False),
        ],
        ["request_id"],
    )
    _event_table(
        "chain_outcomes",
        [
            sa.Column("request_id", sa.BigInteger(), nullable=False),
            sa.Column("child_id", _CHILD, nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=False),
            sa.Column("officer", _ADDRESS, nullable=False),
        ],
        ["request_id", "child_id"],
    )
    _event_table(
        "chain_access_events",
        [
            sa.Column("contract", sa.String(length=16), nullable=False),
            sa.Column("event", sa.String(length=48), nullable=False),
            sa.Column("role", _HASH, nullable=True),
            sa.Column("account", _ADDRESS, nullable=True),
            sa.Column("sender", _ADDRESS, nullable=True),
            sa.Column("details", sa.JSON(), nullable=False),
        ],
        ["account"],
    )


def downgrade() -> None:
    for name in (
        "chain_access_events",
        "chain_outcomes",
        "chain_overrides",
        "chain_decisions",
        "chain_requests",
        "chain_supersessions",
        "chain_revocations",
        "chain_policy_changes",
        "chain_guardian_changes",
        "chain_children",
        "index_blocks",
        "index_checkpoints",
    ):
        op.drop_table(name)
