"""The publish path's store reads on both backends: one query per publish, and nothing cached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from slixmpp import JID

from pushrelay.app import Runtime
from pushrelay.domain import AppId, Platform
from pushrelay.protocols.xmpp.bridge import ChatSecureBridge
from pushrelay.protocols.xmpp.registration import CONVERSATIONS
from pushrelay.protocols.xmpp.registry import Registry, Spec
from pushrelay.protocols.xmpp.stanza import Publish
from pushrelay.protocols.xmpp.throttle import Throttle
from pushrelay.protocols.xmpp.verdict import ACCEPTED
from pushrelay.protocols.xmpp.xep_0357 import PushService
from pushrelay.store.xmpp import XmppStore
from tests.conftest import SettingsFactory

APP = AppId("conversations")
TOKEN = "registry-token-" + "r" * 30


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def runtime(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[Runtime]:
    store: dict[str, Any] = {} if request.param == "sqlite" else {"url": request.getfixturevalue("pg_url")}
    settings = settings_factory(
        store=store,
        apps={"conversations": {"sandbox": {"enabled": True}}},
        xmpp={"fcm_app": "conversations"},
    )
    runtime = Runtime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
def registry(runtime: Runtime) -> Registry:
    relay = runtime.relay
    return Registry(relay, XmppStore(relay.store.database), relay.settings.xmpp)


def spec(token: str = TOKEN, account: str = "account-hash") -> Spec:
    return Spec(APP, CONVERSATIONS, Platform.FCM, token, "localhost", f"{account}\0", account=account)


@contextmanager
def selects(runtime: Runtime) -> Iterator[list[str]]:
    """The SELECT statements the store sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = runtime.relay.store.database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_a_publish_reads_the_store_once(runtime: Runtime, registry: Registry) -> None:
    """Issue 5 performance: from publish to push, one store read (the registration joined with its
    device); the Relay pushes to the device row it is handed instead of reading it again."""
    relay = runtime.relay
    node = await registry.register(spec())
    async with httpx.AsyncClient() as http:
        bridge = ChatSecureBridge(relay.settings.server.public_url, [], http, None)
        push = PushService(relay, registry, relay.settings.xmpp, bridge, Throttle(0))
        publish = Publish(node=node, options={"secret": (registry.secret_for(node),)})
        with selects(runtime) as statements:
            verdict = await push.publish(publish, JID("localhost"))
    assert verdict == ACCEPTED and len(statements) == 1
    (delivery,) = relay.sandbox(APP).deliveries
    assert delivery.token == TOKEN and delivery.message.data == {"account": "account-hash"}


async def test_a_token_declared_dead_is_seen_by_the_next_publish(
    runtime: Runtime, registry: Registry
) -> None:
    """Token hygiene needs no cache invalidation: the device row read with the registration is the truth."""
    relay = runtime.relay
    node = await registry.register(spec())
    ref = relay.token_ref(Platform.FCM, TOKEN)
    sealed = relay.keyring.seal("devices.token", TOKEN)
    await relay.store.invalidate_token(APP, Platform.FCM, ref, sealed, datetime.now(UTC), "unregistered")
    found = await registry.find(node)
    assert found is not None and found.device is not None
    assert not found.device.is_active and found.device.invalid_reason == "unregistered"


async def test_a_refreshed_token_is_the_one_found_and_an_unregistered_node_is_gone(
    runtime: Runtime, registry: Registry
) -> None:
    """p2: re-registering keeps the node and moves it to the new token's device; unregistering forgets it."""
    node = await registry.register(spec())
    assert await registry.register(spec(token="refreshed-" + TOKEN)) == node
    found = await registry.find(node)
    assert found is not None and found.device is not None
    assert found.device.token_hash == runtime.relay.token_ref(Platform.FCM, "refreshed-" + TOKEN)
    assert await registry.unregister(APP, CONVERSATIONS, "account-hash\0")
    assert await registry.find(node) is None
