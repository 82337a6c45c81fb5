"""ChatSecure Push tables and their repository: what the shared tables do not already hold.

* `chatsecure_accounts`: one per ChatSecure account, beside its shared `accounts` row. The
  username and email are found by keyed hash and kept sealed; the password is an argon2id
  record; the API key is only a keyed hash (protocols/chatsecure/credentials.py).
* `chatsecure_devices`: the public UUID, name and `device_id` of an APNS or GCM device, and
  the shared `devices` row holding its (sealed) registration id. Two ChatSecure devices may
  share one row when an owner registers the same token twice (SRV allowed it).
* `chatsecure_tokens`: a whitelist token's name and the device it was minted for, beside
  its shared `capabilities` row (found by keyed hash, value sealed so the owner can list it).

Deleting a shared row cascades here; deleting a ChatSecure device deletes its tokens'
capabilities in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pushrelay.domain import AppId
from pushrelay.store.database import Database
from pushrelay.store.schema import (
    SEALED_COLUMNS,
    SealedColumn,
    UtcDateTime,
    accounts,
    capabilities,
    devices,
    metadata,
)

USERNAME_LABEL = "chatsecure.username"
EMAIL_LABEL = "chatsecure.email"
NAME_LABEL = "chatsecure.name"
DEVICE_IDENT_LABEL = "chatsecure.device_id"

chatsecure_accounts = sa.Table(
    "chatsecure_accounts",
    metadata,
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
    sa.Column("email_hash", sa.LargeBinary(32), nullable=True, index=True),
    sa.Column("email_sealed", sa.LargeBinary, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

chatsecure_devices = sa.Table(
    "chatsecure_devices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("public_id", sa.String(36), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("name_sealed", sa.LargeBinary, nullable=True),
    sa.Column("ident_sealed", sa.LargeBinary, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('apns', 'gcm')", name="kind"),
    sa.Index("ix_chatsecure_devices_owner", "account_id", "kind"),
    sa.Index("ix_chatsecure_devices_device", "device_id"),
)

chatsecure_tokens = sa.Table(
    "chatsecure_tokens",
    metadata,
    sa.Column(
        "capability_id", sa.Integer, sa.ForeignKey("capabilities.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "chatsecure_device_id",
        sa.Integer,
        sa.ForeignKey("chatsecure_devices.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name_sealed", sa.LargeBinary, nullable=True),
)

SEALED_COLUMNS.extend(
    [
        SealedColumn(chatsecure_accounts.c.username_sealed, USERNAME_LABEL),
        SealedColumn(chatsecure_accounts.c.email_sealed, EMAIL_LABEL),
        SealedColumn(chatsecure_devices.c.name_sealed, NAME_LABEL),
        SealedColumn(chatsecure_devices.c.ident_sealed, DEVICE_IDENT_LABEL),
        SealedColumn(chatsecure_tokens.c.name_sealed, NAME_LABEL),
    ]
)


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    account_id: int
    app: AppId
    public_id: str
    username_sealed: bytes
    password: str
    email_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class NewAccount:
    public_id: str
    username_hash: bytes
    username_sealed: bytes
    password: str
    api_key_hash: bytes
    email_hash: bytes | None
    email_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A ChatSecure device. `is_reachable` is False once token hygiene marked its token dead."""

    id: int
    public_id: str
    account_id: int
    device_id: int
    kind: str
    name_sealed: bytes | None
    ident_sealed: bytes | None
    enabled: bool
    created_at: datetime
    is_reachable: bool
    token_sealed: bytes


@dataclass(frozen=True, slots=True)
class TokenRow:
    capability_id: int
    sealed_value: bytes | None
    expires_at: datetime | None
    name_sealed: bytes | None
    device_public_id: str
    device_kind: str


class UsernameTaken(Exception):
    """Another request created this username first."""


