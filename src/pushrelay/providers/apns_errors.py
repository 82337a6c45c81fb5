"""How an APNs answer becomes an Outcome: Apple's reason table, row by row.

Status codes and reasons as Apple documents them ("Handling notification responses from
APNs"; sideshow/apns2 `response.go`; reference/status-gorush-sygnal.md §4.1). Dead-token
reasons follow Sygnal's `TOKEN_ERRORS` plus 410 ExpiredToken. Unknown 429 and 5xx answers
are retryable; unknown 4xx are not (STYLE R3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from pushrelay.domain import Delivered, Failed, Outcome, Rejected, RejectReason
from pushrelay.providers.retry_after import retry_after

R = RejectReason

APNS_REJECTIONS: Final[Mapping[tuple[int, str], RejectReason]] = {
    (400, "BadCollapseId"): R.BAD_REQUEST,
    (400, "BadDeviceToken"): R.BAD_TOKEN,
    (400, "BadExpirationDate"): R.BAD_REQUEST,
    (400, "BadMessageId"): R.BAD_REQUEST,
    (400, "BadPriority"): R.BAD_REQUEST,
    (400, "BadTopic"): R.BAD_REQUEST,
    (400, "DeviceTokenNotForTopic"): R.TOKEN_NOT_FOR_TOPIC,
    (400, "DuplicateHeaders"): R.BAD_REQUEST,
    (400, "InvalidPushType"): R.BAD_REQUEST,
    (400, "MissingDeviceToken"): R.BAD_REQUEST,
    (400, "MissingTopic"): R.BAD_REQUEST,
    (400, "PayloadEmpty"): R.BAD_REQUEST,
    (400, "TopicDisallowed"): R.TOPIC_DISALLOWED,
    (403, "BadCertificate"): R.AUTH,
    (403, "BadCertificateEnvironment"): R.AUTH,
    (403, "ExpiredProviderToken"): R.AUTH,
    (403, "Forbidden"): R.AUTH,
    (403, "InvalidProviderToken"): R.AUTH,
    (403, "MissingProviderToken"): R.AUTH,
    (404, "BadPath"): R.BAD_REQUEST,
    (405, "MethodNotAllowed"): R.BAD_REQUEST,
    (410, "ExpiredToken"): R.UNREGISTERED,
    (410, "Unregistered"): R.UNREGISTERED,
    (413, "PayloadTooLarge"): R.PAYLOAD_TOO_LARGE,
}
"""Answers that will not change on retry."""

APNS_RETRYABLE: Final[Mapping[tuple[int, str], bool]] = {
    (400, "IdleTimeout"): True,
    (429, "TooManyProviderTokenUpdates"): True,
    (429, "TooManyRequests"): False,
    (500, "InternalServerError"): True,
    (503, "ServiceUnavailable"): True,
    (503, "Shutdown"): True,
}
"""Answers worth retrying, with whether they say the service is unwell (`Failed.service_fault`).

IdleTimeout is a 400 but concerns the connection, not the push; TooManyRequests is about
one device token being pushed to too often, and says nothing about APNs' health.
"""

_REJECTION_BY_STATUS: Final[Mapping[int, RejectReason]] = {
    403: R.AUTH,
    410: R.UNREGISTERED,
    413: R.PAYLOAD_TOO_LARGE,
}


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """The Outcome of one APNs response."""
    if status == 200:
        return Delivered(provider_id=headers.get("apns-id"))
    reason, timestamp_ms = _error_body(body)
    key = (status, reason)
    if key in APNS_REJECTIONS:
        invalid_since = _invalid_since(timestamp_ms) if status == 410 else None
        return Rejected(APNS_REJECTIONS[key], detail=reason, invalid_since=invalid_since)
    if key in APNS_RETRYABLE or status == 429 or status >= 500:
        service_fault = APNS_RETRYABLE.get(key, True)
        detail = reason or f"HTTP {status}"
        return Failed(True, detail, retry_after(headers.get("retry-after")), service_fault=service_fault)
    if 400 <= status < 500:
        reject_reason = _REJECTION_BY_STATUS.get(status, R.BAD_REQUEST)
        invalid_since = _invalid_since(timestamp_ms) if status == 410 else None
        return Rejected(reject_reason, detail=reason or f"HTTP {status}", invalid_since=invalid_since)
    return Failed(False, f"unexpected HTTP {status}")


def _error_body(body: bytes) -> tuple[str, int | None]:
    """`{"reason": "...", "timestamp": <ms>}`; anything malformed reads as no reason."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return "", None
    if not isinstance(parsed, dict):
        return "", None
    reason = parsed.get("reason")
    timestamp = parsed.get("timestamp")
    return (
        reason if isinstance(reason, str) else "",
        timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
    )


def _invalid_since(timestamp_ms: int | None) -> datetime | None:
    if timestamp_ms is None:
        return None
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
