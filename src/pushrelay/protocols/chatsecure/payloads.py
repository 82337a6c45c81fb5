"""The pushes a knock turns into, shaped as the ChatSecure apps read them (reference §3).

* iOS (IOS-SDK `Deserializer.messageFromPushDictionary`) reads
  `aps.alert.message.token` and, optionally, `aps.alert.message.data`.
* Android (AND-SDK `gcm/PushParser`) reads the data key `message`, parses it as JSON and
  reads `.message.token` and `.message.data` as a string.

APNs pushes expire after 30 days, as SRV's (django-push-notifications' default
`apns-expiration`); FCM messages keep FCM's default time to live (its 28-day maximum).
"""

from __future__ import annotations

import json

from pushrelay.domain import JSON, Message, Platform, Priority, PushType

ALERT_TEXT = "New Message!"
"""SRV's foreground copy: `body` and `loc-key` both "New Message!"."""

APNS_LIFETIME = 30 * 86_400
"""Seconds APNs keeps trying an offline device (DPN's default `apns-expiration`, reference §3.2)."""


def knock_message(platform: Platform, token: str, data: str | None, *, urgent: bool, now: float) -> Message:
    """The push for one device at unix time `now`. `urgent` (priority high) is an alert on iOS and a
    high-priority data message on Android; otherwise an iOS background push and a normal-priority
    data message."""
    if platform is Platform.APNS:
        return _apns(token, data, urgent=urgent, expiration=int(now) + APNS_LIFETIME)
    return _fcm(token, data, urgent=urgent)


def _apns(token: str, data: str | None, *, urgent: bool, expiration: int) -> Message:
    alert: dict[str, JSON] = {"message": {"data": data, "token": token}}
    if urgent:
        alert |= {"body": ALERT_TEXT, "loc-key": ALERT_TEXT}
        return Message(
            aps={"alert": alert, "sound": "default"},
            content_available=True,
            priority=Priority.HIGH,
            push_type=PushType.ALERT,
            expiration=expiration,
        )
    # A background push carrying the same path, so the app can still tell who knocked.
    return Message(
        aps={"alert": alert},
        content_available=True,
        priority=Priority.NORMAL,
        push_type=PushType.BACKGROUND,
        expiration=expiration,
    )


def _fcm(token: str, data: str | None, *, urgent: bool) -> Message:
    # `data` is "" rather than null: PushParser calls getAsString() on it, which throws on JSON null.
    inner = {"message": {"data": data if data is not None else "", "token": token}}
    return Message(
        data={"message": json.dumps(inner, separators=(",", ":"))},
        priority=Priority.HIGH if urgent else Priority.NORMAL,
        push_type=PushType.BACKGROUND,
    )
