"""Tables and repository of the Status push notification server.

status-go keeps three tables (reference/status-gorush-sygnal.md §1.9): registrations by
(hashed key, installation id) with a version, the server identity, and the ids of handled
notification requests. These are the same three, with DESIGN principle 1 applied: the key is
a keyed hash, the registration and identity are sealed, and request ids expire and are pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pushrelay.store.database import Database
from pushrelay.store.schema import SEALED_COLUMNS, SealedColumn, UtcDateTime, metadata

# Keyring labels: bound into each keyed hash and sealed blob, so one kind cannot pass for another.
KEY_LABEL: Final = "status.key"
TOKEN_LABEL: Final = "status.access_token"
REGISTRATION_LABEL: Final = "status.registration"
IDENTITY_LABEL: Final = "status.identity"


@dataclass(frozen=True, slots=True)
class StoredRegistration:
    """One (client key, installation) registration, as status-go's registrations table holds it."""

    key_ref: bytes
    """Keyed hash of the client's hashed public key (SHAKE-256 of the compressed key)."""
    installation_id: str
    version: int
    sealed_key: bytes
    """The hashed public key, sealed: the Waku binding re-joins query topics from it at start."""
    access_token_ref: bytes | None = None
    """Keyed hash of the access token; notification requests are checked against it."""
    sealed_registration: bytes | None = None
    """The registration protobuf, sealed; None once unregistered (the version is kept).
    For contacts-only registrations it holds no access token: only the hash above does."""


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
BATCH_LIMIT = 256
"""Rows per statement: far below SQLite's 32,766 bound variables and PostgreSQL's 32,767."""

In = TypeVar("In")
Out = TypeVar("Out")


