"""The ChatSecure bridge (RubDub's role, reference/chatsecure.md §4) through a real Prosody."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from pushrelay.app import Runtime
from pushrelay.domain import AppId, Platform
from pushrelay.protocols.xmpp import XmppComponent, build

from .clients import Phone, publish_stanza
from .conftest import PUBLIC_URL, deliveries
from .servers import COMPONENT_JID

REMOTE = "https://push.chatsecure.example/api/v1/messages/"
WHITELIST_TOKEN = "c" * 40


@pytest.fixture
async def forwarded() -> list[httpx.Request]:
    return []


@pytest.fixture
async def bridge_component(runtime: Runtime, forwarded: list[httpx.Request]) -> AsyncIterator[XmppComponent]:
    """The component with an HTTP client whose transport records what the bridge POSTs elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        forwarded.append(request)
        return httpx.Response(201, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        settings = runtime.relay.settings.model_copy(
            update={"xmpp": runtime.relay.settings.xmpp.model_copy(update={"bridge_endpoints": [REMOTE]})}
        )
        runtime.relay.settings = settings
        component = build(runtime.relay, http=http)
        await component.start()
        try:
            await component.wait_connected(10)
            yield component
        finally:
            await component.stop()


async def chatsecure_offline(phones: Callable[..., Phone], user: str, endpoint: str) -> None:
    phone = await phones(user).online()
    answer = await phone.enable(
        COMPONENT_JID, "0f1e2d3c-uuid-node", {"token": WHITELIST_TOKEN, "endpoint": endpoint}
    )
    assert answer.type == "result"
    await phone.offline()


async def test_knock_for_this_relay_goes_through_the_relay(
    bridge_component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
) -> None:
    """chatsecure.md §4: a publish whose options carry token + this relay's messages URL knocks every device
    of the token's account, with the token at aps.alert.message.token."""
    relay = runtime.relay
    app = AppId("chatsecure")
    account = await relay.create_account(app)
    await relay.register_device(app, Platform.APNS, "chatsecure-device", account_id=account)
    await relay.issue_capability("chatsecure.token", WHITELIST_TOKEN, app=app, account_id=account)
    alice, bob = fresh_user(), fresh_user()
    await chatsecure_offline(phones, alice, PUBLIC_URL + "/api/v1/messages/")
    (await phones(bob).online()).say(alice, "knock knock")
    (delivery,) = await deliveries(runtime, "chatsecure", 1)
    assert delivery.token == "chatsecure-device"
    assert delivery.message.aps["alert"] == {"message": {"data": None, "token": WHITELIST_TOKEN}}
    assert json.loads(str(delivery.message.data["message"]))["message"]["token"] == WHITELIST_TOKEN


async def test_knock_for_an_allowed_endpoint_is_posted_as_multipart(
    bridge_component: XmppComponent,
    forwarded: list[httpx.Request],
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
) -> None:
    """chatsecure.md §4.2: RubDub POSTs multipart token + priority to the endpoint; only allowlisted ones."""
    alice, bob = fresh_user(), fresh_user()
    await chatsecure_offline(phones, alice, REMOTE)
    (await phones(bob).online()).say(alice, "knock")
    for _ in range(100):
        if forwarded:
            break
        await asyncio.sleep(0.02)
    (request,) = forwarded
    assert str(request.url) == REMOTE and request.headers["content-type"].startswith("multipart/form-data")
    body = request.content.decode()
    assert WHITELIST_TOKEN in body and 'name="priority"' in body and "high" in body


async def test_knock_for_another_endpoint_is_not_forwarded(
    bridge_component: XmppComponent,
    forwarded: list[httpx.Request],
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
) -> None:
    """Issue 5: never an open HTTP forwarder — an endpoint not on the allowlist is cancel/not-allowed."""
    phone = await phones(fresh_user()).online()
    pubsub = publish_stanza(
        "0f1e2d3c", {"token": WHITELIST_TOKEN, "endpoint": "https://evil.example/api/v1/messages/"}
    )
    answer = await phone.iq(COMPONENT_JID, pubsub)
    assert (answer.error_type, answer.condition) == ("cancel", "not-allowed")
    assert forwarded == []
