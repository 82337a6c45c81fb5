"""Knocks end to end: the apps' own requests → pushrelay → the fake APNs/FCM over TLS and HTTP/2.

Each test asserts on what the fake push service received, read the way the app reads it
(reference §3.2: IOS-SDK `Deserializer.messageFromPushDictionary`; §3.3: AND-SDK
`gcm/PushParser`), not on what pushrelay meant to send.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.chatsecure.app_readers import android_sdk_reads, ios_sdk_reads
from tests.chatsecure.conftest import IOS_HEADERS, Harness, SettingsFactory, start
from tests.conftest import FAKE_APNS_TOPIC

from pushrelay.domain import JSON
from pushrelay.testing.fake_apns import Delivery, FakeApns
from pushrelay.testing.fake_fcm import FakeFcm

THIRTY_DAYS = 30 * 86_400
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def knock_payload(token: str, data: str | None) -> dict[str, JSON]:
    """The one APNs payload of a high-priority knock (docs/chatsecure.md, "Delivery")."""
    return {
        "aps": {
            "alert": {
                "message": {"data": data, "token": token},
                "body": "New Message!",
                "loc-key": "New Message!",
            },
            "sound": "default",
            "content-available": 1,
        }
    }


def assert_headers(delivery: Delivery, push_type: str, priority: str, sent_at: float) -> None:
    """`apns-topic` the app's bundle id, the push type and priority, `apns-expiration` 30 days on."""
    assert delivery.topic == FAKE_APNS_TOPIC == delivery.headers["apns-topic"]
    assert delivery.headers["apns-push-type"] == push_type
    assert delivery.headers["apns-priority"] == priority
    expiration = int(delivery.headers["apns-expiration"])
    assert int(sent_at) + THIRTY_DAYS <= expiration <= int(time.time()) + THIRTY_DAYS
    assert "apns-collapse-id" not in delivery.headers


async def test_the_ios_apps_knock_reaches_apns_exactly_as_the_app_reads_it(
    cs_fakes: Harness, fake_apns: FakeApns
) -> None:
    """APP PushController: account, POST then PUT device/apns/, a pool of tokens; a knock without
    priority (the APP's own) sends iOS nothing, a high one reaches `aps.alert.message` (§3.2)."""
    alice = await cs_fakes.account()
    apns_hex = uuid.uuid4().hex * 2  # Data.hexString() of the 32-byte device token
    device = await alice.device("apns", apns_hex)
    relaunch = await alice.request(
        "PUT",
        f"/api/v1/device/apns/{device['id']}/",
        json={"registration_id": apns_hex, "name": "iPhone", "device_id": device["id"]},
    )
    assert relaunch.status_code == 200
    pool = [await alice.token(device) for _ in range(5)]

    buddy_knock = await cs_fakes.http.post("/api/v1/messages/", json={"token": pool[0]}, headers=IOS_HEADERS)
    assert buddy_knock.status_code == 202
    assert fake_apns.deliveries_to(apns_hex) == []  # low priority: SRV sent iOS nothing (81a9b96)

    sent_at = time.time()
    knock = await cs_fakes.http.post(
        "/api/v1/messages/", json={"token": pool[1], "priority": "high", "data": "hi"}, headers=IOS_HEADERS
    )
    assert knock.status_code == 202
    (delivery,) = fake_apns.deliveries_to(apns_hex)
    assert delivery.payload == knock_payload(pool[1], "hi")
    assert ios_sdk_reads(delivery.payload) == (pool[1], None)  # a string `data` is not the SDK's dict
    assert_headers(delivery, "alert", "10", sent_at)


async def test_the_android_sdks_form_knock_reaches_fcm_as_push_parser_reads_it(
    cs_fakes: Harness, fake_fcm: FakeFcm
) -> None:
    """AND-SDK PushSecureApi (all @FormUrlEncoded) then gcm/PushParser on what FCM hands the phone."""
    created = await cs_fakes.http.post("/api/v1/accounts/", data={"username": "droid", "password": "pw"})
    auth = {"Authorization": f"Token {created.json()['token']}"}
    registration_id = "fcm-token-" + uuid.uuid4().hex
    device = await cs_fakes.http.post(
        "/api/v1/device/gcm/", data={"registration_id": registration_id, "name": "Pixel"}, headers=auth
    )
    minted = await cs_fakes.http.post(
        "/api/v1/tokens/", data={"name": "bob", "gcm_device": device.json()["id"]}, headers=auth
    )
    token = minted.json()["token"]

    knock = await cs_fakes.http.post("/api/v1/messages/", data={"token": token, "data": "ping"})
    assert knock.status_code == 202
    (delivery,) = fake_fcm.deliveries_to(registration_id)
    assert delivery.message == {
        "token": registration_id,
        "data": {"message": json.dumps({"message": {"data": "ping", "token": token}}, separators=(",", ":"))},
        "android": {"priority": "normal"},  # the SDK's knock carries no priority
    }
    assert android_sdk_reads(delivery.data) == (token, "ping")


