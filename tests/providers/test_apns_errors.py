"""Apple's APNs answers classified without a network: every row of the table, and what is not in it.

Rules: reference/status-gorush-sygnal.md §4.1 (status codes and reasons, retry classes)
and STYLE R3 (unknown 429/5xx retryable, unknown 4xx not).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.domain import Delivered, Failed, Rejected, RejectReason
from pushrelay.providers.apns_errors import APNS_REJECTIONS, APNS_RETRYABLE, classify, retry_after


def body(reason: str, **extra: object) -> bytes:
    return json.dumps({"reason": reason, **extra}).encode()


def test_200_is_delivered_with_the_apns_id() -> None:
    """§4.1: success is 200 with the apns-id header."""
    assert classify(200, {"apns-id": "x"}, b"") == Delivered(provider_id="x")


@pytest.mark.parametrize(("status", "reason"), sorted(APNS_REJECTIONS))
def test_every_rejection_row_is_rejected_with_its_reason(status: int, reason: str) -> None:
    """§4.1: these answers do not change on retry; the reason string is kept as detail."""
    assert classify(status, {}, body(reason)) == Rejected(APNS_REJECTIONS[(status, reason)], reason)


@pytest.mark.parametrize(("status", "reason"), sorted(APNS_RETRYABLE))
def test_every_retryable_row_fails_retryably(status: int, reason: str) -> None:
    """§4.1: 429, 500, 503 (and IdleTimeout) are worth another try."""
    outcome = classify(status, {"retry-after": "3"}, body(reason))
    assert outcome == Failed(True, reason, 3.0, service_fault=APNS_RETRYABLE[(status, reason)])


def test_dead_token_reasons_are_the_documented_ones() -> None:
    """§4.1 and Sygnal TOKEN_ERRORS: 410 Unregistered/ExpiredToken, 400 BadDeviceToken,
    DeviceTokenNotForTopic and TopicDisallowed mean drop the token; nothing else does."""
    dead = {key for key, reason in APNS_REJECTIONS.items() if Rejected(reason).is_token_dead}
    assert dead == {
        (410, "Unregistered"),
        (410, "ExpiredToken"),
        (400, "BadDeviceToken"),
        (400, "DeviceTokenNotForTopic"),
        (400, "TopicDisallowed"),
    }


def test_410_timestamp_becomes_invalid_since() -> None:
    """§4.1: the 410 body's timestamp is milliseconds since the epoch."""
    outcome = classify(410, {}, body("Unregistered", timestamp=1_777_777_777_123))
    assert outcome == Rejected(
        RejectReason.UNREGISTERED,
        "Unregistered",
        invalid_since=datetime.fromtimestamp(1_777_777_777.123, UTC),
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, Rejected(RejectReason.BAD_REQUEST, "Novel")),
        (403, Rejected(RejectReason.AUTH, "Novel")),
        (410, Rejected(RejectReason.UNREGISTERED, "Novel")),
        (429, Failed(True, "Novel")),
        (500, Failed(True, "Novel")),
        (504, Failed(True, "Novel")),
    ],
)
def test_unknown_reasons_follow_their_status_class(status: int, expected: object) -> None:
    """STYLE R3: unknown 429/5xx are retryable, unknown 4xx are not."""
    assert classify(status, {}, body("Novel")) == expected


def test_redirect_is_not_retried() -> None:
    """APNs never redirects; following one blindly would be wrong."""
    assert classify(302, {}, b"") == Failed(False, "unexpected HTTP 302")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("soon", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(header: str | None, expected: float | None) -> None:
    """RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date."""
    assert retry_after(header) == expected


def test_retry_after_http_date_counts_from_now() -> None:
    """An HTTP-date in the future is the seconds until then."""
    assert (
        retry_after(
            "Wed, 21 Oct 2015 07:28:30 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp()
        )
        == 30
    )


@given(status=st.integers(100, 599), raw=st.binary(max_size=200))
def test_any_answer_is_classified(status: int, raw: bytes) -> None:
    """Malformed bodies never escape as exceptions: every answer becomes an Outcome."""
    assert isinstance(classify(status, {}, raw), Delivered | Rejected | Failed)
