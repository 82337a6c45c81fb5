"""What a Status app receives: the push status-go asks gorush for, as a domain Message.

reference/status-gorush-sygnal.md §1.8 (`gorush.go`) and §2.1: gorush turns
`{"message": text, "topic": apn_topic, "data": {...}}` into APNs
`{"aps": {"alert": text}, "encryptedMessage": …, "chatId": …, "publicKey": …}` and into an FCM
notification with `body = text` and the same data. `Message(body=text, data=…)` renders the
same through our providers; the APNs topic is the registration's, and FCM ignores it.
"""

from __future__ import annotations

from typing import Final

from pushrelay.domain import Message, Platform
from pushrelay.protocols.status.proto.push_notifications_pb2 import (
    PushNotification,
    PushNotificationRegistration,
)

NEW_MESSAGE_TEXT: Final = "You have a new message"
MENTION_TEXT: Final = "Someone mentioned you"
REQUEST_TO_JOIN_TEXT: Final = "Someone requested to join a community you are an admin of"

PLATFORMS: Final = {
    PushNotificationRegistration.APN_TOKEN: Platform.APNS,
    PushNotificationRegistration.FIREBASE_TOKEN: Platform.FCM,
}


def alert_text(notification: PushNotification) -> str:
    """status-go's text by type; any type other than the two named gets the mention text."""
    if notification.type == PushNotification.MESSAGE:
        return NEW_MESSAGE_TEXT
    if notification.type == PushNotification.REQUEST_TO_JOIN_COMMUNITY:
        return REQUEST_TO_JOIN_TEXT
    return MENTION_TEXT


def encode_hex(data: bytes) -> str:
    """go-ethereum's `EncodeHex`: lowercase with `0x`, and `0x` for no bytes."""
    return "0x" + data.hex()


def message_for(notification: PushNotification, registration: PushNotificationRegistration) -> Message:
    platform = PLATFORMS.get(registration.token_type)
    topic = registration.apn_topic or None
    return Message(
        body=alert_text(notification),
        data={
            "encryptedMessage": encode_hex(notification.message),
            "chatId": encode_hex(notification.chat_id),
            "publicKey": encode_hex(notification.public_key),
        },
        topic=topic if platform is Platform.APNS else None,
    )