async def test_a_knock_without_data_still_parses_on_android(cs_fakes: Harness, fake_fcm: FakeFcm) -> None:
    """PushParser calls getAsString() on `data`, which throws on JSON null: we send "" (divergence 5)."""
    alice = await cs_fakes.account()
    registration_id = "fcm-token-" + uuid.uuid4().hex
    token = await alice.token(await alice.device("gcm", registration_id), kind="gcm")
    assert (await cs_fakes.http.post("/api/v1/messages/", json={"token": token})).status_code == 202
    (delivery,) = fake_fcm.deliveries_to(registration_id)
    assert android_sdk_reads(delivery.data) == (token, "")
    assert "notification" not in delivery.message  # data-only, like GCM's


async def test_a_high_priority_knock_reaches_android_at_high_priority(
    cs_fakes: Harness, fake_fcm: FakeFcm
) -> None:
    """docs/chatsecure.md: FCM priority high for `priority: high`, so a dozing phone wakes."""
    alice = await cs_fakes.account()
    registration_id = "fcm-token-" + uuid.uuid4().hex
    token = await alice.token(await alice.device("gcm", registration_id), kind="gcm")
    await cs_fakes.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    (delivery,) = fake_fcm.deliveries_to(registration_id)
    assert delivery.message["android"] == {"priority": "high"}
    assert android_sdk_reads(delivery.data) == (token, "")


async def test_a_knock_reaches_every_device_of_the_owner(
    cs_fakes: Harness, fake_apns: FakeApns, fake_fcm: FakeFcm
) -> None:
    """SRV send_message(broadcast=True): all of the owner's APNS and GCM devices (§3.1)."""
    alice = await cs_fakes.account()
    phone, ipad, pixel = "c3" * 32, "d4" * 32, "fcm-token-" + uuid.uuid4().hex
    token = await alice.token(await alice.device("apns", phone))
    await alice.device("apns", ipad)
    await alice.device("gcm", pixel)
    await cs_fakes.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    assert sorted(d.token for d in fake_apns.deliveries) == [phone, ipad]
    assert all(d.payload == knock_payload(token, None) for d in fake_apns.deliveries)
    (android,) = fake_fcm.deliveries
    assert android.token == pixel and android_sdk_reads(android.data) == (token, "")


async def test_the_same_token_registered_twice_is_pushed_once(cs_fakes: Harness, fake_apns: FakeApns) -> None:
    """SRV allowed duplicate registration ids and pushed each row; a knock must not buzz twice."""
    alice = await cs_fakes.account()
    first = await alice.device("apns", "e5" * 32)
    await alice.device("apns", "e5" * 32)
    token = await alice.token(first)
    await cs_fakes.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    assert len(fake_apns.deliveries_to("e5" * 32)) == 1


def rubdub_knock(token: str, priority: str) -> dict[str, Any]:
    """RubDub src/api.js: multipart form fields `token` and `priority`, no `data` (§4.2)."""
    return {"files": {"token": (None, token), "priority": (None, priority)}}


async def test_rubdubs_high_priority_knock_is_an_apns_alert(cs_fakes: Harness, fake_apns: FakeApns) -> None:
    """RubDub forwards XEP-0357 publishes as `priority=high` (§4.2); iOS gets the alert copy (§3.2)."""
    alice = await cs_fakes.account()
    apns_hex = "ab" * 32
    token = await alice.token(await alice.device("apns", apns_hex))
    sent_at = time.time()
    knock = await cs_fakes.http.post("/api/v1/messages", **rubdub_knock(token, "high"))
    assert knock.status_code == 202
    assert knock.json() == {"token": token, "data": None, "priority": "high"}
    (delivery,) = fake_apns.deliveries_to(apns_hex)
    assert delivery.payload == knock_payload(token, None)
    assert ios_sdk_reads(delivery.payload) == (token, None)
    assert_headers(delivery, "alert", "10", sent_at)


async def test_rubdubs_low_priority_knock_sends_apns_nothing_by_default(
    cs_fakes: Harness, fake_apns: FakeApns
) -> None:
    """`[chatsecure] low_priority = "drop"` (default): SRV 81a9b96 "Only send high priority pushes"."""
    alice = await cs_fakes.account()
    token = await alice.token(await alice.device("apns", "ac" * 32))
    knock = await cs_fakes.http.post("/api/v1/messages/", **rubdub_knock(token, "low"))
    assert knock.status_code == 202
    assert list(fake_apns.deliveries) == [] and sum(fake_apns.answers.values()) == 0


async def test_rubdubs_low_priority_knock_is_a_background_push_when_configured(
    cs_fake_settings: SettingsFactory, fake_apns: FakeApns
) -> None:
    """`low_priority = "background"`: what SRV sent before 81a9b96, the same `aps.alert.message`
    path with no visible text, as a background push at priority 5 (Apple: 10 is an error)."""
    runtime, http = await start(cs_fake_settings(low_priority="background"))
    try:
        alice = await Harness(runtime, http).account()
        apns_hex = "ad" * 32
        token = await alice.token(await alice.device("apns", apns_hex))
        sent_at = time.time()
        knock = await http.post("/api/v1/messages/", **rubdub_knock(token, "low"))
        assert knock.status_code == 202
        (delivery,) = fake_apns.deliveries_to(apns_hex)
        assert delivery.payload == {
            "aps": {"alert": {"message": {"data": None, "token": token}}, "content-available": 1}
        }
        assert ios_sdk_reads(delivery.payload) == (token, None)
        assert_headers(delivery, "background", "5", sent_at)
    finally:
        await http.aclose()
        await runtime.stop()
