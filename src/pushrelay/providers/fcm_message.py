"""How a domain `Message` becomes an FCM HTTP v1 `messages:send` body.

reference/status-gorush-sygnal.md §4.2 and FCM's `Message` reference:

* `data` is a map of strings: string values go as they are, anything else JSON-encoded
  (`3` → `"3"`, `{"a": 1}` → `'{"a":1}'`), as Sygnal stringifies counts;
* an alert push with a title or a body gets `notification {title, body}`; every other
  push is data-only, which wakes the app without showing anything;
* `android.priority` is `high` or `normal` from `Message.priority`; `android.ttl` is
  the time left until `Message.expiration` (`"0s"`: now or never); `android.collapse_key`
  is `Message.collapse_id`;
* `Message.android` is merged in last, key by key, so a protocol can set any field;
* `Message.topic` is an APNs topic (Status sends it for both platforms): FCM ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pushrelay.domain import JSON, Message, Priority, PushType

MAX_DATA_BYTES = 4096
"""FCM's limit for a message to a token: data keys and values plus notification text."""

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def request_body(rendered: Mapping[str, Any]) -> bytes:
    """The JSON body of `POST /v1/projects/{project}/messages:send` for a rendered message."""
    return _JSON.encode({"message": rendered}).encode()


def render_message(message: Message, token: str, now: float) -> dict[str, Any]:
    """The `message` object; `now` (unix seconds) turns `expiration` into a TTL."""
    rendered: dict[str, Any] = {"token": token}
    if message.data:
        rendered["data"] = string_data(message.data)
    notification = _notification(message)
    if notification:
        rendered["notification"] = notification
    rendered["android"] = _merged(_android(message, now), message.android)
    return rendered


def string_data(data: Mapping[str, JSON]) -> dict[str, str]:
    """FCM data values are strings: keep strings, JSON-encode the rest."""
    return {key: value if isinstance(value, str) else _JSON.encode(value) for key, value in data.items()}


def data_size(rendered: Mapping[str, Any]) -> int:
    """The bytes of a rendered message FCM counts against MAX_DATA_BYTES."""
    size = 0
    android = rendered.get("android")
    extra = android.get("data") if isinstance(android, Mapping) else None
    for data in (rendered.get("data"), extra):
        if isinstance(data, Mapping):
            size += sum(len(str(key).encode()) + len(str(value).encode()) for key, value in data.items())
    notification = rendered.get("notification")
    if isinstance(notification, Mapping):
        size += sum(len(str(text).encode()) for text in notification.values())
    return size


def _notification(message: Message) -> dict[str, str]:
    if message.push_type is not PushType.ALERT:
        return {}
    fields = {"title": message.title, "body": message.body}
    return {name: text for name, text in fields.items() if text}


def _android(message: Message, now: float) -> dict[str, Any]:
    android: dict[str, Any] = {"priority": "high" if message.priority is Priority.HIGH else "normal"}
    if message.expiration is not None:
        seconds = 0 if message.expiration == 0 else max(0, int(message.expiration - now))
        android["ttl"] = f"{seconds}s"
    if message.collapse_id:
        android["collapse_key"] = message.collapse_id
    return android


def _merged(base: dict[str, Any], extra: Mapping[str, JSON]) -> dict[str, Any]:
    """`extra` over `base`; where both hold an object, merge them key by key."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merged(current, value)
        else:
            merged[key] = value
    return merged
