"""gorush's `POST /api/push` and `GET /api/stat/app` (reference/status-gorush-sygnal.md §2.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from pushrelay.app import Runtime, create_app
from pushrelay.domain import AppId, Platform, Priority, PushType
from tests.conftest import SettingsFactory
from tests.doubles import ScriptedProvider

APP = AppId("default")
IOS_TOKEN = "a" * 64
STATUS_REQUEST = {
    "notifications": [
        {
            "tokens": [IOS_TOKEN],
            "platform": 1,
            "message": "You have a new message",
            "topic": "im.status.ethereum.pr",
            "data": {"encryptedMessage": "0x", "chatId": "0xabcd", "publicKey": "0x1234"},
        },
        {
            "tokens": ["fcm-token"],
            "platform": 2,
            "message": "Someone mentioned you",
            "topic": "im.status.ethereum.pr",
            "data": {"encryptedMessage": "0x", "chatId": "0xabcd", "publicKey": "0x5678"},
        },
    ]
}


@pytest.fixture
async def gorush(settings_factory: SettingsFactory) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = Runtime(settings_factory())
    app = create_app(runtime.settings, runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http, runtime
    finally:
        await runtime.stop()


async def test_a_status_request_is_answered_like_gorush(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, runtime = gorush
    response = await http.post("/api/push", json=STATUS_REQUEST)
    assert response.status_code == 200
    assert response.json() == {"success": "ok", "counts": 2, "logs": []}
    ios, android = sorted(runtime.relay.sandbox(APP).deliveries, key=lambda d: d.platform != Platform.APNS)
    assert ios.message.body == "You have a new message"
    assert ios.message.data == {"encryptedMessage": "0x", "chatId": "0xabcd", "publicKey": "0x1234"}
    assert android.message.body == "Someone mentioned you"
    assert ios.message.topic == "im.status.ethereum.pr"


async def test_topic_is_ignored_for_fcm(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    """Status sends its APNs topic on Android notifications; gorush would make it a topic send."""
    http, runtime = gorush
    await http.post("/api/push", json=STATUS_REQUEST)
    (android,) = [d for d in runtime.relay.sandbox(APP).deliveries if d.platform is Platform.FCM]
    assert android.token == "fcm-token" and android.message.topic is None


async def test_every_per_token_failure_is_reported_in_logs(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, runtime = gorush
    relay = runtime.relay
    ref = relay.token_ref(Platform.APNS, "dead-token")
    await relay.store.invalidate_token(APP, Platform.APNS, ref, b"x", datetime.now(UTC), "unregistered")
    await relay.start()
    body = {
        "notifications": [
            {"tokens": [IOS_TOKEN, "dead-token"], "platform": 1, "message": "hi", "notif_id": "n1"}
        ]
    }
    response = await http.post("/api/push", json=body)
    assert response.json() == {
        "success": "ok",
        "counts": 2,
        "logs": [
            {
                "type": "failed-push",
                "platform": "ios",
                "token": "dead-token",
                "message": "hi",
                "error": "known dead token (unregistered)",
                "notif_id": "n1",
            }
        ],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Missing notifications field."),
        (b"[]", "Missing notifications field."),
        (b'{"notifications": {}}', "Missing notifications field."),
        (b'{"notifications": []}', "Notifications field is empty."),
        (b'{"notifications": [{"platform": 1}]}', "tokens must not be nil or empty"),
        (b'{"notifications": [{"tokens": [""], "platform": 1}]}', "the token must not be empty"),
        (
            b'{"notifications": [{"tokens": ["t"], "platform": 3}]}',
            "platform 3 is not supported (1 = iOS, 2 = Android)",
        ),
        (
            b'{"notifications": [{"tokens": ["t"], "platform": 9}]}',
            "platform 9 is not supported (1 = iOS, 2 = Android)",
        ),
        (
            b'{"notifications": [{"tokens": ["t"], "platform": 1, "priority": "urgent"}]}',
            "priority must be normal or high",
        ),
        (
            b'{"notifications": [{"tokens": ["t"]}]}',
            "Invalid notification: notifications.0.platform: Field required",
        ),
    ],
)
async def test_bad_input_gets_a_gorush_400_and_nothing_is_sent(
    gorush: tuple[httpx.AsyncClient, Runtime], body: bytes, message: str
) -> None:
    http, runtime = gorush
    response = await http.post("/api/push", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"code": 400, "message": message})
    assert runtime.relay.sandbox(APP).deliveries == []


async def test_one_bad_notification_refuses_the_whole_request(
    gorush: tuple[httpx.AsyncClient, Runtime],
) -> None:
    http, runtime = gorush
    body = {"notifications": [STATUS_REQUEST["notifications"][0], {"tokens": [], "platform": 2}]}
    assert (await http.post("/api/push", json=body)).status_code == 400
    assert runtime.relay.sandbox(APP).deliveries == []


async def test_too_many_notifications_are_refused(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, _ = gorush
    body = {"notifications": [{"tokens": ["t"], "platform": 2}] * 101}
    response = await http.post("/api/push", json=body)
    assert response.json() == {"code": 400, "message": "Number of notifications(101) over limit(100)"}


async def test_too_many_tokens_are_refused(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, _ = gorush
    body = {"notifications": [{"tokens": [f"t{i}" for i in range(501)], "platform": 2}]}
    response = await http.post("/api/push", json=body)
    assert response.json() == {"code": 400, "message": "tokens must not contain more than 500 elements"}


async def test_content_available_only_is_a_background_push(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, runtime = gorush
    await http.post(
        "/api/push", json={"notifications": [{"tokens": ["t"], "platform": 1, "content_available": True}]}
    )
    (delivery,) = runtime.relay.sandbox(APP).deliveries
    assert delivery.message.push_type is PushType.BACKGROUND and delivery.message.priority is Priority.NORMAL


async def test_ios_overrides_reach_the_message(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, runtime = gorush
    notification = {
        "tokens": ["t"],
        "platform": 1,
        "title": "T",
        "message": "B",
        "badge": 3,
        "sound": {"critical": 1, "name": "default", "volume": 1.0},
        "alert": {"subtitle": "S", "loc-key": "K"},
        "collapse_id": "c",
        "expiration": 1800000000,
        "priority": "normal",
    }
    await http.post("/api/push", json={"notifications": [notification]})
    message = runtime.relay.sandbox(APP).deliveries[0].message
    assert message.aps == {
        "alert": {"subtitle": "S", "loc-key": "K", "title": "T", "body": "B"},
        "sound": {"critical": 1, "name": "default", "volume": 1.0},
    }
    assert (message.badge, message.collapse_id, message.expiration, message.priority) == (
        3,
        "c",
        1800000000,
        Priority.NORMAL,
    )


async def test_stat_app_counts_like_gorush(gorush: tuple[httpx.AsyncClient, Runtime]) -> None:
    http, _ = gorush
    await http.post("/api/push", json=STATUS_REQUEST)
    stats = (await http.get("/api/stat/app")).json()
    assert stats["total_count"] == 2 and stats["submitted_tasks"] == 2 and stats["success_tasks"] == 2
    assert stats["ios"] == {"push_success": 1, "push_error": 0}
    assert stats["android"] == {"push_success": 1, "push_error": 0}
    assert stats["huawei"] == {"push_success": 0, "push_error": 0}


async def test_an_api_key_selects_its_app_and_a_wrong_one_is_refused(
    settings_factory: SettingsFactory,
) -> None:
    settings = settings_factory(
        apps={
            "one": {"sandbox": {"enabled": True}, "api_key": "k1"},
            "two": {"sandbox": {"enabled": True}, "api_key": "k2"},
        }
    )
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            body = {"notifications": [{"tokens": ["t"], "platform": 2, "message": "m"}]}
            assert (
                await http.post("/api/push", json=body, headers={"Authorization": "Bearer k2"})
            ).status_code == 200
            wrong = await http.post("/api/push", json=body, headers={"Authorization": "Bearer nope"})
            missing = await http.post("/api/push", json=body)
        assert (
            runtime.relay.sandbox(AppId("two")).deliveries
            and not runtime.relay.sandbox(AppId("one")).deliveries
        )
        assert (wrong.status_code, wrong.json()) == (401, {"code": 401, "message": "Invalid API key."})
        assert (missing.status_code, missing.json()) == (401, {"code": 401, "message": "Missing API key."})
    finally:
        await runtime.stop()


async def test_a_full_lane_answers_503_with_retry_after(settings_factory: SettingsFactory) -> None:
    stalled = ScriptedProvider("stalled")
    stalled.gate = asyncio.Event()
    settings = settings_factory(dispatch={"queue_size": 1, "concurrency": 1})
    runtime = Runtime(settings, providers={(APP, Platform.FCM): stalled})
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            body = {"notifications": [{"tokens": ["t"], "platform": 2, "message": "m"}]}
            busy = [asyncio.create_task(http.post("/api/push", json=body)) for _ in range(2)]
            await asyncio.sleep(0.05)
            shed = await http.post("/api/push", json=body)
            stalled.gate.set()
            assert [r.status_code for r in await asyncio.gather(*busy)] == [200, 200]
        assert shed.status_code == 503 and shed.headers["retry-after"].isdigit()
        assert shed.json()["code"] == 503
    finally:
        await runtime.stop()
