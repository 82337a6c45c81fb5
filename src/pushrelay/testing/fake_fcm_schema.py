"""What the fake FCM accepts and how it refuses: the HTTP v1 `messages:send` body and error answers.

Validation follows the real service (reference/status-gorush-sygnal.md §4.2; FCM's
`ErrorCode` and `Message` references): the body is `{"message": …, "validate_only": …}`
and nothing else; a message has exactly one of `token`, `topic`, `condition`; only known
fields (proto JSON, so both `fcm_options` and `fcmOptions`); `data` values are strings and
no key is reserved (`from`, `message_type`, `notification`, `google…`, `gcm…`);
`android.priority` is `normal` or `high`; `android.ttl` is a protobuf Duration (`"3600s"`)
of at most 28 days; the data (keys, values and notification text) is at most 4096 bytes,
2048 for topic messages.

Refusals carry the real error body, `{"error": {"code", "message", "status", "details"}}`,
with an `FcmError` detail (`errorCode`) where FCM itself refuses and a `google.rpc.BadRequest`
detail where Google's JSON front end does (unknown fields, wrong types), as the service does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pushrelay.domain import JSON

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"

MAX_DATA_BYTES = 4096
MAX_TOPIC_DATA_BYTES = 2048
MAX_TTL_SECONDS = 28 * 24 * 3600
BAD_TOKEN_MESSAGE = "The registration token is not a valid FCM registration token"

ERROR_CODES: Final[Mapping[str, tuple[int, str, str]]] = {
    # errorCode: (HTTP status, canonical status, message the service sends)
    "UNSPECIFIED_ERROR": (500, "UNKNOWN", "Unknown error."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", BAD_TOKEN_MESSAGE),
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Sending limit exceeded for the message target."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}
"""FCM's ErrorCode enum, each with the HTTP status and canonical status it comes with."""

_MESSAGE_FIELDS = frozenset(
    {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "fcmOptions"}
)
_TARGETS = ("token", "topic", "condition")
_NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
_ANDROID_FIELDS = frozenset(
    {
        "collapse_key",
        "collapseKey",
        "priority",
        "ttl",
        "restricted_package_name",
        "restrictedPackageName",
        "data",
        "notification",
        "fcm_options",
        "fcmOptions",
        "direct_boot_ok",
        "directBootOk",
    }
)
_PRIORITIES = frozenset({"normal", "high"})
_RESERVED_KEYS = frozenset({"from", "message_type", "notification"})
_RESERVED_PREFIXES = ("google", "gcm")
_TOKEN = re.compile(r"[A-Za-z0-9_:\-.]{20,4096}")
_TOPIC = re.compile(r"(/topics/)?[A-Za-z0-9\-_.~%]{1,900}")
_DURATION = re.compile(r"(\d{1,12})(\.\d{1,9})?s")


