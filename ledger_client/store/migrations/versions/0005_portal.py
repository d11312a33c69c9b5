"""portal: guardian accounts with their own keys, sessions, login attempts, audit log, photos

Guardians' custodial keystores are dropped: from now on a guardian's key is encrypted only
under the guardian's own secrets (``guardian_accounts``). A guardian enrolled before this
revision is re-verified in person, which gives them a new key and activation code.

Revision ID: 0005_portal
Revises: 0004_event_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_portal"
down_revision = "0004_event_index"


def upgrade() -> None:
    op.create_table(
        "guardian_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_commitment", sa.String(66), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("phone_lookup", sa.String(66), nullable=True),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("keystore_activation", sa.JSON(), nullable=True),
        sa.Column("activation_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("keystore_password", sa.JSON(), nullable=True),
        sa.Column("keystore_pin", sa.JSON(), nullable=True),
        sa.Column("failed_secret_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_accounts")),
        sa.UniqueConstraint(
            "document_commitment", name=op.f("uq_guardian_accounts_document_commitment")
        ),
        sa.UniqueConstraint("address", name=op.f("uq_guardian_accounts_address")),
    )
    op.create_index(
        op.f("ix_guardian_accounts_phone_lookup"), "guardian_accounts", ["phone_lookup"]
    )
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_guardians_account_id"), ["account_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_guardians_account_id_guardian_accounts"),
            "guardian_accounts",
            ["account_id"],
            ["id"],
        )
        batch_op.drop_column("keystore")
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_birth_lookup", sa.String(66), nullable=True))
        batch_op.create_index(batch_op.f("ix_children_name_birth_lookup"), ["name_birth_lookup"])
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(16), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
    )
    op.create_index(op.f("ix_portal_sessions_principal_id"), "portal_sessions", ["principal_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_subject"), "login_attempts", ["subject"])
    op.create_index(op.f("ix_login_attempts_at"), "login_attempts", ["at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(45), nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_audit_log_entry_hash")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])
    op.create_table(
        "child_photos",
        sa.Column("child_id", sa.String(34), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.child_id"], name=op.f("fk_child_photos_child_id_children")
        ),
        sa.PrimaryKeyConstraint("child_id", name=op.f("pk_child_photos")),
    )


def downgrade() -> None:
    op.drop_table("child_photos")
    op.drop_table("audit_log")
    op.drop_table("login_attempts")
    op.drop_table("portal_sessions")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("totp_sealed")
        batch_op.drop_column("password_hash")
    with op.batch_alter_table("children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_children_name_birth_lookup"))
        batch_op.drop_column("name_birth_lookup")
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        # The custodial keys are gone for good; the column comes back empty.
        batch_op.add_column(sa.Column("keystore", sa.JSON(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("fk_guardians_account_id_guardian_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_guardians_account_id"))
        batch_op.drop_column("account_id")
    op.drop_index(op.f("ix_guardian_accounts_phone_lookup"), table_name="guardian_accounts")
    op.drop_table("guardian_accounts")
