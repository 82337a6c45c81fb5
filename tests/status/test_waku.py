"""The Waku binding against a fake nwaku REST API (pushrelay.testing.fake_nwaku) on a loopback socket.

What this proves and what it does not is written in docs/status.md ("Waku binding").
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pushrelay.protocols.status import waku_payload
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from pushrelay.testing.fake_nwaku import FakeNwaku, running
from tests.status import received, wire
from tests.status import waku_client as waku
from tests.status.client import (
    APN_TOKEN,
    FIREBASE_TOKEN,
    QUERY_RESPONSE,
    REGISTRATION_RESPONSE,
    RESPONSE,
    Notification,
    StatusClient,
    new_installation_id,
    parse_reply,
    verify_grant,
)
from tests.status.conftest import STATUS_APN_TOPIC, StatusApp, serve_status, status_settings

PUBSUB = "/waku/2/rs/16/32"
APNS_DEVICE = "b2" * 32
FCM_DEVICE = "fcm-registration-token-waku-0001"


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for state another server (the binding's poller) changes; no event to await there."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
async def node() -> AsyncIterator[FakeNwaku]:
    async with running() as fake:
        yield fake


@pytest.fixture
async def waku_app(tmp_path: Path, node: FakeNwaku) -> AsyncIterator[StatusApp]:
    settings = status_settings(tmp_path, waku={"enabled": True, "rest_url": node.url, "poll_interval": 0.02})
    async with serve_status(settings) as app:
        await until(lambda: PUBSUB in node.subscriptions)
        yield app


def reply_to(node: FakeNwaku, client: StatusClient, index: int = -1) -> tuple[Any, bytes | None]:
    """Open a published reply as the client would: ECIES, v1 payload, envelope."""
    topic, message = node.published[index]
    assert topic == PUBSUB
    assert message["contentTopic"] == waku.partitioned_topic(client.public_key)
    assert message["version"] == 1
    data, signer = waku.open_v1(waku.ecies_decrypt(client, base64.b64decode(message["payload"])))
    return parse_reply(data), signer


async def register(
    app: StatusApp, node: FakeNwaku, client: StatusClient, *, on: str | None = None, **options: Any
) -> Any:
    server_key = app.service.server.identity.public_key
    before = len(node.published)
    topic = on or waku.personal_topic(server_key)
    assert node.inject(
        PUBSUB, waku.private(client, server_key, client.register(server_key, **options), on=topic)
    )
    await until(lambda: len(node.published) > before)
    reply, signer = reply_to(node, client)
    assert signer == server_key
    return reply


@pytest.fixture
async def waku_fakes(
    tmp_path: Path, node: FakeNwaku, status_providers: dict[str, Any]
) -> AsyncIterator[StatusApp]:
    """The Waku binding, delivering to the fake APNs and FCM (tests/status/conftest.py)."""
    waku_settings = {"enabled": True, "rest_url": node.url, "poll_interval": 0.02}
    async with serve_status(status_settings(tmp_path, app=status_providers, waku=waku_settings)) as app:
        await until(lambda: PUBSUB in node.subscriptions)
        yield app


async def waku_register_query_notify(
    app: StatusApp, node: FakeNwaku, token_type: int, device_token: str
) -> StatusClient:
    """§1.4-§1.7 over Waku: Alice registers on the personal topic, a sender queries her public chat
    and notifies her once of each type on the partitioned topic, from ephemeral keys."""
    alice, installation = StatusClient(), new_installation_id()
    options = {"token_type": token_type, "device_token": device_token, "installation_id": installation}
    reply = await register(
        app, node, alice, apn_topic=STATUS_APN_TOPIC, mention_chats=received.MENTION_CHATS, **options
    )
    assert wire.first_int(reply.fields, 1) == 1
    server_key = app.service.server.identity.public_key
    querier, chat = StatusClient(), waku.query_chat(alice.public_key)
    before = len(node.published)
    query = waku.symmetric_encrypt(chat, waku.v1(querier.query(alice.public_key), querier))
    node.inject(PUBSUB, waku.message(waku.topic(chat), query))
    await until(lambda: len(node.published) > before)
    answer, _ = reply_to(node, querier)
    (info,) = (wire.decode(raw) for raw in wire.all_bytes(answer.fields, 1))
    token = wire.first_bytes(info, 1).decode()
    assert verify_grant(alice.public_key, server_key, token, wire.first_bytes(info, 5))
    sender = StatusClient()
    items = received.one_of_each_type(alice.public_key, access_token=token, installation_id=installation)
    before = len(node.published)
    request = sender.notify(b"m" * 32, *items)
    node.inject(PUBSUB, waku.private(sender, server_key, request, on=waku.partitioned_topic(server_key)))
    await until(lambda: len(node.published) > before)
    response, _ = reply_to(node, sender)
    assert response.type == RESPONSE
    reports = [wire.decode(raw) for raw in wire.all_bytes(response.fields, 2)]
    assert [wire.first_int(r, 1) for r in reports] == [1, 1, 1]
    return alice


async def test_waku_flow_ends_at_apns_with_the_gorush_payload(
    waku_fakes: StatusApp, node: FakeNwaku, fake_apns: FakeApns
) -> None:
    """§1.8/§2.1 over Waku: the phone gets exactly what gorush sends it, on the registration's topic."""
    alice = await waku_register_query_notify(waku_fakes, node, APN_TOKEN, APNS_DEVICE)
    assert received.apns_payloads(fake_apns, APNS_DEVICE) == received.expected_apns(alice.public_key)
    assert {d.topic for d in fake_apns.deliveries_to(APNS_DEVICE)} == {STATUS_APN_TOPIC}


