"""The APNs request for one `Push`: its JSON payload and its `apns-*` headers.

Payload: `aps` holds alert (a string when there is only a body, else {title, body}),
sound, badge, category, thread-id, content-available and mutable-content; `Message.aps`
is merged into it last (ChatSecure reads `aps.alert.message.token`); `Message.data`
keys sit beside `aps`, as gorush does. Headers follow Apple's "Sending notification
requests to APNs" (reference/status-gorush-sygnal.md §4.1).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Final

from hpack import NeverIndexedHeaderTuple

from pushrelay.domain import JSON, Message, Priority, Push, PushType

MAX_PAYLOAD_BYTES: Final = 4096
MAX_VOIP_PAYLOAD_BYTES: Final = 5120
MAX_COLLAPSE_ID_BYTES: Final = 64
DEVICE_TOKEN: Final = re.compile(r"[0-9a-fA-F]{1,400}")

TOPIC_SUFFIXES: Final[Mapping[PushType, str]] = {
    PushType.VOIP: ".voip",
    PushType.COMPLICATION: ".complication",
    PushType.FILEPROVIDER: ".pushkit.fileprovider",
    PushType.LIVEACTIVITY: ".push-type.liveactivity",
    PushType.PUSHTOTALK: ".voip-ptt",
}
"""Apple: pushes of these types go to the bundle id plus a suffix."""


def render_payload(message: Message) -> bytes:
    """The JSON body APNs delivers to the app."""
    aps: dict[str, JSON] = {}
    if message.title is not None:
        alert: dict[str, JSON] = {"title": message.title}
        if message.body is not None:
            alert["body"] = message.body
        aps["alert"] = alert
    elif message.body is not None:
        aps["alert"] = message.body
    if message.sound is not None:
        aps["sound"] = message.sound
    if message.badge is not None:
        aps["badge"] = message.badge
    if message.category is not None:
        aps["category"] = message.category
    if message.thread_id is not None:
        aps["thread-id"] = message.thread_id
    if message.content_available or message.push_type is PushType.BACKGROUND:
        aps["content-available"] = 1
    if message.mutable_content:
        aps["mutable-content"] = 1
    payload: dict[str, JSON] = {key: value for key, value in message.data.items() if key != "aps"}
    payload["aps"] = _merged(aps, message.aps)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def max_payload_bytes(message: Message) -> int:
    return MAX_VOIP_PAYLOAD_BYTES if message.push_type is PushType.VOIP else MAX_PAYLOAD_BYTES


def is_device_token(token: str) -> bool:
    """APNs device tokens are hex; anything else would also corrupt the request path."""
    return DEVICE_TOKEN.fullmatch(token) is not None


def is_collapse_id_too_long(message: Message) -> bool:
    return message.collapse_id is not None and len(message.collapse_id.encode()) > MAX_COLLAPSE_ID_BYTES


def priority(message: Message) -> bytes:
    """10 sends at once; 5 is power-aware, and the only one allowed for background pushes."""
    if message.push_type is PushType.BACKGROUND or message.priority is Priority.NORMAL:
        return b"5"
    return b"10"


def topic(message: Message, configured: str) -> str:
    if message.topic is not None:
        return message.topic
    suffix = TOPIC_SUFFIXES.get(message.push_type, "")
    return configured if configured.endswith(suffix) else configured + suffix


def request_headers(push: Push, configured_topic: str) -> list[tuple[bytes, bytes]]:
    """Every header but `authorization`, which token auth adds per request."""
    message = push.message
    headers: list[tuple[bytes, bytes]] = [
        (b"apns-topic", topic(message, configured_topic).encode()),
        (b"apns-push-type", message.push_type.value.encode()),
        (b"apns-priority", priority(message)),
    ]
    if message.expiration is not None:  # an instant: rarely the same twice
        headers.append(NeverIndexedHeaderTuple(b"apns-expiration", str(message.expiration).encode()))
    if message.collapse_id is not None:
        headers.append((b"apns-collapse-id", message.collapse_id.encode()))
    if _is_uuid(push.id):
        # One value per push: never indexed, so it does not push useful entries out of the table.
        headers.append(NeverIndexedHeaderTuple(b"apns-id", push.id.lower().encode()))
    return headers


def _merged(base: dict[str, JSON], extra: Mapping[str, JSON]) -> dict[str, JSON]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merged(current, value)
        elif isinstance(current, str) and key == "alert" and isinstance(value, Mapping):
            merged[key] = _merged({"body": current}, value)
        else:
            merged[key] = value
    return merged


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
