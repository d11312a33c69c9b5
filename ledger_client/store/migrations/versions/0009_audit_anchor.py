"""audit anchoring: the audit contract's address, sealed audit details, anchors

Revision ID: 0009_audit_anchor
Revises: 0008_investigation_lookups

The auditor staff role needs no schema change: ``staff.role`` is a string column, and the
role (with the ``anchorer`` system key's) is named by ``StaffRole`` in the code. The anchors
themselves live on the ledger only: a copy in the store is what they must not be checked
against. Plain ``add_column``: a nullable column needs no table copy on SQLite.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_anchor"
down_revision = "0008_investigation_lookups"


def upgrade() -> None:
    # Nullable: a deployment made before this revision has no audit contract until
    # ``ensure_audit_anchor`` deploys one.
    op.add_column("deployments", sa.Column("audit_address", sa.String(length=42), nullable=True))
    # Nullable: entries written before this revision, and most entries after it, have no
    # private part; their hash body is unchanged.
    op.add_column("audit_log", sa.Column("sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("audit_address")