async def test_waku_flow_ends_at_fcm_with_the_gorush_notification(
    waku_fakes: StatusApp, node: FakeNwaku, fake_fcm: FakeFcm
) -> None:
    """§2.1 over Waku: `notification.body` and string data, no topic."""
    alice = await waku_register_query_notify(waku_fakes, node, FIREBASE_TOKEN, FCM_DEVICE)
    assert received.fcm_messages(fake_fcm, FCM_DEVICE) == received.expected_fcm(alice.public_key, FCM_DEVICE)


async def test_binding_subscribes_the_node_to_the_pubsub_topic(waku_app: StatusApp, node: FakeNwaku) -> None:
    """nwaku REST: a node only caches messages of topics subscribed via `POST /relay/v1/subscriptions`."""
    assert node.subscriptions == {PUBSUB}


async def test_registration_on_the_personal_topic_is_answered_on_the_partitioned_topic(
    waku_app: StatusApp, node: FakeNwaku
) -> None:
    """§1.4/§1.7: registrations arrive on the server's personal topic; the reply goes, ECIES-encrypted
    and signed by the server, to the sender's partitioned topic."""
    reply = await register(waku_app, node, StatusClient())
    assert reply.type == REGISTRATION_RESPONSE
    assert wire.first_int(reply.fields, 1) == 1


async def test_registration_on_the_partitioned_topic_is_answered_too(
    waku_app: StatusApp, node: FakeNwaku
) -> None:
    """§1.7: spec 71 says the partitioned topic, status-go uses the personal one: both are heard."""
    server_key = waku_app.service.server.identity.public_key
    reply = await register(waku_app, node, StatusClient(), on=waku.partitioned_topic(server_key))
    assert wire.first_int(reply.fields, 1) == 1


async def test_query_on_the_public_chat_topic_is_answered(waku_app: StatusApp, node: FakeNwaku) -> None:
    """§1.7: after a registration the server listens on the key's public chat (symmetric, PBKDF2 key)."""
    alice, querier = StatusClient(), StatusClient()
    await register(waku_app, node, alice)
    chat = waku.query_chat(alice.public_key)
    payload = waku.symmetric_encrypt(chat, waku.v1(querier.query(alice.public_key), querier))
    before = len(node.published)
    node.inject(PUBSUB, waku.message(waku.topic(chat), payload))
    await until(lambda: len(node.published) > before)
    reply, _ = reply_to(node, querier)
    assert reply.type == QUERY_RESPONSE
    assert len(wire.all_bytes(reply.fields, 1)) == 1


async def test_query_topics_are_joined_again_after_a_restart(tmp_path: Path, node: FakeNwaku) -> None:
    """§1.7: on start the server re-joins the query topic of every registered key, from the store."""
    settings = status_settings(tmp_path, waku={"enabled": True, "rest_url": node.url, "poll_interval": 0.02})
    alice = StatusClient()
    async with serve_status(settings) as app:
        await until(lambda: PUBSUB in node.subscriptions)
        await register(app, node, alice)
    node.restart()
    async with serve_status(settings) as app:
        await until(lambda: PUBSUB in node.subscriptions)
        querier = StatusClient()
        chat = waku.query_chat(alice.public_key)
        payload = waku.symmetric_encrypt(chat, waku.v1(querier.query(alice.public_key), querier))
        before = len(node.published)
        node.inject(PUBSUB, waku.message(waku.topic(chat), payload))
        await until(lambda: len(node.published) > before)
        reply, _ = reply_to(node, querier)
        assert len(wire.all_bytes(reply.fields, 1)) == 1


