"""Tables and repository of the Status push notification server.

status-go keeps three tables (reference/status-gorush-sygnal.md §1.9): registrations by
(hashed key, installation id) with a version, the server identity, and the ids of handled
notification requests. These are the same three, with DESIGN principle 1 applied: the key is
a keyed hash, the registration and identity are sealed, and request ids expire and are pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pushrelay.protocols.status.repository import (
    IDENTITY_LABEL,
    KEY_LABEL,
    REGISTRATION_LABEL,
    StoredRegistration,
)
from pushrelay.store.database import Database
from pushrelay.store.schema import SEALED_COLUMNS, SealedColumn, UtcDateTime, metadata

status_registrations = sa.Table(
    "status_registrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_ref", sa.LargeBinary(32), nullable=False),
    sa.Column("installation_id", sa.String(64), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("access_token_ref", sa.LargeBinary(32), nullable=True),
    sa.Column("sealed_key", sa.LargeBinary, nullable=False),
    sa.Column("sealed_registration", sa.LargeBinary, nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("key_ref", "installation_id", name="uq_status_registrations_key_installation"),
)

status_identity = sa.Table(
    "status_identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

status_seen_messages = sa.Table(
    "status_seen_messages",
    metadata,
    sa.Column("message_id", sa.LargeBinary(32), primary_key=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_status_seen_messages_expires", "expires_at"),
)

SEALED_COLUMNS.extend(
    [
        SealedColumn(status_registrations.c.sealed_key, KEY_LABEL),
        SealedColumn(status_registrations.c.sealed_registration, REGISTRATION_LABEL),
        SealedColumn(status_identity.c.sealed_secret, IDENTITY_LABEL),
    ]
)

IDENTITY_ROW = 1


class StatusStore:
    """`StatusRepository` on SQL (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._dialect = database.dialect_name

    async def load_identity(self) -> bytes | None:
        async with self._engine.connect() as conn:
            query = sa.select(status_identity.c.sealed_secret).where(status_identity.c.id == IDENTITY_ROW)
            value = (await conn.execute(query)).scalar()
        return None if value is None else bytes(value)

    async def save_identity(self, sealed_secret: bytes) -> None:
        row = {"id": IDENTITY_ROW, "sealed_secret": sealed_secret, "created_at": datetime.now(UTC)}
        async with self._engine.begin() as conn:
            await conn.execute(self._insert(status_identity).values(row).on_conflict_do_nothing())

    async def registration_version(self, key_ref: bytes, installation_id: str) -> int:
        query = sa.select(status_registrations.c.version).where(_one(key_ref, installation_id))
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return 0 if value is None else int(value)

    async def save_registration(self, registration: StoredRegistration) -> bool:
        values = {
            "key_ref": registration.key_ref,
            "installation_id": registration.installation_id,
            "version": registration.version,
            "access_token_ref": registration.access_token_ref,
            "sealed_key": registration.sealed_key,
            "sealed_registration": registration.sealed_registration,
            "updated_at": datetime.now(UTC),
        }
        insert = self._insert(status_registrations).values(values)
        statement = insert.on_conflict_do_update(
            index_elements=["key_ref", "installation_id"],
            set_={
                name: insert.excluded[name] for name in values if name not in ("key_ref", "installation_id")
            },
            where=status_registrations.c.version < insert.excluded.version,
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount > 0

    async def registration(self, key_ref: bytes, installation_id: str) -> StoredRegistration | None:
        query = sa.select(status_registrations).where(_one(key_ref, installation_id))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _registration(row)

    async def registrations_for_keys(self, key_refs: Sequence[bytes]) -> list[StoredRegistration]:
        if not key_refs:
            return []
        query = sa.select(status_registrations).where(
            status_registrations.c.key_ref.in_(list(key_refs)),
            status_registrations.c.sealed_registration.is_not(None),
        )
        async with self._engine.connect() as conn:
            return [_registration(row) for row in await conn.execute(query)]

    async def registered_keys(self) -> list[bytes]:
        query = sa.select(status_registrations.c.key_ref, status_registrations.c.sealed_key).where(
            status_registrations.c.sealed_registration.is_not(None)
        )
        async with self._engine.connect() as conn:
            by_ref = {bytes(ref): bytes(sealed) for ref, sealed in await conn.execute(query)}
        return list(by_ref.values())

    async def drop_registration(self, key_ref: bytes, installation_id: str, version: int) -> bool:
        statement = (
            status_registrations.update()
            .where(_one(key_ref, installation_id), status_registrations.c.version == version)
            .values(sealed_registration=None, access_token_ref=None, updated_at=datetime.now(UTC))
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount > 0

    async def remember_message(self, message_id: bytes, now: datetime, expires_at: datetime) -> bool:
        insert = self._insert(status_seen_messages).values(message_id=message_id, expires_at=expires_at)
        statement = insert.on_conflict_do_update(
            index_elements=["message_id"],
            set_={"expires_at": insert.excluded.expires_at},
            where=status_seen_messages.c.expires_at <= now,
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount > 0

    async def forget_messages(self, now: datetime) -> int:
        statement = status_seen_messages.delete().where(status_seen_messages.c.expires_at <= now)
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount)

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (SQLite ≥ 3.24 and PostgreSQL share it)."""
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)


def _one(key_ref: bytes, installation_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        status_registrations.c.key_ref == key_ref,
        status_registrations.c.installation_id == installation_id,
    )


def _registration(row: sa.Row[Any]) -> StoredRegistration:
    m = row._mapping
    sealed = m["sealed_registration"]
    token_ref = m["access_token_ref"]
    return StoredRegistration(
        key_ref=bytes(m["key_ref"]),
        installation_id=m["installation_id"],
        version=int(m["version"]),
        sealed_key=bytes(m["sealed_key"]),
        access_token_ref=None if token_ref is None else bytes(token_ref),
        sealed_registration=None if sealed is None else bytes(sealed),
    )
