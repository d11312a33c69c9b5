"""audit anchoring: the audit contract's address, sealed audit details, anchors

Revision ID: 0009_audit_anchor
Revises: 0008_investigation_lookups
"""

from alembic import op  # noqa: F401

revision = "0009_audit_anchor"
down_revision = "0008_investigation_lookups"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
