"""The SQL repository on SQLite and PostgreSQL: atomic versions, at-most-once ids, group commits."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from pushrelay.config import StoreSettings
from pushrelay.store.database import Database
from pushrelay.store.status import StatusStore, StoredRegistration

PG_ADMIN_DSN = os.environ.get("PUSHRELAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2025, 1, 1, tzinfo=UTC)


async def _postgres_url() -> AsyncIterator[str]:
    name = f"pushrelay_status_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StatusStore]:
    if request.param == "sqlite":
        urls: AsyncIterator[str] | None = None
        url = f"sqlite+aiosqlite:///{tmp_path}/status.db"
    else:
        urls = _postgres_url()
        url = await anext(urls)
    database = Database(StoreSettings(url=url, connect_timeout=5))
    await database.connect()
    await database.migrate()
    try:
        yield StatusStore(database)
    finally:
        await database.dispose()
        if urls is not None:
            await urls.aclose()


def row(
    version: int, key: bytes = b"k" * 32, installation: str = "i", sealed: bytes | None = b"r"
) -> StoredRegistration:
    return StoredRegistration(key, installation, version, b"sealed-key", b"t" * 32, sealed)


async def test_versions_only_go_up_even_when_saved_concurrently(store: StatusStore) -> None:
    """§1.4 step 6, atomically: of concurrent saves for one (key, installation), the highest version stays."""
    results = await asyncio.gather(*(store.save_registration(row(v)) for v in [3, 1, 5, 2, 5, 4]))
    assert results[2] is True  # version 5, first of the two fives
    assert await store.registration_version(b"k" * 32, "i") == 5
    assert not await store.save_registration(row(5))


async def test_each_message_id_is_new_exactly_once(store: StatusStore) -> None:
    """§1.6 at-most-once: concurrent submissions of the same ids (batched together) count once each."""
    ids = [os.urandom(32) for _ in range(40)]
    later = NOW + timedelta(days=1)
    results = await asyncio.gather(*(store.remember_message(i, NOW, later) for i in ids * 3))
    assert sum(results) == 40


async def test_expired_message_id_counts_as_new_again(store: StatusStore) -> None:
    """docs/status.md: an id past its retention is new again, even before the pruner deletes it."""
    message_id = os.urandom(32)
    assert await store.remember_message(message_id, NOW, NOW + timedelta(seconds=10))
    assert not await store.remember_message(
        message_id, NOW + timedelta(seconds=5), NOW + timedelta(seconds=15)
    )
    assert await store.remember_message(message_id, NOW + timedelta(seconds=11), NOW + timedelta(seconds=20))


async def test_forget_messages_deletes_only_expired_ids(store: StatusStore) -> None:
    """docs/status.md: the pruner deletes expired ids (status-go keeps them forever)."""
    await store.remember_message(b"a" * 32, NOW, NOW + timedelta(seconds=10))
    await store.remember_message(b"b" * 32, NOW, NOW + timedelta(seconds=100))
    assert await store.forget_messages(NOW + timedelta(seconds=50)) == 1
    assert not await store.remember_message(
        b"b" * 32, NOW + timedelta(seconds=50), NOW + timedelta(seconds=60)
    )


async def test_concurrent_lookups_each_get_their_own_row(store: StatusStore) -> None:
    """Batched lookups answer every caller with the row for its (key, installation)."""
    keys = [(os.urandom(32), str(n)) for n in range(30)]
    await asyncio.gather(
        *(store.save_registration(row(1, key, inst, sealed=inst.encode())) for key, inst in keys)
    )
    found = await asyncio.gather(*(store.registration(key, inst) for key, inst in keys))
    assert [r.sealed_registration if r else None for r in found] == [inst.encode() for _, inst in keys]
    assert await store.registration(os.urandom(32), "x") is None


async def test_drop_keeps_the_version_and_hides_the_registration(store: StatusStore) -> None:
    """§1.4: an unregistered row keeps its version but is no longer active."""
    await store.save_registration(row(2))
    assert await store.drop_registration(b"k" * 32, "i", 2)
    assert await store.registration_version(b"k" * 32, "i") == 2
    assert await store.registrations_for_keys([b"k" * 32]) == []
    assert await store.registered_keys() == []


async def test_identity_is_saved_once(store: StatusStore) -> None:
    """§1.9: the first identity saved wins; later saves do not replace it."""
    await store.save_identity(b"first")
    await store.save_identity(b"second")
    assert await store.load_identity() == b"first"
