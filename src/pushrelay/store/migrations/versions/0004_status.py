"""Status push notification server: registrations, identity, seen request ids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UtcDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "status_registrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_ref", sa.LargeBinary(32), nullable=False),
        sa.Column("installation_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("access_token_ref", sa.LargeBinary(32), nullable=True),
        sa.Column("sealed_key", sa.LargeBinary, nullable=False),
        sa.Column("sealed_registration", sa.LargeBinary, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("key_ref", "installation_id", name="uq_status_registrations_key_installation"),
    )
    op.create_table(
        "status_identity",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "status_seen_messages",
        sa.Column("message_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_status_seen_messages_expires", "status_seen_messages", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_status_seen_messages_expires", table_name="status_seen_messages")
    op.drop_table("status_seen_messages")
    op.drop_table("status_identity")
    op.drop_table("status_registrations")
