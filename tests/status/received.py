"""What a Status app receives through gorush today, written out for the flow tests to compare with.

reference/status-gorush-sygnal.md §1.8 (status-go `gorush.go`) and §2.1 (gorush `buildIOSPayload`,
`notification_fcm.go`): APNs gets `{"aps": {"alert": text}, "encryptedMessage", "chatId",
"publicKey"}` (data keys beside `aps`, `0x`-hex), with the registration's `apn_topic` as
`apns-topic`; FCM gets `notification.body = text` and the same keys as string data, no topic.
"""

from __future__ import annotations

from typing import Any, Final

from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.status.client import (
    MENTION,
    MESSAGE,
    REQUEST_TO_JOIN,
    Notification,
    hashed_chat,
    hashed_key,
)

TEXTS: Final = {
    MESSAGE: "You have a new message",
    MENTION: "Someone mentioned you",
    REQUEST_TO_JOIN: "Someone requested to join a community you are an admin of",
}
"""status-go's alert text by `PushNotificationType`."""

CHATS: Final = {MESSAGE: "one-to-one", MENTION: "community-channel", REQUEST_TO_JOIN: "community"}
MENTION_CHATS: Final = [hashed_chat(CHATS[MENTION])]
"""Register with these `allowed_mentions_chat_list` entries so the mention is wanted."""


def one_of_each_type(target: bytes, **item: Any) -> list[Notification]:
    """A MESSAGE, a MENTION and a REQUEST_TO_JOIN_COMMUNITY item to `target`, in that order."""
    return [Notification(target, type=kind, chat_id=chat, **item) for kind, chat in CHATS.items()]


def data(kind: int, target: bytes, encrypted_message: bytes = b"") -> dict[str, str]:
    """status-go's `data` object: camelCase keys, lowercase `0x`-hex values (`0x` for no bytes)."""
    return {
        "encryptedMessage": "0x" + encrypted_message.hex(),
        "chatId": "0x" + hashed_chat(CHATS[kind]).hex(),
        "publicKey": "0x" + hashed_key(target).hex(),
    }


def apns_payload(kind: int, target: bytes) -> dict[str, Any]:
    """gorush `buildIOSPayload` for a Status notification: the alert string, data keys beside `aps`."""
    return {"aps": {"alert": TEXTS[kind]}, **data(kind, target)}


def fcm_message(kind: int, target: bytes, token: str) -> dict[str, Any]:
    """The FCM v1 `message`: gorush's notification body and string data, no topic.

    `android.priority` is sent as "high", which gorush leaves unset: FCM's default for
    notification messages is high, so the phone gets the same (docs/status.md).
    """
    return {
        "token": token,
        "notification": {"body": TEXTS[kind]},
        "data": data(kind, target),
        "android": {"priority": "high"},
    }


def apns_payloads(fake: FakeApns, token: str) -> list[Any]:
    """What the fake APNs accepted for `token`, ordered by alert text (pushes run concurrently)."""
    return sorted((d.payload for d in fake.deliveries_to(token)), key=_alert)


def fcm_messages(fake: FakeFcm, token: str) -> list[dict[str, Any]]:
    """What the fake FCM accepted for `token`, ordered by notification body."""
    return sorted((d.message for d in fake.deliveries_to(token)), key=_body)


def expected_apns(target: bytes) -> list[Any]:
    """One APNs payload per type, as `apns_payloads` orders them."""
    return sorted((apns_payload(kind, target) for kind in TEXTS), key=_alert)


def expected_fcm(target: bytes, token: str) -> list[dict[str, Any]]:
    return sorted((fcm_message(kind, target, token) for kind in TEXTS), key=_body)


def _alert(payload: Any) -> str:
    return str(payload["aps"]["alert"]) if isinstance(payload, dict) and "aps" in payload else ""


def _body(message: dict[str, Any]) -> str:
    return str(message.get("notification", {}).get("body", ""))


def push_answers(fake: FakeApns | FakeFcm) -> int:
    """How many pushes the fake has answered (FCM's OAuth token answers left out)."""
    return sum(n for answer, n in fake.answers.items() if not answer.startswith("token "))
