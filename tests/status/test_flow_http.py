"""Full flows through the HTTP binding: register → query → notify → the fake APNs/FCM receives the push.

Every byte the client sends and reads is its own encoding (tests/status/client.py); the server
runs on a real socket with the real store, keyring, relay, dispatcher and APNs/FCM providers,
which deliver over TLS and HTTP/2 to `pushrelay.testing`'s fakes. What the fakes receive is
compared, whole, with what gorush sends apps today (tests/status/received.py).
"""

from __future__ import annotations

import pytest

from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.conftest import FAKE_APNS_TOPIC
from tests.status import received, wire
from tests.status.client import (
    APN_TOKEN,
    FIREBASE_TOKEN,
    MENTION,
    NOT_REGISTERED,
    WRONG_TOKEN,
    Notification,
    StatusClient,
    hashed_chat,
    parse_reply,
)
from tests.status.conftest import STATUS_APN_TOPIC, StatusApp
from tests.status.flows import notify, register, register_query_notify

APNS_DEVICE = "a1" * 32
FCM_DEVICE = "fcm-registration-token-status-0001"


async def test_apns_receives_the_gorush_payload_on_the_registrations_topic(
    status_fakes: StatusApp, fake_apns: FakeApns
) -> None:
    """§1.8/§2.1: the phone gets exactly what gorush sends it, on the registration's `apn_topic`."""
    alice = await register_query_notify(status_fakes, APN_TOKEN, APNS_DEVICE)
    assert received.apns_payloads(fake_apns, APNS_DEVICE) == received.expected_apns(alice.public_key)
    for delivery in fake_apns.deliveries_to(APNS_DEVICE):
        assert delivery.topic == STATUS_APN_TOPIC
        assert delivery.headers["apns-push-type"] == "alert"


async def test_fcm_receives_the_gorush_notification_and_string_data(
    status_fakes: StatusApp, fake_fcm: FakeFcm
) -> None:
    """§2.1: `notification.body` and the data as strings; the APN topic is not sent to FCM (§1.8)."""
    alice = await register_query_notify(status_fakes, FIREBASE_TOKEN, FCM_DEVICE)
    assert received.fcm_messages(fake_fcm, FCM_DEVICE) == received.expected_fcm(alice.public_key, FCM_DEVICE)


async def test_registration_without_apn_topic_is_pushed_on_the_apps_topic(
    status_fakes: StatusApp, fake_apns: FakeApns
) -> None:
    """docs/status.md divergence 8: status-go would send gorush an empty topic, which APNs refuses
    (MissingTopic) under token auth; here the app's configured topic is used."""
    alice = StatusClient()
    await register(status_fakes, alice, device_token=APNS_DEVICE, apn_topic="")
    assert await notify(status_fakes, Notification(alice.public_key)) == [(True, 0)]
    (delivery,) = fake_apns.deliveries_to(APNS_DEVICE)
    assert delivery.topic == FAKE_APNS_TOPIC


