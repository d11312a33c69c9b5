"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("registry_address", sa.String(length=42), nullable=False),
        sa.Column("ledger_address", sa.String(length=42), nullable=False),
        sa.Column("deploy_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("keystore", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("address", name=op.f("uq_staff_address")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_name")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_role"), ["role"], unique=False)

    op.create_table(
        "children",
        sa.Column("child_id", sa.String(length=34), nullable=False),
        sa.Column("card_number", sa.String(length=10), nullable=False),
        sa.Column("commitment", sa.String(length=66), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("enrolled_by", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("successor_id", sa.String(length=34), nullable=True),
        sa.Column("revocation_sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolled_by"], ["staff.id"], name=op.f("fk_children_enrolled_by_staff")
        ),
        sa.PrimaryKeyConstraint("child_id", name=op.f("pk_children")),
        sa.UniqueConstraint("card_number", name=op.f("uq_children_card_number")),
    )
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_children_commitment"), ["commitment"], unique=False)

    op.create_table(
        "crossing_requests",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("child_id", sa.String(length=34), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("border_point", sa.String(length=16), nullable=False),
        sa.Column("companion_commitment", sa.String(length=66), nullable=False),
        sa.Column("companion_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.child_id"], name=op.f("fk_crossing_requests_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff.id"], name=op.f("fk_crossing_requests_requested_by_staff")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_crossing_requests")),
    )
    with op.batch_alter_table("crossing_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crossing_requests_child_id"), ["child_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crossing_requests_companion_commitment"),
            ["companion_commitment"],
            unique=False,
        )

    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.String(length=34), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("document_commitment", sa.String(length=66), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("keystore", sa.JSON(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.child_id"], name=op.f("fk_guardians_child_id_children")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardians")),
    )
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guardians_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_guardians_child_id"), ["child_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_guardians_document_commitment"), ["document_commitment"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardians_document_commitment"))
        batch_op.drop_index(batch_op.f("ix_guardians_child_id"))
        batch_op.drop_index(batch_op.f("ix_guardians_address"))

    op.drop_table("guardians")
    with op.batch_alter_table("crossing_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crossing_requests_companion_commitment"))
        batch_op.drop_index(batch_op.f("ix_crossing_requests_child_id"))

    op.drop_table("crossing_requests")
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_children_commitment"))

    op.drop_table("children")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_role"))

    op.drop_table("staff")
    op.drop_table("deployments")
