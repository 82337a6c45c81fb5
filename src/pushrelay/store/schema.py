"""The tables every protocol shares: accounts, devices and capabilities.

Nothing here holds a secret in the clear: device tokens are stored sealed (to send) and as a
keyed hash (to find duplicates and dead tokens); capabilities are found by keyed hash and
their value is kept sealed only where a protocol must show it again. Protocol-specific
tables live beside this file (`store/<protocol>.py`) on the same `metadata`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone; we put UTC back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("app", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("app", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("token_sealed", sa.LargeBinary, nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="active"),
    sa.Column("invalid_since", UtcDateTime(), nullable=True),
    sa.Column("invalid_reason", sa.String(32), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('active', 'invalid')", name="state"),
    sa.Index("ix_devices_lookup", "app", "platform", "token_hash"),
    sa.Index("ix_devices_account", "account_id"),
)

capabilities = sa.Table(
    "capabilities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("lookup_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("sealed_value", sa.LargeBinary, nullable=True),
    sa.Column("app", sa.String(64), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("kind", "lookup_hash", name="uq_capabilities_kind_lookup"),
    sa.CheckConstraint("device_id IS NOT NULL OR account_id IS NOT NULL", name="reaches_something"),
    sa.Index("ix_capabilities_account", "account_id"),
    sa.Index("ix_capabilities_device", "device_id"),
    sa.Index("ix_capabilities_expires", "expires_at"),
)


class SealedColumn:
    """A column holding `Keyring.seal(label, …)` blobs; `pushrelay rotate-key` re-seals each one."""

    def __init__(self, column: sa.Column[bytes], label: str) -> None:
        self.column = column
        self.label = label


SEALED_COLUMNS: list[SealedColumn] = [
    SealedColumn(devices.c.token_sealed, "devices.token"),
    SealedColumn(capabilities.c.sealed_value, "capabilities.value"),
]
"""Every sealed column. A protocol's module appends its own when it defines its tables."""
