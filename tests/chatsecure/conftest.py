"""A relay with the ChatSecure API mounted, and a client that speaks like the real apps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pushrelay.app import Runtime, create_app
from pushrelay.config import Settings
from pushrelay.domain import AppId, Platform, Provider
from pushrelay.providers.sandbox import SandboxDelivery
from pushrelay.relay import Relay

FAST_KDF = {"password_time_cost": 1, "password_memory_kib": 64, "password_parallelism": 1}
APP = AppId("default")
IOS_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip;q=1.0,compress;q=0.5"}


@dataclass
class Harness:
    runtime: Runtime
    http: httpx.AsyncClient

    @property
    def relay(self) -> Relay:
        return self.runtime.relay

    def deliveries(self) -> list[SandboxDelivery]:
        return self.relay.sandbox(APP).deliveries

    async def account(self, username: str | None = None, password: str = "p" * 100) -> Account:
        """The IOS APP's account: a random UUID username cut to 30 chars, a 100-char password."""
        username = username or str(uuid.uuid4())[:30]
        response = await self.http.post(
            "/api/v1/accounts/", json={"username": username, "password": password}, headers=IOS_HEADERS
        )
        assert response.status_code == 200, response.text
        return Account(self.http, response.json())


@dataclass
class Account:
    """One signed-in ChatSecure user."""

    http: httpx.AsyncClient
    body: dict[str, str]

    @property
    def auth(self) -> dict[str, str]:
        return {**IOS_HEADERS, "Authorization": f"Token {self.body['token']}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.auth, **kwargs)

    async def device(self, kind: str = "apns", registration_id: str | None = None) -> dict[str, Any]:
        registration_id = registration_id or uuid.uuid4().hex * 2
        response = await self.request(
            "POST", f"/api/v1/device/{kind}/", json={"registration_id": registration_id}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def token(self, device: dict[str, Any], kind: str = "apns") -> str:
        response = await self.request("POST", "/api/v1/tokens/", json={f"{kind}_device": device["id"]})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


SettingsFactory = Callable[..., Settings]


async def start(
    settings: Settings, providers: dict[Platform, Provider] | None = None
) -> tuple[Runtime, httpx.AsyncClient]:
    """The whole app with the ChatSecure router mounted; `providers` replace the sandbox per platform."""
    overrides = {(APP, platform): provider for platform, provider in (providers or {}).items()}
    runtime = Runtime(settings, providers=overrides)
    app = create_app(settings, runtime)
    await runtime.start()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return runtime, httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def cs_settings(settings_factory: SettingsFactory) -> SettingsFactory:
    def make(**chatsecure: Any) -> Settings:
        return settings_factory(chatsecure={**FAST_KDF, **chatsecure}, xmpp={"jid": "push.example.org"})

    return make


@pytest.fixture
def cs_fake_settings(settings_factory: SettingsFactory, fake_providers: dict[str, Any]) -> SettingsFactory:
    """Like `cs_settings`, but the app delivers to the fake APNs/FCM over TLS and HTTP/2 (no sandbox);
    retries back off in milliseconds so a transient failure costs little time."""

    def make(dispatch: dict[str, Any] | None = None, **chatsecure: Any) -> Settings:
        return settings_factory(
            chatsecure={**FAST_KDF, **chatsecure},
            apps={"default": {**fake_providers, "sandbox": {"enabled": False}}},
            dispatch={"backoff_base": 0.01, "backoff_max": 0.05, **(dispatch or {})},
        )

    return make


@pytest.fixture
async def cs_fakes(cs_fake_settings: SettingsFactory) -> AsyncIterator[Harness]:
    """The ChatSecure API delivering to `fake_apns` and `fake_fcm`."""
    runtime, http = await start(cs_fake_settings())
    try:
        yield Harness(runtime, http)
    finally:
        await http.aclose()
        await runtime.stop()


@pytest.fixture
async def cs(cs_settings: SettingsFactory) -> AsyncIterator[Harness]:
    runtime, http = await start(cs_settings())
    try:
        yield Harness(runtime, http)
    finally:
        await http.aclose()
        await runtime.stop()
