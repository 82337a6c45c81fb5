"""How an FCM HTTP v1 answer becomes an Outcome: FCM's `ErrorCode` table, row by row.

FCM answers errors as Google APIs do, `{"error": {"code", "message", "status", "details"}}`,
and says what went wrong in the `details` entry of type `google.firebase.fcm.v1.FcmError`
(`errorCode`); the canonical `status` is too coarse (reference/status-gorush-sygnal.md §4.2;
firebase-admin reads the same field). FCM's guidance: drop the token on UNREGISTERED;
INVALID_ARGUMENT means a bad token only when it is about the token (its message, or a
`message.token` field violation), otherwise a bad request; back off at least a minute on
QUOTA_EXCEEDED; retry 5xx honouring `Retry-After`. Unknown 429 and 5xx answers are
retryable; unknown 4xx are not (STYLE R3).

A 401 without an FcmError detail is Google refusing the access token, not FCM refusing
the push: the provider renews the token and tries once more (`needs_new_access_token`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pushrelay.domain import Delivered, Failed, Outcome, Rejected, RejectReason
from pushrelay.providers.retry_after import retry_after

R = RejectReason
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

FCM_REJECTIONS: Final[Mapping[str, RejectReason]] = {
    "UNREGISTERED": R.UNREGISTERED,
    "SENDER_ID_MISMATCH": R.AUTH,
    "THIRD_PARTY_AUTH_ERROR": R.AUTH,
    "APNS_AUTH_ERROR": R.AUTH,  # THIRD_PARTY_AUTH_ERROR's name before 2020
}
"""Answers that will not change on retry (INVALID_ARGUMENT: see `classify`)."""

FCM_RETRYABLE: Final[Mapping[str, float]] = {
    "QUOTA_EXCEEDED": 60.0,
    "UNAVAILABLE": 0.0,
    "INTERNAL": 0.0,
}
"""Answers worth retrying, with the least delay FCM asks for (a minute after QUOTA_EXCEEDED)."""

_REJECTION_BY_STATUS: Final[Mapping[int, RejectReason]] = {
    400: R.BAD_REQUEST,
    401: R.AUTH,
    403: R.AUTH,
    413: R.PAYLOAD_TOO_LARGE,
}
_THIRD_PARTY_AUTH = frozenset({"THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR"})


@dataclass(frozen=True, slots=True)
class FcmError:
    """The parts of an error body that matter."""

    status: str = ""
    message: str = ""
    error_code: str = ""
    fields: tuple[str, ...] = ()
    """Fields named by `google.rpc.BadRequest` violations."""

    @property
    def is_about_token(self) -> bool:
        return "message.token" in self.fields or "registration token" in self.message.lower()


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """The Outcome of one `messages:send` response."""
    if status == 200:
        return Delivered(provider_id=_message_name(body))
    error = parse_error(body)
    code = error.error_code
    detail = code or error.status or f"HTTP {status}"
    if code == "INVALID_ARGUMENT" or (not code and status == 400):
        return Rejected(R.BAD_TOKEN if error.is_about_token else R.BAD_REQUEST, detail)
    if code in FCM_REJECTIONS:
        return Rejected(FCM_REJECTIONS[code], detail)
    if code in FCM_RETRYABLE or status == 429 or status >= 500:
        least = FCM_RETRYABLE.get(code, 60.0 if status == 429 else 0.0)
        hint = retry_after(headers.get("retry-after"))
        wait = max(least, hint or 0.0) if least or hint is not None else None
        return Failed(True, detail, wait)
    if status in _REJECTION_BY_STATUS:
        return Rejected(_REJECTION_BY_STATUS[status], detail)
    return Failed(False, detail)


def needs_new_access_token(status: int, body: bytes) -> bool:
    """A 401 about our access token (expired, revoked), not about APNs or web push credentials."""
    return status == 401 and parse_error(body).error_code not in _THIRD_PARTY_AUTH


def parse_error(body: bytes) -> FcmError:
    """Read an error body; anything malformed reads as an empty error."""
    error = json_object(body).get("error")
    if not isinstance(error, dict):
        return FcmError()
    code, fields = "", []
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            code = detail["errorCode"]
        elif detail.get("@type") == BAD_REQUEST_TYPE:
            violations = detail.get("fieldViolations") or []
            fields += [
                v["field"] for v in violations if isinstance(v, dict) and isinstance(v.get("field"), str)
            ]
    status, message = error.get("status"), error.get("message")
    return FcmError(
        status if isinstance(status, str) else "",
        message if isinstance(message, str) else "",
        code,
        tuple(fields),
    )


def _message_name(body: bytes) -> str | None:
    name = json_object(body).get("name")
    return name if isinstance(name, str) else None


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON answer's top-level object; {} for an empty, malformed or non-object body."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
