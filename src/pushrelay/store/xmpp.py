"""Tables and repository for the XEP-0357 app server.

One row per registration (a device, an account and a channel in one app). What it keeps:
the account's domain (to check who publishes), p2's salted account hash and channel hash
(sealed: the FCM payload carries them back to the phone), the node (sealed, to hand the
same node out again on re-registration) and the keyed hashes to find the row by node or by
registration key. No JID, no secret (secrets are derived from the node under the server
key), no token (the device row holds it). The deny list holds keyed hashes of dead tokens
and unregistered stateless registrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pushrelay.domain import AppId, Platform, TokenRef
from pushrelay.store.database import Database
from pushrelay.store.schema import SEALED_COLUMNS, SealedColumn, UtcDateTime, devices, metadata
from pushrelay.store.sql import DeviceRow

NODE_LABEL = "xmpp.node"
ACCOUNT_LABEL = "xmpp.account"
CHANNEL_LABEL = "xmpp.channel"

xmpp_registrations = sa.Table(
    "xmpp_registrations",
    metadata,
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
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("key_hash", name="uq_xmpp_registrations_key_hash"),
    sa.UniqueConstraint("node_hash", name="uq_xmpp_registrations_node_hash"),
    sa.Index("ix_xmpp_registrations_device", "device_id"),
)

xmpp_denied = sa.Table(
    "xmpp_denied",
    metadata,
    sa.Column("hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

SEALED_COLUMNS.extend(
    [
        SealedColumn(xmpp_registrations.c.node_sealed, NODE_LABEL),
        SealedColumn(xmpp_registrations.c.account_sealed, ACCOUNT_LABEL),
        SealedColumn(xmpp_registrations.c.channel_sealed, CHANNEL_LABEL),
    ]
)


@dataclass(frozen=True, slots=True)
class RegistrationRow:
    id: int
    app: AppId
    dialect: str
    platform: Platform
    device_id: int
    node_sealed: bytes
    domain: str
    account_sealed: bytes | None
    channel_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class NewRegistration:
    app: AppId
    dialect: str
    platform: Platform
    device_id: int
    key_hash: bytes
    node_hash: bytes
    node_sealed: bytes
    domain: str
    account_sealed: bytes | None
    channel_sealed: bytes | None


TARGET_BY_NODE = (
    sa.select(
        xmpp_registrations,
        devices.c.app.label("device_app"),
        devices.c.platform.label("device_platform"),
        devices.c.token_hash,
        devices.c.token_sealed,
        devices.c.account_id,
        devices.c.state,
        devices.c.invalid_since,
        devices.c.invalid_reason,
    )
    .join(devices, devices.c.id == xmpp_registrations.c.device_id)
    .where(xmpp_registrations.c.node_hash == sa.bindparam("node_hash"))
)
"""A registration and its device by node: built once, so a publish pays neither construction nor cache key."""


class XmppStore:
    """Registrations by node or registration key, and the deny list."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._reader = database.reader

    async def target_by_node(self, node_hash: bytes) -> tuple[RegistrationRow, DeviceRow] | None:
        """The registration and its device in one query: what a publish needs, without a second read."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(TARGET_BY_NODE, {"node_hash": node_hash})).first()
        if row is None:
            return None
        device = DeviceRow(
            id=row.device_id,
            app=AppId(row.device_app),
            platform=Platform(row.device_platform),
            token_hash=TokenRef(row.token_hash),
            token_sealed=bytes(row.token_sealed),
            account_id=row.account_id,
            is_active=row.state == "active",
            invalid_since=row.invalid_since,
            invalid_reason=row.invalid_reason,
        )
        return _registration(row), device

    async def by_key(self, key_hash: bytes) -> RegistrationRow | None:
        return await self._one(xmpp_registrations.c.key_hash == key_hash)

    async def add(self, new: NewRegistration, now: datetime) -> int:
        values: dict[str, Any] = {
            "app": new.app,
            "dialect": new.dialect,
            "platform": new.platform.value,
            "device_id": new.device_id,
            "key_hash": new.key_hash,
            "node_hash": new.node_hash,
            "node_sealed": new.node_sealed,
            "domain": new.domain,
            "account_sealed": new.account_sealed,
            "channel_sealed": new.channel_sealed,
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            result = await conn.execute(xmpp_registrations.insert().values(**values))
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

    async def move_to_device(self, registration_id: int, device_id: int, now: datetime) -> None:
        """The phone's token changed: the same registration (same node) now reaches another device row."""
        async with self._engine.begin() as conn:
            await conn.execute(
                xmpp_registrations.update()
                .where(xmpp_registrations.c.id == registration_id)
                .values(device_id=device_id, updated_at=now)
            )

    async def delete(self, registration_id: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(xmpp_registrations.delete().where(xmpp_registrations.c.id == registration_id))

    async def count_on_device(self, device_id: int) -> int:
        query = sa.select(sa.func.count()).where(xmpp_registrations.c.device_id == device_id)
        async with self._reader.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def deny(self, hashes: list[bytes], now: datetime) -> None:
        async with self._engine.begin() as conn:
            for value in hashes:
                exists = await conn.execute(sa.select(xmpp_denied.c.hash).where(xmpp_denied.c.hash == value))
                if exists.first() is None:
                    await conn.execute(xmpp_denied.insert().values(hash=value, created_at=now))

    async def allow(self, hashes: list[bytes]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(xmpp_denied.delete().where(xmpp_denied.c.hash.in_(hashes)))

    async def denied(self, limit: int) -> set[bytes]:
        query = sa.select(xmpp_denied.c.hash).order_by(xmpp_denied.c.created_at.desc()).limit(limit)
        async with self._reader.connect() as conn:
            return {bytes(row.hash) for row in await conn.execute(query)}

    async def _one(self, condition: sa.ColumnElement[bool]) -> RegistrationRow | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(sa.select(xmpp_registrations).where(condition))).first()
        return None if row is None else _registration(row)


def _registration(row: sa.Row[Any]) -> RegistrationRow:
    return RegistrationRow(
        id=row.id,
        app=AppId(row.app),
        dialect=row.dialect,
        platform=Platform(row.platform),
        device_id=row.device_id,
        node_sealed=bytes(row.node_sealed),
        domain=row.domain,
        account_sealed=None if row.account_sealed is None else bytes(row.account_sealed),
        channel_sealed=None if row.channel_sealed is None else bytes(row.channel_sealed),
    )
