"""The Store: SQL for the shared tables. It sees keyed hashes and sealed blobs, never secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pushrelay.domain import AppId, Platform, TokenRef
from pushrelay.store.database import Database
from pushrelay.store.schema import SEALED_COLUMNS, accounts, capabilities, devices


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: int
    app: AppId
    platform: Platform
    token_hash: TokenRef
    token_sealed: bytes
    account_id: int | None
    is_active: bool
    invalid_since: datetime | None
    invalid_reason: str | None


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    id: int
    kind: str
    app: AppId
    sealed_value: bytes | None
    device_id: int | None
    account_id: int | None
    expires_at: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class DeadToken:
    app: AppId
    platform: Platform
    token_hash: TokenRef
    since: datetime
    reason: str


class Store:
    """Accounts, devices and capabilities, by id or keyed hash."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._engine = database.engine
        self._reader = database.reader

    # accounts

    async def create_account(self, app: AppId, now: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(accounts.insert().values(app=app, created_at=now))
            return _inserted_id(result)

    async def delete_account(self, account_id: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(accounts.delete().where(accounts.c.id == account_id))
            return result.rowcount > 0

    # devices

    async def upsert_device(
        self,
        app: AppId,
        platform: Platform,
        token_hash: TokenRef,
        token_sealed: bytes,
        account_id: int | None,
        now: datetime,
    ) -> int:
        """The device for this token and account, created if new, reactivated if it was invalid.

        Registering a token again counts as fresh evidence it is alive (APNs' 410 rule: a
        token re-registered after its invalidation timestamp is valid again).
        """
        match = sa.and_(
            devices.c.app == app,
            devices.c.platform == platform.value,
            devices.c.token_hash == token_hash,
            devices.c.account_id.is_(None) if account_id is None else devices.c.account_id == account_id,
        )
        async with self._engine.begin() as conn:
            found = (await conn.execute(sa.select(devices.c.id).where(match).limit(1))).scalar()
            if found is not None:
                await conn.execute(
                    devices.update()
                    .where(devices.c.id == found)
                    .values(state="active", invalid_since=None, invalid_reason=None, updated_at=now)
                )
                return int(found)
            result = await conn.execute(
                devices.insert().values(
                    app=app,
                    platform=platform.value,
                    token_hash=token_hash,
                    token_sealed=token_sealed,
                    account_id=account_id,
                    state="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            return _inserted_id(result)

    async def delete_device(self, device_id: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(devices.delete().where(devices.c.id == device_id))
            return result.rowcount > 0

    async def get_device(self, device_id: int) -> DeviceRow | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(sa.select(devices).where(devices.c.id == device_id))).first()
        return _device(row) if row else None

    async def account_devices(self, account_id: int) -> list[DeviceRow]:
        query = sa.select(devices).where(devices.c.account_id == account_id).order_by(devices.c.id)
        async with self._reader.connect() as conn:
            return [_device(row) for row in await conn.execute(query)]

    async def invalidate_token(
        self,
        app: AppId,
        platform: Platform,
        token_hash: TokenRef,
        token_sealed: bytes,
        since: datetime,
        reason: str,
    ) -> None:
        """Mark every device with this token invalid, unless it was registered after `since`.

        A token nobody registered (gorush-style sends) gets an ownerless row, so the relay
        still knows it is dead after a restart.
        """
        match = sa.and_(
            devices.c.app == app, devices.c.platform == platform.value, devices.c.token_hash == token_hash
        )
        async with self._engine.begin() as conn:
            exists = (await conn.execute(sa.select(devices.c.id).where(match).limit(1))).scalar()
            if exists is None:
                await conn.execute(
                    devices.insert().values(
                        app=app,
                        platform=platform.value,
                        token_hash=token_hash,
                        token_sealed=token_sealed,
                        state="invalid",
                        invalid_since=since,
                        invalid_reason=reason,
                        created_at=since,
                        updated_at=since,
                    )
                )
                return
            await conn.execute(
                devices.update()
                .where(match, devices.c.updated_at <= since)
                .values(state="invalid", invalid_since=since, invalid_reason=reason)
            )

    async def dead_tokens(self, limit: int) -> list[DeadToken]:
        """The most recently invalidated tokens, to warm the relay's in-memory deny list."""
        query = (
            sa.select(
                devices.c.app,
                devices.c.platform,
                devices.c.token_hash,
                devices.c.invalid_since,
                devices.c.invalid_reason,
            )
            .where(devices.c.state == "invalid")
            .order_by(devices.c.invalid_since.desc())
            .limit(limit)
        )
        async with self._reader.connect() as conn:
            return [
                DeadToken(
                    AppId(r.app),
                    Platform(r.platform),
                    TokenRef(r.token_hash),
                    r.invalid_since,
                    r.invalid_reason or "",
                )
                for r in await conn.execute(query)
            ]

    # capabilities

    async def insert_capability(
        self,
        kind: str,
        lookup_hash: bytes,
        *,
        app: AppId,
        sealed_value: bytes | None,
        device_id: int | None,
        account_id: int | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                capabilities.insert().values(
                    kind=kind,
                    lookup_hash=lookup_hash,
                    sealed_value=sealed_value,
                    app=app,
                    device_id=device_id,
                    account_id=account_id,
                    expires_at=expires_at,
                    revoked=False,
                    created_at=now,
                )
            )
            return _inserted_id(result)

    async def find_capability(self, kind: str, lookup_hash: bytes) -> CapabilityRow | None:
        query = sa.select(capabilities).where(
            capabilities.c.kind == kind, capabilities.c.lookup_hash == lookup_hash
        )
        async with self._reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return _capability(row) if row else None

    async def revoke_capability(self, kind: str, lookup_hash: bytes) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                capabilities.update()
                .where(capabilities.c.kind == kind, capabilities.c.lookup_hash == lookup_hash)
                .values(revoked=True)
            )
            return result.rowcount > 0

    async def capabilities_of(self, kind: str, *, account_id: int) -> list[CapabilityRow]:
        query = (
            sa.select(capabilities)
            .where(capabilities.c.kind == kind, capabilities.c.account_id == account_id)
            .order_by(capabilities.c.id)
        )
        async with self._reader.connect() as conn:
            return [_capability(row) for row in await conn.execute(query)]

    async def delete_expired_capabilities(self, now: datetime) -> int:
        condition = sa.or_(capabilities.c.expires_at <= now, capabilities.c.revoked.is_(True))
        async with self._engine.begin() as conn:
            result = await conn.execute(capabilities.delete().where(condition))
            return result.rowcount

    # key rotation

    async def sealed_rows(self) -> list[tuple[int, int, bytes]]:
        """(column index in SEALED_COLUMNS, primary key, blob) for every sealed value."""
        out: list[tuple[int, int, bytes]] = []
        async with self._reader.connect() as conn:
            for index, sealed in enumerate(SEALED_COLUMNS):
                table = sealed.column.table
                pk = next(iter(table.primary_key.columns))
                query = sa.select(pk, sealed.column).where(sealed.column.is_not(None))
                out.extend((index, key, blob) for key, blob in await conn.execute(query))
        return out

    async def replace_sealed(self, updates: Sequence[tuple[int, int, bytes]]) -> None:
        async with self._engine.begin() as conn:
            for index, key, blob in updates:
                column = SEALED_COLUMNS[index].column
                pk = next(iter(column.table.primary_key.columns))
                await conn.execute(sa.update(column.table).where(pk == key).values({column.name: blob}))


def _device(row: sa.Row[tuple[object, ...]]) -> DeviceRow:
    m = row._mapping
    return DeviceRow(
        id=m["id"],
        app=AppId(m["app"]),
        platform=Platform(m["platform"]),
        token_hash=TokenRef(m["token_hash"]),
        token_sealed=m["token_sealed"],
        account_id=m["account_id"],
        is_active=m["state"] == "active",
        invalid_since=m["invalid_since"],
        invalid_reason=m["invalid_reason"],
    )


def _capability(row: sa.Row[tuple[object, ...]]) -> CapabilityRow:
    m = row._mapping
    return CapabilityRow(
        id=m["id"],
        kind=m["kind"],
        app=AppId(m["app"]),
        sealed_value=m["sealed_value"],
        device_id=m["device_id"],
        account_id=m["account_id"],
        expires_at=m["expires_at"],
        revoked=bool(m["revoked"]),
    )


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "INSERT returned no primary key"
    return int(key[0])
