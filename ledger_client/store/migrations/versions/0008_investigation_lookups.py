"""investigation look-ups: keyed look-ups of names and birth dates for the investigators' searches

Revision ID: 0008_investigation_lookups
Revises: 0007_risk_flags
"""

from alembic import op  # noqa: F401

revision = "0008_investigation_lookups"
down_revision = "0007_risk_flags"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
