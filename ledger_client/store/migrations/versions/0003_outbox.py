"""outbox, account nonces, and crossing requests numbered after confirmation

Revision ID: 0003_outbox
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox"
down_revision = "0002"

_REQUEST_COLUMNS = (
    "child_id, direction, border_point, companion_commitment, companion_sealed, "
    "requested_by, tx_hash, requested_at"
)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("call", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("revert_data", sa.String(length=2000), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("chain_id", "sender", "nonce", name=op.f("uq_outbox_chain_id")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sender"), ["sender"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_tx_hash"), ["tx_hash"], unique=False)
    op.create_table(
        "account_nonces",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_account_nonces")),
    )
    _renumber_crossing_requests()


def _renumber_crossing_requests() -> None:
    # The primary key changes (the chain numbers a request only once it is mined), which
    # neither dialect alters in place: build the new table and copy the rows over.
    with op.batch_alter_table("crossing_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_crossing_requests_companion_commitment")
        batch_op.drop_index("ix_crossing_requests_child_id")
    op.rename_table("crossing_requests", "crossing_requests_0002")
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL names the primary key's index schema-wide; free the name for the new one.
        op.execute(
            "ALTER TABLE crossing_requests_0002 "
            "RENAME CONSTRAINT pk_crossing_requests TO pk_crossing_requests_0002"
        )
    op.create_table(
        "crossing_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_key", sa.String(length=160), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("child_id", sa.String(length=34), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("border_point", sa.String(length=16), nullable=False),
        sa.Column("companion_commitment", sa.String(length=66), nullable=False),
        sa.Column("companion_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.child_id"],
            name=op.f("fk_crossing_requests_child_id_children"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff.id"], name=op.f("fk_crossing_requests_requested_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing_requests")),
        sa.UniqueConstraint("action_key", name=op.f("uq_crossing_requests_action_key")),
        sa.UniqueConstraint("request_id", name=op.f("uq_crossing_requests_request_id")),
    )
    # Sealed companion data is bound to "crossing_requests:<action_key>"; for the old rows
    # the key is the request number, which is what their seal was bound to.
    op.execute(
        f"INSERT INTO crossing_requests (action_key, request_id, {_REQUEST_COLUMNS}) "  # noqa: S608
        f"SELECT CAST(request_id AS VARCHAR(160)), request_id, {_REQUEST_COLUMNS} "
        "FROM crossing_requests_0002 ORDER BY crossing_requests_0002.request_id"
    )
    op.drop_table("crossing_requests_0002")
    with op.batch_alter_table("crossing_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crossing_requests_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crossing_requests_companion_commitment"),
            ["companion_commitment"],
            unique=False,
        )


def downgrade() -> None:
    raise NotImplementedError("the outbox migration is not reversible: restore a backup")
