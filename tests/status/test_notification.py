"""Notification requests (type 20): reports, filters, de-duplication, and what is pushed.

reference/status-gorush-sygnal.md §1.6, §1.8; status-go `buildPushNotificationRequestResponse`,
`TestPushNotificationMentions` (one of two mentions sent).
"""

from __future__ import annotations

from typing import Any

import pytest

from pushrelay.domain import Failed, Message, Platform, Rejected, RejectReason
from pushrelay.errors import BadRequest
from pushrelay.protocols.status.server import StatusServer
from tests.status import wire
from tests.status.client import (
    FIREBASE_TOKEN,
    MENTION,
    MESSAGE,
    NOT_REGISTERED,
    REPORT_INTERNAL,
    REQUEST_TO_JOIN,
    RESPONSE,
    UNKNOWN_TYPE,
    WRONG_TOKEN,
    Notification,
    StatusClient,
    hashed_chat,
    hashed_key,
    parse_reply,
)
from tests.status.conftest import FakeClock
from tests.status.memory import RecordingPusher

MESSAGE_ID = b"\x01" * 32


async def registered(server: StatusServer, client: StatusClient, **options: Any) -> None:
    reply = await server.handle(client.register(server.identity.public_key, **options))
    assert reply is not None and wire.first_int(parse_reply(reply.message).fields, 1) == 1


async def reports(server: StatusServer, sender: StatusClient, *items: Notification) -> list[tuple[bool, int]]:
    reply = await server.handle(sender.notify(MESSAGE_ID, *items))
    assert reply is not None
    assert reply.recipient == sender.public_key
    response = parse_reply(reply.message)
    assert response.type == RESPONSE
    assert wire.first_bytes(response.fields, 1) == MESSAGE_ID
    decoded = [wire.decode(raw) for raw in wire.all_bytes(response.fields, 2)]
    return [(bool(wire.first_int(r, 1)), wire.first_int(r, 2)) for r in decoded]


