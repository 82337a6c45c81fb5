"""End to end: gorush API → relay → fake APNs/FCM over TLS and HTTP/2, payloads as phones receive them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pushrelay.app import Runtime, create_app
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.conftest import FAKE_APNS_TOPIC, SettingsFactory

IOS_TOKEN = "ab" * 32
FCM_TOKEN = "fcm-registration-token-0001"
DATA = {"encryptedMessage": "0x", "chatId": "0xabcd", "publicKey": "0x1234"}


@pytest.fixture
async def http(
    settings_factory: SettingsFactory, fake_providers: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_factory(apps={"default": {**fake_providers, "sandbox": {"enabled": False}}})
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client
    finally:
        await runtime.stop()


def status_request(platform: int, token: str) -> dict[str, Any]:
    """What status-go posts to gorush (reference §1.8)."""
    return {
        "notifications": [
            {
                "tokens": [token],
                "platform": platform,
                "message": "You have a new message",
                "topic": FAKE_APNS_TOPIC,
                "data": DATA,
            }
        ]
    }


async def test_a_status_push_reaches_apns_as_gorush_would_send_it(
    http: httpx.AsyncClient, fake_apns: FakeApns
) -> None:
    """reference §2.1 buildIOSPayload: alert string, data keys beside aps."""
    response = await http.post("/api/push", json=status_request(1, IOS_TOKEN))
    assert response.json() == {"success": "ok", "counts": 1, "logs": []}
    (delivery,) = fake_apns.deliveries_to(IOS_TOKEN)
    assert delivery.payload == {"aps": {"alert": "You have a new message"}, **DATA}
    assert delivery.topic == FAKE_APNS_TOPIC
    assert delivery.headers["apns-push-type"] == "alert"


async def test_a_status_push_reaches_fcm_with_string_data_and_no_topic(
    http: httpx.AsyncClient, fake_fcm: FakeFcm
) -> None:
    response = await http.post("/api/push", json=status_request(2, FCM_TOKEN))
    assert response.json() == {"success": "ok", "counts": 1, "logs": []}
    (delivery,) = [d for d in fake_fcm.deliveries if d.message.get("token") == FCM_TOKEN]
    assert delivery.message["data"] == DATA
    assert delivery.message["notification"] == {"body": "You have a new message"}
    assert "topic" not in delivery.message


async def test_an_unregistered_apns_token_is_reported_and_then_short_circuited(
    http: httpx.AsyncClient, fake_apns: FakeApns
) -> None:
    """Token hygiene: 410 Unregistered comes back in logs, and the next push never reaches APNs."""
    fake_apns.unregister(IOS_TOKEN)
    first = (await http.post("/api/push", json=status_request(1, IOS_TOKEN))).json()
    assert [entry["error"] for entry in first["logs"]] == ["Unregistered"]
    answered = sum(fake_apns.answers.values())
    second = (await http.post("/api/push", json=status_request(1, IOS_TOKEN))).json()
    assert second["logs"][0]["error"].startswith("known dead token")
    assert sum(fake_apns.answers.values()) == answered


async def test_an_unregistered_fcm_token_is_reported(http: httpx.AsyncClient, fake_fcm: FakeFcm) -> None:
    fake_fcm.unregister(FCM_TOKEN)
    answer = (await http.post("/api/push", json=status_request(2, FCM_TOKEN))).json()
    assert [(entry["platform"], entry["error"]) for entry in answer["logs"]] == [("android", "UNREGISTERED")]


async def test_a_transient_apns_failure_is_retried_and_delivered(
    http: httpx.AsyncClient, fake_apns: FakeApns
) -> None:
    fake_apns.answer(IOS_TOKEN, 503, "ServiceUnavailable", times=1)
    answer = (await http.post("/api/push", json=status_request(1, IOS_TOKEN))).json()
    assert answer["logs"] == []
    assert len(fake_apns.deliveries_to(IOS_TOKEN)) == 1
