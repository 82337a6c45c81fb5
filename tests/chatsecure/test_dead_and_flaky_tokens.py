"""Token hygiene and retries against the fake APNs/FCM (issue 4; docs/chatsecure.md, "Delivery").

A device whose token the push service declares dead reads `active: false`, later knocks do
not reach the service for it, and registering the token again revives it. A failure that
may pass is retried by the Dispatcher and the knock is still delivered.
"""

from __future__ import annotations

import time
import uuid

from tests.chatsecure.app_readers import android_sdk_reads, ios_sdk_reads
from tests.chatsecure.conftest import Account, Harness, SettingsFactory, start

from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm


async def knock(cs: Harness, token: str) -> None:
    response = await cs.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    assert response.status_code == 202, response.text


async def is_active(owner: Account, kind: str, device_id: str) -> bool:
    response = await owner.request("GET", f"/api/v1/device/{kind}/{device_id}/")
    assert response.status_code == 200
    return bool(response.json()["active"])


async def test_a_dead_device_token_marks_the_device_inactive(cs_fakes: Harness, fake_apns: FakeApns) -> None:
    """APNs 410 Unregistered with a timestamp: `active: false`, no more pushes to APNs for it,
    and the APP's PUT of its token (on every launch) revives the device (reference §3.4)."""
    alice = await cs_fakes.account()
    apns_hex = uuid.uuid4().hex * 2
    device = await alice.device("apns", apns_hex)
    token = await alice.token(device)
    fake_apns.unregister(apns_hex, since=time.time())

    await knock(cs_fakes, token)
    assert fake_apns.answers["410 Unregistered"] == 1
    assert await is_active(alice, "apns", device["id"]) is False
    listed = await alice.request("GET", "/api/v1/device/apns/")
    assert [d["active"] for d in listed.json()["results"]] == [False]

    await knock(cs_fakes, token)
    assert sum(fake_apns.answers.values()) == 1  # answered from hygiene, APNs never asked

    fake_apns.clear()  # the app was reinstalled: APNs knows the token again
    path = f"/api/v1/device/apns/{device['id']}/"
    revived = await alice.request("PUT", path, json={"registration_id": apns_hex, "device_id": device["id"]})
    assert revived.status_code == 200 and revived.json()["active"] is True
    await knock(cs_fakes, token)
    (delivery,) = fake_apns.deliveries_to(apns_hex)
    assert ios_sdk_reads(delivery.payload) == (token, None)


async def test_a_410_older_than_the_registration_does_not_kill_the_device(
    cs_fakes: Harness, fake_apns: FakeApns
) -> None:
    """Apple: on 410, stop pushing "until the device registers a token with a later timestamp";
    a token registered after that timestamp stays active (DESIGN token hygiene)."""
    alice = await cs_fakes.account()
    apns_hex = uuid.uuid4().hex * 2
    fake_apns.unregister(apns_hex, since=time.time() - 3600)
    device = await alice.device("apns", apns_hex)
    await knock(cs_fakes, await alice.token(device))
    assert fake_apns.answers["410 Unregistered"] == 1
    assert await is_active(alice, "apns", device["id"]) is True


async def test_an_unregistered_fcm_token_marks_the_gcm_device_inactive(
    cs_fakes: Harness, fake_fcm: FakeFcm
) -> None:
    """FCM 404 UNREGISTERED: the GCM device reads `active: false`, later knocks skip FCM, and the
    AND-SDK's PUT device/gcm/{id}/ with its (whole) device revives it."""
    alice = await cs_fakes.account()
    registration_id = "fcm-token-" + uuid.uuid4().hex
    device = await alice.device("gcm", registration_id)
    token = await alice.token(device, kind="gcm")
    fake_fcm.unregister(registration_id)

    await knock(cs_fakes, token)
    assert fake_fcm.answers["404 UNREGISTERED"] == 1
    assert await is_active(alice, "gcm", device["id"]) is False

    await knock(cs_fakes, token)
    assert fake_fcm.answers["404 UNREGISTERED"] == 1 and fake_fcm.answers["200"] == 0

    fake_fcm.clear()
    path = f"/api/v1/device/gcm/{device['id']}/"
    # AND-SDK updateDevice(Device.withUpdatedRegistrationId(device, id)): the whole device, active true
    revived = await alice.request("PUT", path, json={**device, "active": True, "type": "GCM"})
    assert revived.status_code == 200 and revived.json()["active"] is True
    await knock(cs_fakes, token)
    (delivery,) = fake_fcm.deliveries_to(registration_id)
    assert android_sdk_reads(delivery.data) == (token, "")


async def test_a_transient_apns_failure_is_retried_and_delivered(
    cs_fakes: Harness, fake_apns: FakeApns
) -> None:
    """APNs 503 ServiceUnavailable may pass: the Dispatcher retries, the phone gets one push."""
    alice = await cs_fakes.account()
    apns_hex = uuid.uuid4().hex * 2
    device = await alice.device("apns", apns_hex)
    fake_apns.answer(apns_hex, 503, "ServiceUnavailable", times=1)
    await knock(cs_fakes, await alice.token(device))
    assert fake_apns.answers["503 ServiceUnavailable"] == 1
    assert len(fake_apns.deliveries_to(apns_hex)) == 1
    assert await is_active(alice, "apns", device["id"]) is True


async def test_a_transient_fcm_failure_is_retried_and_delivered(cs_fakes: Harness, fake_fcm: FakeFcm) -> None:
    """FCM 503 UNAVAILABLE may pass: the Dispatcher retries, the phone gets one message."""
    alice = await cs_fakes.account()
    registration_id = "fcm-token-" + uuid.uuid4().hex
    device = await alice.device("gcm", registration_id)
    fake_fcm.answer(registration_id, "UNAVAILABLE", times=1)
    await knock(cs_fakes, await alice.token(device, kind="gcm"))
    assert fake_fcm.answers["503 UNAVAILABLE"] == 1
    assert len(fake_fcm.deliveries_to(registration_id)) == 1
    assert await is_active(alice, "gcm", device["id"]) is True


async def test_a_knock_is_503_while_apns_stays_unavailable(
    cs_fake_settings: SettingsFactory, fake_apns: FakeApns
) -> None:
    """DESIGN principle 2 (divergence 10): when APNs answers 503 until the push's deadline, the
    sender hears 503 with `Retry-After`, not SRV's unconditional 202."""
    runtime, http = await start(cs_fake_settings(dispatch={"deadline": 0.3}))
    try:
        alice = await Harness(runtime, http).account()
        apns_hex = uuid.uuid4().hex * 2
        token = await alice.token(await alice.device("apns", apns_hex))
        fake_apns.answer(apns_hex, 503, "ServiceUnavailable", retry_after=1)
        response = await http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
        assert response.status_code == 503 and "detail" in response.json()
        assert int(response.headers["retry-after"]) >= 1
        assert fake_apns.answers["503 ServiceUnavailable"] >= 1 and not fake_apns.deliveries
    finally:
        await http.aclose()
        await runtime.stop()