_DEVICE_COLUMNS = (
    *chatsecure_devices.c,
    (devices.c.state == "active").label("is_reachable"),
    devices.c.token_sealed,
)
_DEVICE_JOIN = chatsecure_devices.join(devices, devices.c.id == chatsecure_devices.c.device_id)
_TOKEN_COLUMNS = (
    chatsecure_tokens.c.capability_id,
    capabilities.c.sealed_value,
    capabilities.c.expires_at,
    chatsecure_tokens.c.name_sealed,
    chatsecure_devices.c.public_id.label("device_public_id"),
    chatsecure_devices.c.kind.label("device_kind"),
)
_TOKEN_JOIN = chatsecure_tokens.join(
    capabilities, capabilities.c.id == chatsecure_tokens.c.capability_id
).join(chatsecure_devices, chatsecure_devices.c.id == chatsecure_tokens.c.chatsecure_device_id)


class ChatSecureStore:
    """The ChatSecure repository. It sees keyed hashes and sealed blobs, never secrets."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine

    # accounts

    async def create_account(self, account_id: int, app: AppId, new: NewAccount, now: datetime) -> AccountRow:
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    chatsecure_accounts.insert().values(
                        account_id=account_id,
                        public_id=new.public_id,
                        username_hash=new.username_hash,
                        username_sealed=new.username_sealed,
                        password=new.password,
                        api_key_hash=new.api_key_hash,
                        email_hash=new.email_hash,
                        email_sealed=new.email_sealed,
                        created_at=now,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise UsernameTaken from exc
        key = result.inserted_primary_key
        assert key is not None
        return AccountRow(
            int(key[0]), account_id, app, new.public_id, new.username_sealed, new.password, new.email_sealed
        )

    async def account_by_username(self, username_hash: bytes) -> AccountRow | None:
        return await self._account(chatsecure_accounts.c.username_hash == username_hash)

    async def account_by_api_key(self, api_key_hash: bytes) -> AccountRow | None:
        return await self._account(chatsecure_accounts.c.api_key_hash == api_key_hash)

    async def email_is_taken(self, email_hash: bytes) -> bool:
        query = sa.select(chatsecure_accounts.c.id).where(chatsecure_accounts.c.email_hash == email_hash)
        async with self._engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def _account(self, condition: sa.ColumnElement[bool]) -> AccountRow | None:
        query = (
            sa.select(chatsecure_accounts, accounts.c.app)
            .select_from(
                chatsecure_accounts.join(accounts, accounts.c.id == chatsecure_accounts.c.account_id)
            )
            .where(condition)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        return AccountRow(
            m["id"],
            m["account_id"],
            AppId(m["app"]),
            m["public_id"],
            m["username_sealed"],
            m["password"],
            m["email_sealed"],
        )

    # devices

    async def create_device(
        self,
        *,
        public_id: str,
        account_id: int,
        device_id: int,
        kind: str,
        fields: dict[str, Any],
        now: datetime,
    ) -> None:
        """`fields`: name_sealed, ident_sealed, enabled."""
        async with self._engine.begin() as conn:
            await conn.execute(
                chatsecure_devices.insert().values(
                    public_id=public_id,
                    account_id=account_id,
                    device_id=device_id,
                    kind=kind,
                    created_at=now,
                    **fields,
                )
            )

    async def device(self, account_id: int, kind: str, public_id: str) -> DeviceRow | None:
        query = (
            sa.select(*_DEVICE_COLUMNS)
            .select_from(_DEVICE_JOIN)
            .where(
                chatsecure_devices.c.account_id == account_id,
                chatsecure_devices.c.kind == kind,
                chatsecure_devices.c.public_id == public_id,
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _device(row) if row else None

    async def devices(
        self, account_id: int, kind: str | None, offset: int, limit: int
    ) -> tuple[int, list[DeviceRow]]:
        """(count, one page) of an owner's devices of `kind` (None: every kind), oldest first."""
        condition = chatsecure_devices.c.account_id == account_id
        if kind is not None:
            condition = sa.and_(condition, chatsecure_devices.c.kind == kind)
        count = sa.select(sa.func.count()).select_from(chatsecure_devices).where(condition)
        page = (
            sa.select(*_DEVICE_COLUMNS)
            .select_from(_DEVICE_JOIN)
            .where(condition)
            .order_by(chatsecure_devices.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = [_device(row) for row in await conn.execute(page)]
        return int(total), rows

    async def update_device(self, row_id: int, changes: dict[str, Any]) -> None:
        """`changes`: any of device_id, name_sealed, ident_sealed, enabled."""
        if changes:
            async with self._engine.begin() as conn:
                await conn.execute(
                    chatsecure_devices.update().where(chatsecure_devices.c.id == row_id).values(changes)
                )

    async def delete_device(self, row: DeviceRow) -> bool:
        """Delete the device and its tokens' capabilities. True if its shared device is now unused."""
        minted_here = sa.select(chatsecure_tokens.c.capability_id).where(
            chatsecure_tokens.c.chatsecure_device_id == row.id
        )
        async with self._engine.begin() as conn:
            await conn.execute(capabilities.delete().where(capabilities.c.id.in_(minted_here)))
            await conn.execute(chatsecure_devices.delete().where(chatsecure_devices.c.id == row.id))
        return not await self.is_device_linked(row.device_id)

    async def is_device_linked(self, device_id: int) -> bool:
        """Whether any ChatSecure device still uses the shared device `device_id`."""
        query = sa.select(chatsecure_devices.c.id).where(chatsecure_devices.c.device_id == device_id)
        async with self._engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def enabled_devices(self, account_id: int) -> list[tuple[int, str]]:
        """(shared device id, kind) of every device the owner has not switched off, each once."""
        query = (
            sa.select(chatsecure_devices.c.device_id, chatsecure_devices.c.kind)
            .where(chatsecure_devices.c.account_id == account_id, chatsecure_devices.c.enabled.is_(True))
            .distinct()
            .order_by(chatsecure_devices.c.device_id)
        )
        async with self._engine.connect() as conn:
            return [(int(r.device_id), str(r.kind)) for r in await conn.execute(query)]

    # tokens

    async def add_token(self, capability_id: int, device_row_id: int, name_sealed: bytes | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                chatsecure_tokens.insert().values(
                    capability_id=capability_id, chatsecure_device_id=device_row_id, name_sealed=name_sealed
                )
            )

    async def token(self, capability_id: int) -> TokenRow | None:
        query = (
            sa.select(*_TOKEN_COLUMNS)
            .select_from(_TOKEN_JOIN)
            .where(chatsecure_tokens.c.capability_id == capability_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _token(row) if row else None

    async def tokens(self, account_id: int, offset: int, limit: int) -> tuple[int, list[TokenRow]]:
        """(count, one page) of an owner's tokens that are not revoked, oldest first."""
        condition = sa.and_(chatsecure_devices.c.account_id == account_id, capabilities.c.revoked.is_(False))
        count = sa.select(sa.func.count()).select_from(_TOKEN_JOIN).where(condition)
        page = (
            sa.select(*_TOKEN_COLUMNS)
            .select_from(_TOKEN_JOIN)
            .where(condition)
            .order_by(chatsecure_tokens.c.capability_id)
            .offset(offset)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = [_token(row) for row in await conn.execute(page)]
        return int(total), rows

    async def update_token(self, capability_id: int, changes: dict[str, Any]) -> None:
        """`changes`: any of chatsecure_device_id, name_sealed."""
        if changes:
            async with self._engine.begin() as conn:
                await conn.execute(
                    chatsecure_tokens.update()
                    .where(chatsecure_tokens.c.capability_id == capability_id)
                    .values(changes)
                )

    async def delete_token(self, capability_id: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                chatsecure_tokens.delete().where(chatsecure_tokens.c.capability_id == capability_id)
            )


def _device(row: sa.Row[Any]) -> DeviceRow:
    m = row._mapping
    return DeviceRow(
        id=m["id"],
        public_id=m["public_id"],
        account_id=m["account_id"],
        device_id=m["device_id"],
        kind=m["kind"],
        name_sealed=m["name_sealed"],
        ident_sealed=m["ident_sealed"],
        enabled=bool(m["enabled"]),
        created_at=m["created_at"],
        is_reachable=bool(m["is_reachable"]),
        token_sealed=m["token_sealed"],
    )


def _token(row: sa.Row[Any, Any, Any, Any, Any, Any]) -> TokenRow:
    m = row._mapping
    return TokenRow(
        capability_id=m["capability_id"],
        sealed_value=m["sealed_value"],
        expires_at=m["expires_at"],
        name_sealed=m["name_sealed"],
        device_public_id=m["device_public_id"],
        device_kind=m["device_kind"],
    )
