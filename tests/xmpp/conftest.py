"""Fixtures: one real Prosody (and one ejabberd) per test module, a fresh relay and component per test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

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


def relay_settings(tmp_path: Path, server: XmppServer, **xmpp: Any) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path}/relay.db"},
            "secrets": {"key_file": str(tmp_path / "server.key")},
            "server": {"public_url": PUBLIC_URL},
            "apps": {name: {"sandbox": {"enabled": True}} for name in APPS},
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
                **xmpp,
            },
        }
    )


@pytest.fixture
async def runtime(
    tmp_path: Path, server: XmppServer, xmpp_overrides: dict[str, Any]
) -> AsyncIterator[Runtime]:
    runtime = Runtime(relay_settings(tmp_path, server, **xmpp_overrides))
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


async def quiet(runtime: Runtime, app: str, count: int, within: float = 1.5) -> bool:
    """True if the sandbox still has at most `count` deliveries after `within` seconds."""
    await asyncio.sleep(within)
    return len(runtime.relay.sandbox(AppId(app)).deliveries) <= count