class Batches(Generic[In, Out]):
    """Group calls that arrive together into one `run(items)`: callers that come while a batch
    runs form the next one. Under load a transaction carries many rows; alone, a call goes at once."""

    def __init__(self, run: Callable[[list[In]], Awaitable[list[Out]]], limit: int = BATCH_LIMIT) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as exc:  # every caller of the batch gets the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:
                for _, future in batch:
                    future.cancel()
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class StatusStore:
    """`StatusRepository` on SQL (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._reader = database.reader
        self._dialect = database.dialect_name
        # SQLite has one writer and write transactions begin IMMEDIATE: letting pooled
        # connections race makes the losers sleep in SQLite's busy handler (milliseconds each).
        # Queueing on an asyncio lock instead keeps the one writer busy. Reads go through
        # `Database.reader`, which in WAL mode never waits for the writer.
        self._turn: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self._dialect == "sqlite" else contextlib.nullcontext()
        )
        self._remember_statement = _remember_statement(self._insert(status_seen_messages))
        self._upsert_statement = _upsert_statement(self._insert(status_registrations))
        self._lookup_statement = sa.select(status_registrations).where(
            status_registrations.c.key_ref.in_(sa.bindparam("key_refs", expanding=True))
        )
        # Concurrent calls share one statement and one commit (group commit).
        self._saves = Batches(self._save_batch)
        self._lookups = Batches(self._lookup_batch)
        self._remembers = Batches(self._remember_batch)

    async def load_identity(self) -> bytes | None:
        async with self._reader.connect() as conn:
            query = sa.select(status_identity.c.sealed_secret).where(status_identity.c.id == IDENTITY_ROW)
            value = (await conn.execute(query)).scalar()
        return None if value is None else bytes(value)

    async def save_identity(self, sealed_secret: bytes) -> None:
        row = {"id": IDENTITY_ROW, "sealed_secret": sealed_secret, "created_at": datetime.now(UTC)}
        async with self._turn, self._engine.begin() as conn:
            await conn.execute(self._insert(status_identity).values(row).on_conflict_do_nothing())

    async def registration_version(self, key_ref: bytes, installation_id: str) -> int:
        query = sa.select(status_registrations.c.version).where(_one(key_ref, installation_id))
        async with self._reader.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return 0 if value is None else int(value)

    async def save_registration(self, registration: StoredRegistration) -> bool:
        return await self._saves.submit(registration)

    async def _save_batch(self, registrations: list[StoredRegistration]) -> list[bool]:
        """One upsert per round; a (key, installation) seen twice waits for the next round."""
        results = [False] * len(registrations)
        pending = list(enumerate(registrations))
        while pending:
            this_round: list[tuple[int, StoredRegistration]] = []
            later: list[tuple[int, StoredRegistration]] = []
            keys: set[tuple[bytes, str]] = set()
            for index, registration in pending:
                key = (registration.key_ref, registration.installation_id)
                (later if key in keys else this_round).append((index, registration))
                keys.add(key)
            saved = await self._upsert([registration for _, registration in this_round])
            for index, registration in this_round:
                results[index] = (registration.key_ref, registration.installation_id) in saved
            pending = later
        return results

    async def _upsert(self, registrations: list[StoredRegistration]) -> set[tuple[bytes, str]]:
        now = datetime.now(UTC)
        rows = [
            {
                "key_ref": r.key_ref,
                "installation_id": r.installation_id,
                "version": r.version,
                "access_token_ref": r.access_token_ref,
                "sealed_key": r.sealed_key,
                "sealed_registration": r.sealed_registration,
                "updated_at": now,
            }
            for r in registrations
        ]
        async with self._turn, self._engine.begin() as conn:
            result = await conn.execute(self._upsert_statement, rows)
            return {(bytes(ref), installation) for ref, installation in result}

    async def registration(self, key_ref: bytes, installation_id: str) -> StoredRegistration | None:
        return await self._lookups.submit((key_ref, installation_id))

    async def _lookup_batch(self, keys: list[tuple[bytes, str]]) -> list[StoredRegistration | None]:
        """One SELECT for the batch; the statement is built once (an expanding IN), not per batch."""
        key_refs = list({key_ref for key_ref, _ in keys})
        async with self._reader.connect() as conn:
            found = [
                _registration(row)
                for row in await conn.execute(self._lookup_statement, {"key_refs": key_refs})
            ]
        by_key = {(r.key_ref, r.installation_id): r for r in found}
        return [by_key.get(key) for key in keys]

    async def registrations_for_keys(self, key_refs: Sequence[bytes]) -> list[StoredRegistration]:
        if not key_refs:
            return []
        query = sa.select(status_registrations).where(
            status_registrations.c.key_ref.in_(list(key_refs)),
            status_registrations.c.sealed_registration.is_not(None),
        )
        async with self._reader.connect() as conn:
            return [_registration(row) for row in await conn.execute(query)]

    async def registered_keys(self) -> list[bytes]:
        query = sa.select(status_registrations.c.key_ref, status_registrations.c.sealed_key).where(
            status_registrations.c.sealed_registration.is_not(None)
        )
        async with self._reader.connect() as conn:
            by_ref = {bytes(ref): bytes(sealed) for ref, sealed in await conn.execute(query)}
        return list(by_ref.values())

    async def drop_registration(self, key_ref: bytes, installation_id: str, version: int) -> bool:
        statement = (
            status_registrations.update()
            .where(_one(key_ref, installation_id), status_registrations.c.version == version)
            .values(sealed_registration=None, access_token_ref=None, updated_at=datetime.now(UTC))
        )
        async with self._turn, self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount > 0

    async def remember_message(self, message_id: bytes, now: datetime, expires_at: datetime) -> bool:
        return await self._remembers.submit((message_id, now, expires_at))

    async def _remember_batch(self, items: list[tuple[bytes, datetime, datetime]]) -> list[bool]:
        """One INSERT … ON CONFLICT … RETURNING for the batch: the returned ids are the new ones."""
        first: dict[bytes, int] = {}
        for index, (message_id, _, _) in enumerate(items):
            first.setdefault(message_id, index)
        now = max(item[1] for item in items)
        rows = [{"message_id": m, "expires_at": items[i][2], "now": now} for m, i in first.items()]
        async with self._turn, self._engine.begin() as conn:
            new = {bytes(row[0]) for row in await conn.execute(self._remember_statement, rows)}
        return [message_id in new and first[message_id] == i for i, (message_id, _, _) in enumerate(items)]

    async def forget_messages(self, now: datetime) -> int:
        statement = status_seen_messages.delete().where(status_seen_messages.c.expires_at <= now)
        async with self._turn, self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount)

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (SQLite ≥ 3.24 and PostgreSQL share it)."""
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)


def _upsert_statement(insert: Any) -> Any:
    """Insert or replace a registration, only with a higher version; RETURNING names the saved ones."""
    replaced = ("version", "access_token_ref", "sealed_key", "sealed_registration", "updated_at")
    return insert.on_conflict_do_update(
        index_elements=["key_ref", "installation_id"],
        set_={name: insert.excluded[name] for name in replaced},
        where=status_registrations.c.version < insert.excluded.version,
    ).returning(status_registrations.c.key_ref, status_registrations.c.installation_id)


def _remember_statement(insert: Any) -> Any:
    """Insert the id, or renew it if it expired: RETURNING gives the ids that count as new.

    Compiled once; SQLAlchemy sends an executemany as multi-row statements ("insertmanyvalues")."""
    return insert.on_conflict_do_update(
        index_elements=["message_id"],
        set_={"expires_at": insert.excluded.expires_at},
        where=status_seen_messages.c.expires_at <= sa.bindparam("now"),
    ).returning(status_seen_messages.c.message_id)


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