async def test_notification_request_over_waku_is_delivered_and_reported(
    waku_app: StatusApp, node: FakeNwaku
) -> None:
    """§1.6 over Waku: the request (from an ephemeral key, partitioned topic) → push + type-21 reply."""
    alice, sender = StatusClient(), StatusClient()
    await register(waku_app, node, alice, device_token="waku-device")
    server_key = waku_app.service.server.identity.public_key
    envelope = sender.notify(b"m" * 32, Notification(alice.public_key))
    before = len(node.published)
    node.inject(PUBSUB, waku.private(sender, server_key, envelope, on=waku.partitioned_topic(server_key)))
    await until(lambda: len(node.published) > before)
    reply, _ = reply_to(node, sender)
    assert reply.type == RESPONSE
    assert [d.token for d in waku_app.deliveries] == ["waku-device"]


async def test_unsigned_waku_payload_is_dropped(waku_app: StatusApp, node: FakeNwaku) -> None:
    """status-go `HandleTransportLayer` needs the transport signature; an unsigned payload gets nothing."""
    client = StatusClient()
    server_key = waku_app.service.server.identity.public_key
    unsigned = waku.ecies_encrypt(server_key, waku.v1(client.register(server_key), None))
    node.inject(PUBSUB, waku.message(waku.personal_topic(server_key), unsigned))
    polls = node.polls
    await until(lambda: node.polls > polls + 3)
    assert node.published == []


async def test_messages_for_others_are_ignored(waku_app: StatusApp, node: FakeNwaku) -> None:
    """Other content topics, and private messages to other keys on our partition, get no reply."""
    server_key = waku_app.service.server.identity.public_key
    stranger, client = StatusClient(), StatusClient()
    node.inject(PUBSUB, waku.private(client, stranger.public_key, b"x", on=waku.topic("elsewhere")))
    envelope = client.register(server_key)
    node.inject(
        PUBSUB, waku.private(client, stranger.public_key, envelope, on=waku.partitioned_topic(server_key))
    )
    polls = node.polls
    await until(lambda: node.polls > polls + 3)
    assert node.published == []


async def test_binding_subscribes_again_after_the_node_restarts(waku_app: StatusApp, node: FakeNwaku) -> None:
    """nwaku forgets REST subscriptions on restart (404 on poll): the binding subscribes again."""
    node.restart()
    await until(lambda: PUBSUB in node.subscriptions)
    reply = await register(waku_app, node, StatusClient())
    assert wire.first_int(reply.fields, 1) == 1


def test_server_and_client_waku_layers_agree() -> None:
    """The server's payload code and the test client's, written apart, open each other's output."""
    from pushrelay.protocols.status import crypto

    server = crypto.Identity.generate()
    client = StatusClient()
    for size in (0, 1, 255, 256, 70_000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        opened = waku_payload.unwrap(
            waku_payload.decrypt_asymmetric(
                server, waku.ecies_encrypt(server.public_key, waku.v1(data, client))
            )
        )
        assert (opened.data, opened.signer) == (data, client.public_key)
        sealed = waku_payload.encrypt_asymmetric(client.public_key, waku_payload.wrap(data, server))
        assert waku.open_v1(waku.ecies_decrypt(client, sealed)) == (data, server.public_key)
    assert waku_payload.content_topic("abc") == waku.topic("abc")
    assert waku_payload.partitioned_topic(client.public_key) == waku.partitioned_topic(client.public_key)
    assert waku_payload.personal_topic(client.public_key) == waku.personal_topic(client.public_key)
    assert len(waku_payload.wrap(b"x", server)) % 256 == 0


async def test_registration_over_http_opens_the_query_topic_on_waku(
    waku_app: StatusApp, node: FakeNwaku
) -> None:
    """§1.4: whichever binding a registration came by, the server then listens for its queries on Waku."""
    alice, querier = StatusClient(), StatusClient()
    response = await waku_app.post(alice.register(waku_app.service.server.identity.public_key))
    assert response.status_code == 200
    chat = waku.query_chat(alice.public_key)
    before = len(node.published)
    node.inject(
        PUBSUB,
        waku.message(
            waku.topic(chat), waku.symmetric_encrypt(chat, waku.v1(querier.query(alice.public_key), querier))
        ),
    )
    await until(lambda: len(node.published) > before)
    reply, _ = reply_to(node, querier)
    assert len(wire.all_bytes(reply.fields, 1)) == 1


async def test_garbage_from_the_node_does_not_stop_the_poller(waku_app: StatusApp, node: FakeNwaku) -> None:
    """R10: a message that cannot be read is dropped; the next one is still answered."""
    server_key = waku_app.service.server.identity.public_key
    node.inject(PUBSUB, {"contentTopic": waku.personal_topic(server_key), "version": 1})
    node.inject(PUBSUB, {"contentTopic": waku.personal_topic(server_key), "version": 1, "payload": "%%%"})
    reply = await register(waku_app, node, StatusClient())
    assert wire.first_int(reply.fields, 1) == 1
