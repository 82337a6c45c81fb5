"""Full flows through the HTTP binding: register → query → notify → delivery (sandbox provider).

Every byte the client sends and reads is its own encoding (tests/status/client.py); the server
runs on a real socket with the real store, keyring, relay and dispatcher.
"""

from __future__ import annotations

from pushrelay.domain import Message, Platform
from tests.status import wire
from tests.status.client import (
    FIREBASE_TOKEN,
    MENTION,
    NOT_REGISTERED,
    QUERY_RESPONSE,
    RESPONSE,
    WRONG_TOKEN,
    Notification,
    StatusClient,
    hashed_chat,
    hashed_key,
    new_installation_id,
    parse_reply,
    verify_grant,
)
from tests.status.conftest import StatusApp


async def query_token(app: StatusApp, target: StatusClient) -> tuple[str, str]:
    """What a sender's client does before notifying: query, verify the grant, take the token."""
    querier = StatusClient()  # status-go queries from an ephemeral key
    response = await app.post(querier.query(target.public_key))
    reply = parse_reply(response.content)
    assert reply.type == QUERY_RESPONSE
    (raw,) = wire.all_bytes(reply.fields, 1)
    info = wire.decode(raw)
    token = wire.first_bytes(info, 1).decode()
    assert verify_grant(target.public_key, reply.signer, token, wire.first_bytes(info, 5))
    return token, wire.first_bytes(info, 2).decode()


async def notify(app: StatusApp, *items: Notification) -> list[tuple[bool, int]]:
    sender = StatusClient()  # status-go notifies from an ephemeral key
    response = await app.post(sender.notify(b"m" * 32, *items))
    assert response.status_code == 200
    reply = parse_reply(response.content)
    assert reply.type == RESPONSE
    reports = [wire.decode(raw) for raw in wire.all_bytes(reply.fields, 2)]
    return [(bool(wire.first_int(r, 1)), wire.first_int(r, 2)) for r in reports]


async def test_register_query_notify_delivers_the_status_payload(status_app: StatusApp) -> None:
    """§1.4-§1.8 end to end: the app receives exactly what gorush would have sent it."""
    server_key = await status_app.identity()
    alice = StatusClient()
    installation = new_installation_id()
    response = await status_app.post(
        alice.register(
            server_key, installation_id=installation, device_token="apns-token-1", apn_topic="im.status"
        )
    )
    assert wire.first_int(parse_reply(response.content).fields, 1) == 1

    token, installation_seen = await query_token(status_app, alice)
    assert installation_seen == installation

    item = Notification(alice.public_key, access_token=token, installation_id=installation, chat_id="c")
    assert await notify(status_app, item) == [(True, 0)]
    (delivery,) = status_app.deliveries
    assert (delivery.platform, delivery.token) == (Platform.APNS, "apns-token-1")
    assert delivery.message == Message(
        body="You have a new message",
        data={
            "encryptedMessage": "0x",
            "chatId": "0x" + hashed_chat("c").hex(),
            "publicKey": "0x" + hashed_key(alice.public_key).hex(),
        },
        topic="im.status",
    )


async def test_contacts_only_flow_gives_the_token_to_contacts_only(status_app: StatusApp) -> None:
    """§1.5 end to end: a contact decrypts the token from allowed_key_list and can notify."""
    server_key = await status_app.identity()
    alice, bob = StatusClient(), StatusClient()
    await status_app.post(alice.register(server_key, token_type=FIREBASE_TOKEN, contacts=[bob.public_key]))
    reply = parse_reply((await status_app.post(StatusClient().query(alice.public_key))).content)
    (raw,) = wire.all_bytes(reply.fields, 1)
    entries = wire.all_bytes(wire.decode(raw), 4)
    token = bob.token_from_allowed_keys(alice.public_key, entries)
    assert token is not None
    assert await notify(status_app, Notification(alice.public_key, access_token=token)) == [(True, 0)]
    assert [d.platform for d in status_app.deliveries] == [Platform.FCM]


async def test_several_targets_in_one_request_get_one_report_each(status_app: StatusApp) -> None:
    """§1.6: one report per item, in order; only the wanted, valid ones are delivered."""
    server_key = await status_app.identity()
    alice, carol = StatusClient(), StatusClient()
    await status_app.post(alice.register(server_key, device_token="alice-token"))
    await status_app.post(
        carol.register(server_key, device_token="carol-token", mention_chats=[hashed_chat("g")])
    )
    items = (
        Notification(alice.public_key),
        Notification(carol.public_key, type=MENTION, chat_id="g"),
        Notification(carol.public_key, type=MENTION, chat_id="other"),
        Notification(alice.public_key, access_token="d6ae4fde-bb65-11ea-b3de-0242ac130004"),
        Notification(StatusClient().public_key),
    )
    assert await notify(status_app, *items) == [
        (True, 0),
        (True, 0),
        (True, 0),
        (False, WRONG_TOKEN),
        (False, NOT_REGISTERED),
    ]
    assert sorted(d.token for d in status_app.deliveries) == ["alice-token", "carol-token"]


async def test_duplicate_request_over_http_is_204_and_not_delivered_twice(status_app: StatusApp) -> None:
    """§1.6 at-most-once, through the SQL store."""
    server_key = await status_app.identity()
    alice = StatusClient()
    await status_app.post(alice.register(server_key))
    envelope = StatusClient().notify(b"m" * 32, Notification(alice.public_key))
    assert (await status_app.post(envelope)).status_code == 200
    assert (await status_app.post(envelope)).status_code == 204
    assert len(status_app.deliveries) == 1


async def test_reregistration_replaces_the_device_token(status_app: StatusApp) -> None:
    """§1.4: a higher version replaces the registration (new device token, new access token)."""
    server_key = await status_app.identity()
    alice = StatusClient()
    await status_app.post(alice.register(server_key, version=1, device_token="old"))
    new_token = "e6ae4fde-bb65-11ea-b3de-0242ac130004"
    await status_app.post(alice.register(server_key, version=2, device_token="new", access_token=new_token))
    assert await notify(status_app, Notification(alice.public_key, access_token=new_token)) == [(True, 0)]
    assert [d.token for d in status_app.deliveries] == ["new"]
