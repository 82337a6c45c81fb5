"""Shared tables: accounts, devices, capabilities.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("token_sealed", sa.LargeBinary, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="active"),
        sa.Column("invalid_since", UtcDateTime, nullable=True),
        sa.Column("invalid_reason", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("state IN ('active', 'invalid')", name="state"),
    )
    op.create_index("ix_devices_lookup", "devices", ["app", "platform", "token_hash"])
    op.create_index("ix_devices_account", "devices", ["account_id"])
    op.create_table(
        "capabilities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lookup_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("sealed_value", sa.LargeBinary, nullable=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("kind", "lookup_hash", name="uq_capabilities_kind_lookup"),
        sa.CheckConstraint("device_id IS NOT NULL OR account_id IS NOT NULL", name="reaches_something"),
    )
    op.create_index("ix_capabilities_account", "capabilities", ["account_id"])
    op.create_index("ix_capabilities_device", "capabilities", ["device_id"])
    op.create_index("ix_capabilities_expires", "capabilities", ["expires_at"])


def downgrade() -> None:
    op.drop_table("capabilities")
    op.drop_table("devices")
    op.drop_table("accounts")
