"""Fixtures: one real Prosody (and one ejabberd) per test module, a fresh relay and component per test.

Apps deliver to the sandbox provider by default, for tests about the component's own behaviour.
A module about what reaches the phone overrides `apps` with `fake_apps`: every app then
delivers to the in-process fake APNs and FCM over TLS and HTTP/2, and the test asserts on
what the fake received (`arrivals`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pushrelay.app import Runtime
from pushrelay.config import Settings
from pushrelay.domain import AppId
from pushrelay.protocols.xmpp import XmppComponent, build
from pushrelay.providers.sandbox import SandboxDelivery

from .clients import Phone
from .ejabberd import Ejabberd
from .prosody import Prosody
from .servers import COMPONENT_JID, COMPONENT_SECRET, XmppServer

APPS = ("conversations", "conversations-ios", "siskin", "monal", "chatsecure")
PUBLIC_URL = "https://push.example.org"


@pytest.fixture(scope="module")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prosody]:
    server = Prosody(tmp_path_factory.mktemp("prosody"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ejabberd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ejabberd]:
    server = Ejabberd(tmp_path_factory.mktemp("ejabberd"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(prosody: Prosody) -> XmppServer:
    """The server a test talks to; modules about ejabberd override this fixture."""
    return prosody


@pytest.fixture(scope="module")
def user_pool(request: pytest.FixtureRequest) -> Iterator[str]:
    from .servers import USERS

    return iter(USERS)


@pytest.fixture
def fresh_user(user_pool: Iterator[str]) -> Callable[[], str]:
    """A user no earlier test of this module enabled push for (servers keep registrations)."""
    return lambda: next(user_pool)


@pytest.fixture
def xmpp_overrides() -> dict[str, Any]:
    return {}


def sandbox_apps() -> dict[str, Any]:
    return {name: {"sandbox": {"enabled": True}} for name in APPS}


@pytest.fixture
def apps() -> dict[str, Any]:
    """The `[apps]` block: every app on the sandbox provider."""
    return sandbox_apps()


FCM_APPS = frozenset({"conversations", "chatsecure"})


@pytest.fixture
def fake_apps(fake_providers: dict[str, Any]) -> dict[str, Any]:
    """Every app delivering to the fake APNs, and the apps with Android users also to the fake FCM
    (`tests/conftest.py` `fake_providers`; loading a service account's RSA key costs ~35 ms an app)."""
    apns_only = {"apns": fake_providers["apns"]}
    return {name: fake_providers if name in FCM_APPS else apns_only for name in APPS}


@pytest.fixture
def dispatch() -> dict[str, Any]:
    """The `[dispatch]` block (deadline, backoff, breaker); tests about provider trouble shorten it."""
    return {}


def relay_settings(
    tmp_path: Path,
    server: XmppServer,
    *,
    apps: dict[str, Any] | None = None,
    dispatch: dict[str, Any] | None = None,
    xmpp: dict[str, Any] | None = None,
) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path}/relay.db"},
            "secrets": {"key_file": str(tmp_path / "server.key")},
            "server": {"public_url": PUBLIC_URL},
            "apps": apps or sandbox_apps(),
            "dispatch": dispatch or {},
            "xmpp": {
                "enabled": True,
                "jid": COMPONENT_JID,
                "server": f"127.0.0.1:{server.component_port}",
                "secret": COMPONENT_SECRET,
                "fcm_app": "conversations",
                "apns_app": "conversations-ios",
                "tigase_app": "siskin",
                "push_modules": {"monalProdiOS": "monal"},
                "rate_interval": 0,
                **(xmpp or {}),
            },
        }
    )


@pytest.fixture
async def runtime(
    tmp_path: Path,
    server: XmppServer,
    apps: dict[str, Any],
    dispatch: dict[str, Any],
    xmpp_overrides: dict[str, Any],
) -> AsyncIterator[Runtime]:
    runtime = Runtime(relay_settings(tmp_path, server, apps=apps, dispatch=dispatch, xmpp=xmpp_overrides))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def component(runtime: Runtime) -> AsyncIterator[XmppComponent]:
    component = build(runtime.relay)
    await component.start()
    try:
        await component.wait_connected(10)
        yield component
    finally:
        await component.stop()


@pytest.fixture
async def phones(server: XmppServer) -> AsyncIterator[Callable[..., Phone]]:
    """Make slixmpp clients; every one still connected is disconnected at the end."""
    made: list[Phone] = []

    def make(user: str, *, smacks: bool = False) -> Phone:
        phone = Phone(user, server.c2s_port, smacks=smacks)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        if phone.transport is not None:
            phone.abort()
    await asyncio.sleep(0)


async def deliveries(runtime: Runtime, app: str, count: int, within: float = 2.0) -> list[SandboxDelivery]:
    """Wait until the app's sandbox recorded `count` deliveries (the 2 s budget of the issue)."""
    sandbox = runtime.relay.sandbox(AppId(app))
    deadline = time.monotonic() + within
    while len(sandbox.deliveries) < count and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a list
        await asyncio.sleep(0.02)
    return sandbox.deliveries


T = TypeVar("T")


async def arrivals(received: Collection[T], count: int, within: float = 2.0) -> list[T]:
    """Wait until a fake's `deliveries` holds `count` entries (the issue's 2 s budget), then list them."""
    deadline = time.monotonic() + within
    while len(received) < count and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a deque
        await asyncio.sleep(0.01)
    return list(received)
