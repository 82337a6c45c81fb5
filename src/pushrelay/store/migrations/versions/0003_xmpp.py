"""XEP-0357 app server: registrations and the deny list.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "xmpp_registrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("dialect", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("node_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("node_sealed", sa.LargeBinary, nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("account_sealed", sa.LargeBinary, nullable=True),
        sa.Column("channel_sealed", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_xmpp_registrations_key_hash"),
        sa.UniqueConstraint("node_hash", name="uq_xmpp_registrations_node_hash"),
    )
    op.create_index("ix_xmpp_registrations_device", "xmpp_registrations", ["device_id"])
    op.create_table(
        "xmpp_denied",
        sa.Column("hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("xmpp_denied")
    op.drop_table("xmpp_registrations")