@dataclass(frozen=True, slots=True)
class FcmRefusal:
    """An error answer, rendered as Google APIs render errors."""

    status: int
    canonical: str
    message: str
    error_code: str | None = None
    """The FcmError `errorCode` detail; None where Google's front end answers, not FCM."""
    field: str | None = None
    """The `google.rpc.BadRequest` field violation, for malformed requests."""
    reason: str | None = None
    """The `google.rpc.ErrorInfo` reason (ACCESS_TOKEN_EXPIRED, CREDENTIALS_MISSING, …)."""
    retry_after: float | None = None

    @classmethod
    def of(cls, error_code: str, message: str | None = None, retry_after: float | None = None) -> FcmRefusal:
        """The answer FCM gives with `error_code` (one of ERROR_CODES)."""
        status, canonical, default_message = ERROR_CODES[error_code]
        return cls(status, canonical, message or default_message, error_code, retry_after=retry_after)

    @property
    def label(self) -> str:
        """How the fake counts it: `404 UNREGISTERED`, `400 INVALID_ARGUMENT`, `401 UNAUTHENTICATED`."""
        return f"{self.status} {self.error_code or self.canonical}"

    def body(self) -> bytes:
        details: list[JSON] = []
        if self.error_code is not None:
            details.append({"@type": FCM_ERROR_TYPE, "errorCode": self.error_code})
        if self.field is not None:
            violation: dict[str, JSON] = {"field": self.field, "description": self.message}
            details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]})
        if self.reason is not None:
            details.append({"@type": ERROR_INFO_TYPE, "reason": self.reason, "domain": "googleapis.com"})
        error: dict[str, JSON] = {"code": self.status, "message": self.message, "status": self.canonical}
        if details:
            error["details"] = details
        return json.dumps({"error": error}).encode()


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A valid `messages:send` body."""

    message: dict[str, Any]
    validate_only: bool

    @property
    def token(self) -> str | None:
        token = self.message.get("token")
        return token if isinstance(token, str) else None


def parse_send_request(raw: bytes) -> SendRequest | FcmRefusal:
    """Validate a `messages:send` body as FCM does; see the module docstring."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return _malformed("", f"Invalid JSON payload received. {exc}.")
    if not isinstance(body, dict):
        return _malformed("", "Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in ("message", "validate_only", "validateOnly"):
            return _malformed("", f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
    validate_only = body.get("validate_only", body.get("validateOnly", False))
    if not isinstance(validate_only, bool):
        return _type_error("validate_only", validate_only, "TYPE_BOOL")
    message = body.get("message")
    if not isinstance(message, dict):
        return FcmRefusal.of("INVALID_ARGUMENT", "Request contains an invalid argument.")
    refusal = _check_message(message)
    return refusal if refusal is not None else SendRequest(message, validate_only)


def _check_message(message: dict[str, Any]) -> FcmRefusal | None:
    for name in message:
        if name not in _MESSAGE_FIELDS and name not in _TARGETS:
            return _unknown_field("message", name)
    targets = [name for name in _TARGETS if name in message]
    if len(targets) > 1:
        return _malformed(
            "message",
            f"Invalid value at 'message' (oneof), oneof field 'target' is already set. "
            f"Cannot set '{targets[1]}'",
        )
    if not targets:
        return FcmRefusal.of("INVALID_ARGUMENT", "Recipient of the message is not set.")
    return (
        _check_target(targets[0], message[targets[0]])
        or _check_data("message.data", message.get("data"))
        or _check_notification(message.get("notification"))
        or _check_android(message.get("android"))
        or _check_objects(message)
        or _check_size(message, is_topic=targets[0] != "token")
    )


def _check_target(kind: str, value: object) -> FcmRefusal | None:
    if not isinstance(value, str):
        return _type_error(f"message.{kind}", value, "TYPE_STRING")
    if kind == "token" and not _TOKEN.fullmatch(value):
        return FcmRefusal.of("INVALID_ARGUMENT", BAD_TOKEN_MESSAGE)
    if kind == "topic" and not _TOPIC.fullmatch(value):
        return FcmRefusal.of("INVALID_ARGUMENT", "Invalid topic name.")
    if kind == "condition" and not value.strip():
        return FcmRefusal.of("INVALID_ARGUMENT", "Invalid condition expression.")
    return None


def _check_data(path: str, data: object) -> FcmRefusal | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        return _type_error(path, data, "TYPE_MAP")
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            return _type_error(f"{path}[{index}].value", value, "TYPE_STRING")
        if key in _RESERVED_KEYS or key.lower().startswith(_RESERVED_PREFIXES):
            return FcmRefusal.of("INVALID_ARGUMENT", f"Invalid data payload key: {key}")
    return None


def _check_notification(notification: object) -> FcmRefusal | None:
    if notification is None:
        return None
    if not isinstance(notification, dict):
        return _type_error("message.notification", notification, "TYPE_MESSAGE")
    for name, value in notification.items():
        if name not in _NOTIFICATION_FIELDS:
            return _unknown_field("message.notification", name)
        if not isinstance(value, str):
            return _type_error(f"message.notification.{name}", value, "TYPE_STRING")
    return None


def _check_android(android: object) -> FcmRefusal | None:
    if android is None:
        return None
    if not isinstance(android, dict):
        return _type_error("message.android", android, "TYPE_MESSAGE")
    for name in android:
        if name not in _ANDROID_FIELDS:
            return _unknown_field("message.android", name)
    priority = android.get("priority")
    if priority is not None and (not isinstance(priority, str) or priority.lower() not in _PRIORITIES):
        return _type_error(
            "message.android.priority",
            priority,
            "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority",
        )
    ttl = android.get("ttl")
    if ttl is not None:
        match = _DURATION.fullmatch(ttl) if isinstance(ttl, str) else None
        if match is None:
            return _type_error("message.android.ttl", ttl, "type.googleapis.com/google.protobuf.Duration")
        if int(match.group(1)) > MAX_TTL_SECONDS:
            return FcmRefusal.of("INVALID_ARGUMENT", "The ttl must be at most 2419200 seconds (28 days).")
    for name in ("collapse_key", "collapseKey", "restricted_package_name", "restrictedPackageName"):
        if name in android and not isinstance(android[name], str):
            return _type_error(f"message.android.{name}", android[name], "TYPE_STRING")
    for name in ("notification", "fcm_options", "fcmOptions"):
        if name in android and not isinstance(android[name], dict):
            return _type_error(f"message.android.{name}", android[name], "TYPE_MESSAGE")
    return _check_data("message.android.data", android.get("data"))


def _check_objects(message: dict[str, Any]) -> FcmRefusal | None:
    for name in ("webpush", "apns", "fcm_options", "fcmOptions"):
        if name in message and not isinstance(message[name], dict):
            return _type_error(f"message.{name}", message[name], "TYPE_MESSAGE")
    return None


def _check_size(message: dict[str, Any], is_topic: bool) -> FcmRefusal | None:
    limit = MAX_TOPIC_DATA_BYTES if is_topic else MAX_DATA_BYTES
    if data_size(message) > limit:
        return FcmRefusal.of("INVALID_ARGUMENT", f"Message is too big: data exceeds {limit} bytes.")
    return None


def data_size(message: Mapping[str, Any]) -> int:
    """The bytes FCM counts against its size limit: data keys and values, notification text."""
    size = 0
    android = message.get("android") or {}
    for data in (message.get("data") or {}, android.get("data") or {}):
        size += sum(len(key.encode()) + len(value.encode()) for key, value in data.items())
    for value in (message.get("notification") or {}).values():
        size += len(value.encode())
    return size


def _unknown_field(where: str, name: str) -> FcmRefusal:
    return _malformed(
        where, f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )


def _type_error(field: str, value: object, expected: str) -> FcmRefusal:
    return _malformed(field, f"Invalid value at '{field}' ({expected}), {json.dumps(value)}")


def _malformed(field: str, message: str) -> FcmRefusal:
    return FcmRefusal(400, "INVALID_ARGUMENT", message, field=field)
