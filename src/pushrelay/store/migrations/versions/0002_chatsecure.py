"""ChatSecure Push tables: accounts, devices and whitelist-token extras.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chatsecure_accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("public_id", sa.String(36), nullable=False, unique=True),
        sa.Column("username_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("username_sealed", sa.LargeBinary, nullable=False),
        sa.Column("password", sa.String(255), nullable=False),
        sa.Column("api_key_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("email_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("email_sealed", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_chatsecure_accounts_email_hash", "chatsecure_accounts", ["email_hash"])
    op.create_table(
        "chatsecure_devices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(36), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary, nullable=True),
        sa.Column("ident_sealed", sa.LargeBinary, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("kind IN ('apns', 'gcm')", name="kind"),
    )
    op.create_index("ix_chatsecure_devices_owner", "chatsecure_devices", ["account_id", "kind"])
    op.create_index("ix_chatsecure_devices_device", "chatsecure_devices", ["device_id"])
    op.create_table(
        "chatsecure_tokens",
        sa.Column(
            "capability_id",
            sa.Integer,
            sa.ForeignKey("capabilities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "chatsecure_device_id",
            sa.Integer,
            sa.ForeignKey("chatsecure_devices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name_sealed", sa.LargeBinary, nullable=True),
    )
    op.create_index(
        "ix_chatsecure_tokens_chatsecure_device_id", "chatsecure_tokens", ["chatsecure_device_id"]
    )


def downgrade() -> None:
    op.drop_table("chatsecure_tokens")
    op.drop_table("chatsecure_devices")
    op.drop_table("chatsecure_accounts")
