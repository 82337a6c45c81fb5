"""Fixtures for the Status protocol core: a server on in-memory seams, and clients."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from pushrelay.app import Runtime, create_app
from pushrelay.config import Settings, StatusSettings
from pushrelay.domain import AppId
from pushrelay.protocols.status.server import StatusServer, load_identity
from pushrelay.protocols.status.service import StatusService
from pushrelay.providers.sandbox import SandboxDelivery
from pushrelay.secrets import Keyring
from pushrelay.testing.fake_apns import FakeApns
from tests.conftest import FAKE_APNS_TEAM_ID, FAKE_APNS_TOPIC
from tests.status.client import StatusClient
from tests.status.memory import MemoryRepository, RecordingPusher


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def repository() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def pusher() -> RecordingPusher:
    return RecordingPusher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(
    repository: MemoryRepository, keyring: Keyring, pusher: RecordingPusher, clock: FakeClock
) -> StatusServer:
    identity = await load_identity(repository, keyring)
    return StatusServer(identity, repository, keyring, pusher, StatusSettings(), clock=clock)


@pytest.fixture
def alice() -> StatusClient:
    return StatusClient()


@pytest.fixture
def bob() -> StatusClient:
    return StatusClient()


# --- the real thing: Runtime (SQLite, keyring, relay, sandbox provider) + Status service + HTTP


@dataclass
class StatusApp:
    """A running relay with the Status service, served over HTTP on a loopback socket."""

    runtime: Runtime
    service: StatusService
    http: httpx.AsyncClient

    @property
    def deliveries(self) -> list[SandboxDelivery]:
        return self.runtime.relay.sandbox(AppId("default")).deliveries

    async def identity(self) -> bytes:
        response = await self.http.get("/status/v1/identity")
        assert response.status_code == 200
        return bytes.fromhex(response.json()["public_key"].removeprefix("0x"))

    async def post(self, envelope: bytes) -> httpx.Response:
        return await self.http.post(
            "/status/v1/messages", content=envelope, headers={"content-type": "application/octet-stream"}
        )


def status_settings(tmp_path: Path, *, app: dict[str, Any] | None = None, **status: Any) -> Settings:
    """A relay whose one app, `default`, is `app` (by default: the sandbox provider only)."""
    return Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path}/pushrelay.db", "connect_timeout": 5},
            "secrets": {"key_file": str(tmp_path / "server.key")},
            "apps": {"default": app or {"sandbox": {"enabled": True, "capacity": 100_000}}},
            "status": status,
        }
    )


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a free port); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def serve_status(settings: Settings) -> AsyncIterator[StatusApp]:
    """Build the app as app.py will (service in the lifespan, router mounted) and serve it on 127.0.0.1."""
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    (service,) = [s for s in runtime.services if isinstance(s, StatusService)]
    async with serve_asgi(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        yield StatusApp(runtime, service, http)


@pytest.fixture
async def status_app(tmp_path: Path) -> AsyncIterator[StatusApp]:
    async with serve_status(status_settings(tmp_path)) as running:
        yield running


# --- delivering to the fake APNs and FCM (tests/conftest.py `fake_providers`)

STATUS_APN_TOPIC = "im.status.ethereum"
"""The APNs topic Status registrations carry (the test client's default `apn_topic`)."""
STATUS_KEY_ID = "STATUSKEY1"


@pytest.fixture
def status_providers(tmp_path: Path, fake_providers: dict[str, Any], fake_apns: FakeApns) -> dict[str, Any]:
    """`fake_providers` without the sandbox, and with an APNs signing key that may push to the
    Status topic as well as the app's configured one, so a test can tell which of them a push used."""
    key_file = tmp_path / f"AuthKey_{STATUS_KEY_ID}.p8"
    key_file.write_bytes(
        fake_apns.new_signing_key(
            STATUS_KEY_ID, FAKE_APNS_TEAM_ID, topics=[FAKE_APNS_TOPIC, STATUS_APN_TOPIC]
        )
    )
    apns = {**fake_providers["apns"], "key_id": STATUS_KEY_ID, "key_file": str(key_file)}
    return {**fake_providers, "apns": apns, "sandbox": {"enabled": False}}


@pytest.fixture
async def status_fakes(tmp_path: Path, status_providers: dict[str, Any]) -> AsyncIterator[StatusApp]:
    """The Status server delivering to the fake APNs and FCM over TLS and HTTP/2."""
    async with serve_status(status_settings(tmp_path, app=status_providers)) as running:
        yield running
