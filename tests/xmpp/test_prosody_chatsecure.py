"""The ChatSecure bridge (RubDub's role, reference/chatsecure.md §4) through a real Prosody.

Knocks for this relay are asserted on what the fake APNs and FCM received.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pushrelay.app import Runtime
from pushrelay.protocols.chatsecure import ChatSecure
from pushrelay.protocols.xmpp import XmppComponent, build
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm

from .clients import Phone, publish_stanza
from .conftest import PUBLIC_URL, arrivals
from .servers import COMPONENT_JID

REMOTE = "https://push.chatsecure.example/api/v1/messages/"
WHITELIST_TOKEN = "c" * 40
IOS_TOKEN = "d1" * 32
ANDROID_TOKEN = "chatsecure-android-token-0001"


@pytest.fixture
def apps(fake_apps: dict[str, Any]) -> dict[str, Any]:
    return fake_apps


@pytest.fixture
async def forwarded() -> list[httpx.Request]:
    return []


@pytest.fixture
def chatsecure_api(runtime: Runtime) -> ChatSecure:
    """The ChatSecure API on the same relay: the bridge knocks through its knock path."""
    return ChatSecure(runtime.relay)


@pytest.fixture
async def bridge_component(
    runtime: Runtime, forwarded: list[httpx.Request], chatsecure_api: ChatSecure
) -> AsyncIterator[XmppComponent]:
    """The component with an HTTP client whose transport records what the bridge POSTs elsewhere."""

    def handler(request: httpx.Request) -> httpx.Response:
        forwarded.append(request)
        return httpx.Response(201, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        settings = runtime.relay.settings.model_copy(
            update={"xmpp": runtime.relay.settings.xmpp.model_copy(update={"bridge_endpoints": [REMOTE]})}
        )
        runtime.relay.settings = settings
        component = build(runtime.relay, http=http, knock=chatsecure_api.knock)
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


async def register_with_chatsecure(api: ChatSecure) -> str:
    """What the ChatSecure app does first (chatsecure.md §1.3-1.5): account, devices, a whitelist token."""
    web = FastAPI()
    web.include_router(api.router())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url=PUBLIC_URL) as http:
        account = await http.post(
            "/api/v1/accounts/", json={"username": "alice-phone", "password": "p" * 30, "app": "chatsecure"}
        )
        auth = {"Authorization": f"Token {account.json()['token']}"}
        ios = await http.post("/api/v1/device/apns/", json={"registration_id": IOS_TOKEN}, headers=auth)
        android = await http.post(
            "/api/v1/device/gcm/", data={"registration_id": ANDROID_TOKEN}, headers=auth
        )
        assert (ios.status_code, android.status_code) == (201, 201)
        token = await http.post("/api/v1/tokens/", json={"apns_device": ios.json()["id"]}, headers=auth)
        return str(token.json()["token"])


async def test_knock_for_this_relay_reaches_every_device_of_the_account(
    bridge_component: XmppComponent,
    chatsecure_api: ChatSecure,
    fake_apns: FakeApns,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
) -> None:
    """chatsecure.md §4: a publish whose options carry token + this relay's messages URL knocks every device
    of the token's account through the ChatSecure API's own knock path: iOS reads the token at
    aps.alert.message.token, Android at data `message` -> JSON -> .message.token."""
    whitelist_token = await register_with_chatsecure(chatsecure_api)
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    answer = await phone.enable(
        COMPONENT_JID,
        "0f1e2d3c-uuid-node",
        {"token": whitelist_token, "endpoint": PUBLIC_URL + "/api/v1/messages/"},
    )
    assert answer.type == "result"
    await phone.offline()
    (await phones(bob).online()).say(alice, "knock knock")
    (ios,) = await arrivals(fake_apns.deliveries, 1)
    assert ios.token == IOS_TOKEN
    assert ios.payload["aps"]["alert"]["message"]["token"] == whitelist_token
    assert (ios.headers["apns-push-type"], ios.headers["apns-priority"]) == ("alert", "10")
    (fcm,) = await arrivals(fake_fcm.deliveries, 1)
    assert fcm.message["token"] == ANDROID_TOKEN
    assert json.loads(fcm.message["data"]["message"])["message"]["token"] == whitelist_token


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
