"""FCM's error table and the token endpoint's answers, read row by row (no network).

Rules: reference/status-gorush-sygnal.md §4.2 and STYLE R3: classify by `details[].errorCode`;
unknown 429 and 5xx answers are retryable, unknown 4xx are not; Retry-After in seconds
or as an HTTP date; nothing a server sends makes the classifier raise (R15).
"""

from __future__ import annotations

import json
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.domain import Delivered, Failed, Outcome, Rejected, RejectReason
from pushrelay.providers.fcm_auth import AccessTokenError, parse_token_response
from pushrelay.providers.fcm_errors import FCM_ERROR_TYPE, classify, needs_new_access_token, retry_after

R = RejectReason


def error_body(
    code: int, status: str, error_code: str | None = None, message: str = "", **extra: object
) -> bytes:
    details: list[object] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}] if error_code else []
    if "field" in extra:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [extra]})
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status, "details": details}}
    ).encode()


CASES: list[tuple[int, dict[str, str], bytes, Outcome]] = [
    (200, {}, b'{"name":"projects/p/messages/1"}', Delivered("projects/p/messages/1")),
    (200, {}, b"", Delivered(None)),
    (401, {}, error_body(401, "UNAUTHENTICATED", "APNS_AUTH_ERROR"), Rejected(R.AUTH, "APNS_AUTH_ERROR")),
    (
        400,
        {},
        error_body(400, "INVALID_ARGUMENT", message="Invalid value", field="message.token"),
        Rejected(R.BAD_TOKEN, "INVALID_ARGUMENT"),
    ),
    (400, {}, b"<html>Bad Request</html>", Rejected(R.BAD_REQUEST, "HTTP 400")),
    (401, {}, error_body(401, "UNAUTHENTICATED"), Rejected(R.AUTH, "UNAUTHENTICATED")),
    (404, {}, error_body(404, "NOT_FOUND"), Failed(False, "NOT_FOUND")),
    (413, {}, b"", Rejected(R.PAYLOAD_TOO_LARGE, "HTTP 413")),
    (429, {}, error_body(429, "RESOURCE_EXHAUSTED"), Failed(True, "RESOURCE_EXHAUSTED", 60.0)),
    (502, {}, b"<html>Bad Gateway</html>", Failed(True, "HTTP 502")),
    (503, {"retry-after": "30"}, b"", Failed(True, "HTTP 503", 30.0)),
    (500, {"retry-after": "soon"}, error_body(500, "INTERNAL", "INTERNAL"), Failed(True, "INTERNAL")),
]


@pytest.mark.parametrize(("status", "headers", "body", "expected"), CASES)
def test_answer_is_classified(status: int, headers: dict[str, str], body: bytes, expected: Outcome) -> None:
    """§4.2 and R3: the table's rows, plus answers without an FcmError detail."""
    assert classify(status, headers, body) == expected


def test_retry_after_may_be_an_http_date() -> None:
    """RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date."""
    assert retry_after(formatdate(1_000_090, usegmt=True), now=1_000_000) == pytest.approx(90)
    assert retry_after(formatdate(1_000_000, usegmt=True), now=1_000_090) == 0


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, error_body(401, "UNAUTHENTICATED"), True),
        (401, b"", True),
        (401, error_body(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), False),
        (403, error_body(403, "PERMISSION_DENIED"), False),
    ],
)
def test_only_a_401_about_our_access_token_asks_for_a_new_one(
    status: int, body: bytes, expected: bool
) -> None:
    """§4.2: THIRD_PARTY_AUTH_ERROR is about APNs/web push credentials; a renewed token will not help."""
    assert needs_new_access_token(status, body) is expected


@given(st.integers(100, 599), st.binary(max_size=300))
def test_any_answer_classifies_without_raising(status: int, body: bytes) -> None:
    """R15: whatever FCM (or a proxy in front of it) sends, classification returns an Outcome."""
    assert isinstance(classify(status, {"retry-after": "x"}, body), Delivered | Rejected | Failed)


def test_token_answer_with_string_expires_in_is_accepted() -> None:
    """google-auth's note: some endpoints send expires_in as a JSON string."""
    assert parse_token_response(200, b'{"access_token":"t","expires_in":"3599"}') == ("t", 3599.0)


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (200, b'{"token_type":"Bearer"}', True),
        (400, b'{"error":"invalid_grant"}', False),
        (400, b'{"error":"temporarily_unavailable"}', True),
        (403, b"", False),
        (429, b"", True),
        (500, b"<html/>", True),
    ],
)
def test_token_endpoint_errors_say_whether_to_retry(status: int, body: bytes, retryable: bool) -> None:
    """RFC 6749 §5.2 error codes; 5xx, 429 and Google's transient errors are worth retrying."""
    with pytest.raises(AccessTokenError) as failure:
        parse_token_response(status, body)
    assert failure.value.retryable is retryable
