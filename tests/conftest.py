"""Fixtures every test area shares: settings on temp files, a started relay, an HTTP client, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from pushrelay.app import Runtime, create_app
from pushrelay.config import Settings
from pushrelay.relay import Relay
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm

hypothesis_settings.register_profile(
    "pushrelay", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "pushrelay"))

PG_ADMIN_DSN = os.environ.get("PUSHRELAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

SettingsFactory = Callable[..., Settings]


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def settings_factory(tmp_path: Path) -> SettingsFactory:
    """Settings on a temp SQLite file and key file; keyword overrides are merged as nested dicts."""

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path}/pushrelay.db", "connect_timeout": 5},
            "secrets": {"key_file": str(tmp_path / "server.key")},
            "apps": {"default": {"sandbox": {"enabled": True}}},
        }
        return Settings.model_validate(_deep_merge(base, overrides))

    return make


@pytest.fixture
async def runtime(settings_factory: SettingsFactory) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings_factory())
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def relay(runtime: Runtime) -> Relay:
    return runtime.relay


@pytest.fixture
async def client(settings_factory: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the whole ASGI app, lifespan started; `client.app_runtime` is the Runtime."""
    runtime = Runtime(settings_factory())
    app = create_app(runtime.settings, runtime)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            http.app_runtime = runtime  # type: ignore[attr-defined]
            yield http
    finally:
        await runtime.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"pushrelay_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        # A thread of its own: this fixture may first be requested from inside a running loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(sql)).result()

    try:
        run(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is required for these tests: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


FAKE_APNS_TOPIC = "org.pushrelay.test"
FAKE_APNS_TEAM_ID = "TEAM123456"
FAKE_APNS_KEY_ID = "KEY1234567"


@pytest.fixture
async def fake_apns() -> AsyncIterator[FakeApns]:
    """The spec-faithful fake APNs on a free loopback port (`pushrelay.testing.fake_apns`)."""
    async with FakeApns() as fake:
        yield fake


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    """The spec-faithful fake FCM and its OAuth endpoint on a free loopback port."""
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
def fake_providers(tmp_path: Path, fake_apns: FakeApns, fake_fcm: FakeFcm) -> dict[str, Any]:
    """An `[apps.<id>]` block that delivers to the fakes over real sockets (APNs token auth, FCM OAuth).

    Use it as `settings_factory(apps={"default": fake_providers})`; assert on
    `fake_apns.deliveries` / `fake_fcm.deliveries`, exactly what a phone would receive.
    """
    key_file = tmp_path / f"AuthKey_{FAKE_APNS_KEY_ID}.p8"
    key_file.write_bytes(
        fake_apns.new_signing_key(
            FAKE_APNS_KEY_ID, FAKE_APNS_TEAM_ID, topics=[FAKE_APNS_TOPIC, FAKE_APNS_TOPIC + ".voip"]
        )
    )
    return {
        "apns": {
            "topic": FAKE_APNS_TOPIC,
            "environment": "sandbox",
            "team_id": FAKE_APNS_TEAM_ID,
            "key_id": FAKE_APNS_KEY_ID,
            "key_file": str(key_file),
            "endpoint": fake_apns.url,
            "ca_file": str(fake_apns.write_ca_file(tmp_path / "fake-apns-ca.pem")),
            "timeout": 2.0,
        },
        "fcm": {
            "service_account_file": str(fake_fcm.write_service_account(tmp_path / "service-account.json")),
            "endpoint": fake_fcm.url,
            "ca_file": str(fake_fcm.write_ca_file(tmp_path / "fake-fcm-ca.pem")),
            "timeout": 2.0,
        },
    }