@pytest.mark.parametrize("token_type", [APN_TOKEN, FIREBASE_TOKEN], ids=["apns", "fcm"])
async def test_dead_device_token_is_not_registered_now_and_on_the_next_request(
    status_fakes: StatusApp, fake_apns: FakeApns, fake_fcm: FakeFcm, token_type: int
) -> None:
    """docs/status.md divergence 2: APNs 410 Unregistered / FCM UNREGISTERED → NOT_REGISTERED (which
    status-go's client does not retry), and the registration is dropped, so the next request is
    answered NOT_REGISTERED from the store without calling the provider."""
    fake: FakeApns | FakeFcm = fake_apns if token_type == APN_TOKEN else fake_fcm
    device = APNS_DEVICE if token_type == APN_TOKEN else FCM_DEVICE
    fake.unregister(device)
    alice = StatusClient()
    await register(status_fakes, alice, token_type=token_type, device_token=device)
    assert await notify(status_fakes, Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    answered = received.push_answers(fake)
    assert answered == 1
    assert await notify(status_fakes, Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    assert received.push_answers(fake) == answered
    assert list(fake.deliveries) == []


async def test_registering_a_dead_token_again_makes_it_pushable(
    status_fakes: StatusApp, fake_apns: FakeApns
) -> None:
    """APNs' 410 rule (a token registered after its invalidation is valid again): a client that
    registers the same device token again, with a higher version, is pushed again."""
    alice = StatusClient()
    fake_apns.unregister(APNS_DEVICE)
    await register(status_fakes, alice, device_token=APNS_DEVICE, version=1)
    assert await notify(status_fakes, Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    fake_apns.clear()  # the app was installed again and APNs handed it the same token
    await register(status_fakes, alice, device_token=APNS_DEVICE, version=2)
    assert await notify(status_fakes, Notification(alice.public_key)) == [(True, 0)]
    assert len(fake_apns.deliveries_to(APNS_DEVICE)) == 1


async def test_contacts_only_flow_gives_the_token_to_contacts_only(
    status_fakes: StatusApp, fake_fcm: FakeFcm
) -> None:
    """§1.5 end to end: a contact decrypts the token from allowed_key_list and can notify."""
    alice, bob = StatusClient(), StatusClient()
    await register(
        status_fakes, alice, token_type=FIREBASE_TOKEN, device_token=FCM_DEVICE, contacts=[bob.public_key]
    )
    reply = parse_reply((await status_fakes.post(StatusClient().query(alice.public_key))).content)
    (raw,) = wire.all_bytes(reply.fields, 1)
    info = wire.decode(raw)
    assert wire.all_bytes(info, 1) == []  # no access token for strangers
    token = bob.token_from_allowed_keys(alice.public_key, wire.all_bytes(info, 4))
    assert token is not None
    assert await notify(status_fakes, Notification(alice.public_key, access_token=token)) == [(True, 0)]
    assert len(fake_fcm.deliveries_to(FCM_DEVICE)) == 1


async def test_several_targets_in_one_request_get_one_report_each(
    status_fakes: StatusApp, fake_apns: FakeApns
) -> None:
    """§1.6: one report per item, in order; only the wanted, valid ones are delivered."""
    alice, carol = StatusClient(), StatusClient()
    alice_device, carol_device = "a1" * 32, "c3" * 32
    await register(status_fakes, alice, device_token=alice_device)
    await register(status_fakes, carol, device_token=carol_device, mention_chats=[hashed_chat("g")])
    items = (
        Notification(alice.public_key),
        Notification(carol.public_key, type=MENTION, chat_id="g"),
        Notification(carol.public_key, type=MENTION, chat_id="other"),
        Notification(alice.public_key, access_token="d6ae4fde-bb65-11ea-b3de-0242ac130004"),
        Notification(StatusClient().public_key),
    )
    assert await notify(status_fakes, *items) == [
        (True, 0),
        (True, 0),
        (True, 0),
        (False, WRONG_TOKEN),
        (False, NOT_REGISTERED),
    ]
    assert sorted(d.token for d in fake_apns.deliveries) == [alice_device, carol_device]


async def test_duplicate_request_over_http_is_204_and_not_delivered_twice(
    status_fakes: StatusApp, fake_apns: FakeApns
) -> None:
    """§1.6 at-most-once, through the SQL store."""
    alice = StatusClient()
    await register(status_fakes, alice, device_token=APNS_DEVICE)
    envelope = StatusClient().notify(b"m" * 32, Notification(alice.public_key))
    assert (await status_fakes.post(envelope)).status_code == 200
    assert (await status_fakes.post(envelope)).status_code == 204
    assert len(fake_apns.deliveries) == 1


async def test_reregistration_replaces_the_device_token(status_fakes: StatusApp, fake_apns: FakeApns) -> None:
    """§1.4: a higher version replaces the registration (new device token, new access token)."""
    alice = StatusClient()
    await register(status_fakes, alice, version=1, device_token="01" * 32)
    new_token = "e6ae4fde-bb65-11ea-b3de-0242ac130004"
    await register(status_fakes, alice, version=2, device_token="02" * 32, access_token=new_token)
    assert await notify(status_fakes, Notification(alice.public_key, access_token=new_token)) == [(True, 0)]
    assert [d.token for d in fake_apns.deliveries] == ["02" * 32]