async def test_registered_target_is_pushed_and_reported_success(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.6: a matching token is pushed and reported as success."""
    await registered(server, alice, device_token="apns-token")
    sender = StatusClient()
    assert await reports(server, sender, Notification(alice.public_key)) == [(True, 0)]
    (push,) = pusher.pushes
    assert (push.platform, push.token) == (Platform.APNS, "apns-token")


async def test_report_names_the_target_key_and_installation(
    server: StatusServer, alice: StatusClient
) -> None:
    """§1.6: each report carries the request's public_key and installation_id."""
    await registered(server, alice)
    reply = await server.handle(StatusClient().notify(MESSAGE_ID, Notification(alice.public_key)))
    assert reply is not None
    (raw,) = wire.all_bytes(parse_reply(reply.message).fields, 2)
    report = wire.decode(raw)
    assert wire.first_bytes(report, 3) == hashed_key(alice.public_key)
    assert wire.first_bytes(report, 4).decode() == Notification(alice.public_key).installation_id


async def test_unregistered_target_is_reported_not_registered(
    server: StatusServer, pusher: RecordingPusher
) -> None:
    """§1.6: no registration for (public_key, installation_id) → NOT_REGISTERED."""
    assert await reports(server, StatusClient(), Notification(StatusClient().public_key)) == [
        (False, NOT_REGISTERED)
    ]
    assert pusher.pushes == []


async def test_wrong_access_token_is_reported_and_not_pushed(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.6: a token mismatch → WRONG_TOKEN (the one error clients retry)."""
    await registered(server, alice)
    wrong = Notification(alice.public_key, access_token="d6ae4fde-bb65-11ea-b3de-0242ac130004")
    assert await reports(server, StatusClient(), wrong) == [(False, WRONG_TOKEN)]
    assert pusher.pushes == []


async def test_unknown_type_item_gets_no_report(server: StatusServer, alice: StatusClient) -> None:
    """§1.6: an item of UNKNOWN type is skipped entirely."""
    await registered(server, alice)
    items = (Notification(alice.public_key, type=UNKNOWN_TYPE), Notification(alice.public_key))
    assert await reports(server, StatusClient(), *items) == [(True, 0)]


async def test_only_mentions_in_allowed_chats_are_pushed(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.10 `TestPushNotificationMentions`: of two mentions, the one in a joined chat is sent."""
    await registered(server, alice, mention_chats=[hashed_chat("joined")])
    items = (
        Notification(alice.public_key, type=MENTION, chat_id="joined"),
        Notification(alice.public_key, type=MENTION, chat_id="elsewhere"),
    )
    assert await reports(server, StatusClient(), *items) == [(True, 0), (True, 0)]
    assert len(pusher.pushes) == 1


async def test_mentions_are_not_pushed_when_blocked(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.6: `block_mentions` stops every mention; reported as success for privacy."""
    await registered(server, alice, mention_chats=[hashed_chat("joined")], block_mentions=True)
    item = Notification(alice.public_key, type=MENTION, chat_id="joined")
    assert await reports(server, StatusClient(), item) == [(True, 0)]
    assert pusher.pushes == []


@pytest.mark.parametrize("chat_list", ["blocked_chats", "muted_chats"])
async def test_messages_in_blocked_or_muted_chats_are_reported_success_but_not_pushed(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher, chat_list: str
) -> None:
    """§1.6: filtered items look like successes, so a sender cannot tell it was blocked."""
    await registered(server, alice, **{chat_list: [hashed_chat("quiet")]})
    items = (Notification(alice.public_key, chat_id="quiet"), Notification(alice.public_key, chat_id="loud"))
    assert await reports(server, StatusClient(), *items) == [(True, 0), (True, 0)]
    assert len(pusher.pushes) == 1


@pytest.mark.parametrize("kind", [MESSAGE, MENTION, REQUEST_TO_JOIN])
async def test_blocked_authors_are_not_pushed(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher, kind: int
) -> None:
    """§1.6: an author in blocked_chat_list is filtered for every type."""
    author = b"\x07" * 64
    await registered(server, alice, blocked_chats=[author], mention_chats=[hashed_chat("chat")])
    item = Notification(alice.public_key, type=kind, author=author)
    assert await reports(server, StatusClient(), item) == [(True, 0)]
    assert pusher.pushes == []


async def test_request_to_join_community_is_pushed_with_its_text(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.8: REQUEST_TO_JOIN_COMMUNITY has its own alert text."""
    await registered(server, alice)
    await reports(server, StatusClient(), Notification(alice.public_key, type=REQUEST_TO_JOIN))
    assert pusher.pushes[0].message.body == "Someone requested to join a community you are an admin of"


async def test_apns_push_carries_exactly_the_gorush_payload(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.8: text by type, 0x-hex encryptedMessage/chatId/publicKey, the registration's APN topic."""
    await registered(server, alice, apn_topic="im.status.app")
    item = Notification(alice.public_key, chat_id="chat-1", message=b"\xca\xfe")
    await reports(server, StatusClient(), item)
    expected = Message(
        body="You have a new message",
        data={
            "encryptedMessage": "0xcafe",
            "chatId": "0x" + hashed_chat("chat-1").hex(),
            "publicKey": "0x" + hashed_key(alice.public_key).hex(),
        },
        topic="im.status.app",
    )
    assert pusher.pushes[0].message == expected


async def test_fcm_push_ignores_the_apn_topic(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.8: gorush would turn a topic on FCM into a topic send; the FCM push has none."""
    await registered(
        server,
        alice,
        token_type=FIREBASE_TOKEN,
        apn_topic="im.status.app",
        mention_chats=[hashed_chat("chat")],
    )
    await reports(server, StatusClient(), Notification(alice.public_key, type=MENTION))
    push = pusher.pushes[0]
    assert (push.platform, push.message.topic, push.message.body) == (
        Platform.FCM,
        None,
        "Someone mentioned you",
    )
    assert push.message.data["encryptedMessage"] == "0x"


async def test_repeated_request_is_handled_at_most_once(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """§1.6: the same envelope (same message id) is dropped silently the second time."""
    await registered(server, alice)
    envelope = StatusClient().notify(MESSAGE_ID, Notification(alice.public_key))
    assert await server.handle(envelope) is not None
    assert await server.handle(envelope) is None
    assert len(pusher.pushes) == 1


async def test_seen_ids_expire_after_the_retention_and_are_pruned(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher, clock: FakeClock
) -> None:
    """docs/status.md: ids are kept `dedupe_retention` seconds, then pruned (status-go never prunes)."""
    await registered(server, alice)
    envelope = StatusClient().notify(MESSAGE_ID, Notification(alice.public_key))
    await server.handle(envelope)
    clock.advance(7 * 86400 + 1)
    assert await server.prune() == 1
    assert await server.handle(envelope) is not None
    assert len(pusher.pushes) == 2


async def test_request_without_message_id_gets_no_response(server: StatusServer, alice: StatusClient) -> None:
    """§1.6: an empty message_id → no response at all."""
    await registered(server, alice)
    assert await server.handle(StatusClient().notify(b"", Notification(alice.public_key))) is None


async def test_dead_device_token_is_reported_not_registered_and_dropped(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """docs/status.md divergence: APNs/FCM saying the token is dead → NOT_REGISTERED, registration dropped."""
    await registered(server, alice)
    pusher.outcome = Rejected(RejectReason.UNREGISTERED)
    assert await reports(server, StatusClient(), Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    assert await reports(server, StatusClient(), Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    assert len(pusher.pushes) == 1


async def test_failed_delivery_is_reported_internal_error(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """docs/status.md divergence: a push that did not go through is not reported as a success."""
    await registered(server, alice)
    pusher.outcome = Failed(retryable=True, detail="timeout")
    assert await reports(server, StatusClient(), Notification(alice.public_key)) == [(False, REPORT_INTERNAL)]


async def test_too_many_items_is_a_bad_request(server: StatusServer) -> None:
    """docs/status.md: one request carries at most `max_notifications` items (status-go: no limit)."""
    items = [Notification(StatusClient().public_key)] * 101
    with pytest.raises(BadRequest):
        await server.handle(StatusClient().notify(MESSAGE_ID, *items))
