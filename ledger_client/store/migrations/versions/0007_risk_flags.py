"""risk flags: what the risk indicators found, and how far they have looked

Revision ID: 0007_risk_flags
Revises: 0006_notifications
"""

from alembic import op  # noqa: F401

revision = "0007_risk_flags"
down_revision = "0006_notifications"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
