"""The Store on both backends: migrations from empty, round trips, cascades, concurrent writers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pushrelay.config import StoreSettings
from pushrelay.domain import AppId, Platform, TokenRef
from pushrelay.store.database import Database
from pushrelay.store.sql import Store

APP = AppId("chat")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path}/store.db", connect_timeout=2))
    else:
        pg_url: str = request.getfixturevalue("pg_url")
        schema = f"s_{uuid.uuid4().hex[:10]}"
        setup = Database(StoreSettings(url=pg_url, connect_timeout=5))
        async with setup.engine.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await setup.dispose()
        db = Database(
            StoreSettings(url=pg_url, connect_timeout=5),
            connect_args={"server_settings": {"search_path": schema}},
        )
    await db.connect()
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


def ref(n: int) -> TokenRef:
    return TokenRef(n.to_bytes(32, "big"))


async def test_migrations_from_empty_reach_the_newest_revision(database: Database) -> None:
    assert await database.is_up_to_date()
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {"accounts", "devices", "capabilities", "alembic_version"} <= tables


async def test_migrating_twice_changes_nothing(database: Database) -> None:
    await database.migrate()
    assert await database.is_up_to_date()


async def test_device_round_trip_keeps_every_field(store: Store) -> None:
    account = await store.create_account(APP, NOW)
    device_id = await store.upsert_device(APP, Platform.APNS, ref(1), b"sealed", account, NOW)
    row = await store.get_device(device_id)
    assert row is not None
    assert (row.app, row.platform, row.token_hash, row.token_sealed, row.account_id, row.is_active) == (
        APP,
        Platform.APNS,
        ref(1),
        b"sealed",
        account,
        True,
    )


async def test_registering_the_same_token_twice_gives_the_same_device(store: Store) -> None:
    first = await store.upsert_device(APP, Platform.FCM, ref(2), b"a", None, NOW)
    second = await store.upsert_device(APP, Platform.FCM, ref(2), b"b", None, NOW)
    assert first == second


async def test_invalidation_keeps_the_provider_timestamp(store: Store) -> None:
    device_id = await store.upsert_device(APP, Platform.APNS, ref(3), b"s", None, NOW)
    since = NOW + timedelta(minutes=5)
    await store.invalidate_token(APP, Platform.APNS, ref(3), b"s", since, "unregistered")
    row = await store.get_device(device_id)
    assert row is not None and not row.is_active
    assert row.invalid_since == since and row.invalid_reason == "unregistered"


async def test_a_device_registered_after_the_invalidation_timestamp_stays_active(store: Store) -> None:
    """APNs: a token re-registered after the 410 timestamp is valid again (reference §4.1)."""
    device_id = await store.upsert_device(APP, Platform.APNS, ref(4), b"s", None, NOW)
    await store.invalidate_token(APP, Platform.APNS, ref(4), b"s", NOW - timedelta(hours=1), "unregistered")
    row = await store.get_device(device_id)
    assert row is not None and row.is_active


async def test_invalidating_an_unregistered_token_remembers_it(store: Store) -> None:
    await store.invalidate_token(APP, Platform.FCM, ref(5), b"s", NOW, "unregistered")
    dead = await store.dead_tokens(limit=10)
    assert [(d.token_hash, d.reason) for d in dead] == [(ref(5), "unregistered")]


async def test_deleting_an_account_cascades_to_devices_and_capabilities(store: Store) -> None:
    account = await store.create_account(APP, NOW)
    device_id = await store.upsert_device(APP, Platform.APNS, ref(6), b"s", account, NOW)
    await store.insert_capability(
        "test",
        b"h" * 32,
        app=APP,
        sealed_value=None,
        device_id=None,
        account_id=account,
        expires_at=None,
        now=NOW,
    )
    await store.delete_account(account)
    assert await store.get_device(device_id) is None
    assert await store.find_capability("test", b"h" * 32) is None


async def test_deleting_a_device_cascades_to_its_capabilities(store: Store) -> None:
    device_id = await store.upsert_device(APP, Platform.APNS, ref(7), b"s", None, NOW)
    await store.insert_capability(
        "test",
        b"d" * 32,
        app=APP,
        sealed_value=b"v",
        device_id=device_id,
        account_id=None,
        expires_at=None,
        now=NOW,
    )
    await store.delete_device(device_id)
    assert await store.find_capability("test", b"d" * 32) is None


async def test_capability_round_trip_and_revocation(store: Store) -> None:
    device_id = await store.upsert_device(APP, Platform.APNS, ref(8), b"s", None, NOW)
    expires = NOW + timedelta(days=30)
    await store.insert_capability(
        "k",
        b"c" * 32,
        app=APP,
        sealed_value=b"v",
        device_id=device_id,
        account_id=None,
        expires_at=expires,
        now=NOW,
    )
    row = await store.find_capability("k", b"c" * 32)
    assert row is not None and row.expires_at == expires and row.sealed_value == b"v" and not row.revoked
    assert await store.revoke_capability("k", b"c" * 32)
    row = await store.find_capability("k", b"c" * 32)
    assert row is not None and row.revoked


async def test_expired_and_revoked_capabilities_are_pruned(store: Store) -> None:
    account = await store.create_account(APP, NOW)
    for n, expires in enumerate([NOW - timedelta(seconds=1), NOW + timedelta(days=1), None]):
        await store.insert_capability(
            "k",
            bytes([n]) * 32,
            app=APP,
            sealed_value=None,
            device_id=None,
            account_id=account,
            expires_at=expires,
            now=NOW,
        )
    await store.revoke_capability("k", bytes([2]) * 32)
    assert await store.delete_expired_capabilities(NOW) == 2
    assert [c.expires_at for c in await store.capabilities_of("k", account_id=account)] == [
        NOW + timedelta(days=1)
    ]


async def test_a_capability_kind_and_hash_is_unique(store: Store) -> None:
    account = await store.create_account(APP, NOW)
    await store.insert_capability(
        "k",
        b"u" * 32,
        app=APP,
        sealed_value=None,
        device_id=None,
        account_id=account,
        expires_at=None,
        now=NOW,
    )
    with pytest.raises(sa.exc.IntegrityError):
        await store.insert_capability(
            "k",
            b"u" * 32,
            app=APP,
            sealed_value=None,
            device_id=None,
            account_id=account,
            expires_at=None,
            now=NOW,
        )


async def test_concurrent_writers_all_succeed(store: Store) -> None:
    """Many coroutines registering at once: SQLite queues them on its lock instead of failing."""
    account = await store.create_account(APP, NOW)
    ids = await asyncio.gather(
        *(store.upsert_device(APP, Platform.FCM, ref(100 + n), b"s", account, NOW) for n in range(60))
    )
    assert len(set(ids)) == 60
    assert len(await store.account_devices(account)) == 60


def test_the_migration_history_is_one_line() -> None:
    """One head: every protocol's tables come in order, so `migrate` never has to merge branches."""
    from alembic.script import ScriptDirectory

    from pushrelay.store.database import _alembic_config

    assert len(ScriptDirectory.from_config(_alembic_config()).get_heads()) == 1
