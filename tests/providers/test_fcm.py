"""The FCM provider against the fake FCM over real HTTP/2 sockets on 127.0.0.1: rendering and errors.

Rules: reference/status-gorush-sygnal.md §4.2 (FCM HTTP v1: the message, its error codes
and FCM's retry guidance) and the provider's brief (issue 3): `data` values as strings,
`notification` for alerts with a title or body, `android.priority`/`ttl`/`collapse_key`,
`Message.android` merged last, `Message.topic` ignored, FCM's error table, one attempt.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pushrelay.config import FcmSettings
from pushrelay.domain import Delivered, Failed, Outcome, Priority, PushType, Rejected, RejectReason
from pushrelay.errors import ConfigError
from pushrelay.providers.fcm import FcmProvider
from pushrelay.testing.fake_fcm import FakeFcm
from pushrelay.testing.fake_fcm_oauth import new_service_account
from pushrelay.testing.fake_fcm_schema import BAD_TOKEN_MESSAGE
from tests.providers.fcm_support import OTHER_TOKEN, TOKEN, ManualClock, fcm_provider, fcm_settings, push_to

R = RejectReason


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
async def fcm(fake_fcm: FakeFcm, tmp_path: Path) -> AsyncIterator[FcmProvider]:
    provider = fcm_provider(fake_fcm, tmp_path)
    yield provider
    await provider.aclose()


async def delivered_message(fake: FakeFcm, fcm: FcmProvider, **message: Any) -> dict[str, Any]:
    """Send `push_to(TOKEN, **message)` and return the `message` object the fake accepted."""
    outcome = await fcm.send(push_to(TOKEN, **message))
    assert isinstance(outcome, Delivered), outcome
    [delivery] = fake.deliveries_to(TOKEN)
    return delivery.message


# rendering


async def test_alert_is_sent_as_notification_with_high_priority(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: POST /v1/projects/{project}/messages:send; notification {title, body}; android.priority."""
    outcome = await fcm.send(push_to(TOKEN))
    [delivery] = fake_fcm.deliveries
    assert outcome == Delivered(provider_id=f"projects/pushrelay-fake/messages/{delivery.message_id}")
    assert delivery.message == {
        "token": TOKEN,
        "notification": {"title": "Alice", "body": "New message"},
        "android": {"priority": "high"},
    }


async def test_data_values_are_sent_as_strings(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: data is a map of strings; non-strings are JSON-encoded (as Sygnal stringifies counts)."""
    data = {"s": "text", "n": 3, "f": 1.5, "b": True, "none": None, "obj": {"a": [1, "é"]}}
    message = await delivered_message(fake_fcm, fcm, data=data)
    assert message["data"] == {
        "s": "text",
        "n": "3",
        "f": "1.5",
        "b": "true",
        "none": "null",
        "obj": '{"a":[1,"é"]}',
    }


async def test_push_without_title_or_body_is_data_only(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: notification only for alert pushes with a title or body; others wake the app silently."""
    message = await delivered_message(fake_fcm, fcm, title=None, body=None, data={"k": "v"})
    assert "notification" not in message
    assert message["data"] == {"k": "v"}


async def test_background_push_is_data_only(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """domain.PushType: FCM maps alert to a notification and the rest to data-only."""
    message = await delivered_message(fake_fcm, fcm, push_type=PushType.BACKGROUND, priority=Priority.NORMAL)
    assert "notification" not in message
    assert message["android"] == {"priority": "normal"}


async def test_title_alone_is_a_notification(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: a title or a body is enough for a notification; empty fields are left out."""
    message = await delivered_message(fake_fcm, fcm, body=None)
    assert message["notification"] == {"title": "Alice"}


async def test_expiration_becomes_ttl_and_collapse_id_collapse_key(
    fake_fcm: FakeFcm, fcm: FcmProvider
) -> None:
    """§4.2: android.ttl ("3600s") is the time left until expiration; collapse_key from collapse_id."""
    message = await delivered_message(
        fake_fcm, fcm, expiration=int(time.time()) + 3600, collapse_id="chat-42"
    )
    ttl = int(message["android"]["ttl"].removesuffix("s"))
    assert 3595 <= ttl <= 3600
    assert message["android"]["collapse_key"] == "chat-42"


@pytest.mark.parametrize("expiration", [0, 1_000_000_000], ids=["now-or-never", "past"])
async def test_expiration_now_or_past_is_ttl_zero(
    fake_fcm: FakeFcm, fcm: FcmProvider, expiration: int
) -> None:
    """domain.Message.expiration: 0 means now or never; FCM's ttl 0s means the same."""
    message = await delivered_message(fake_fcm, fcm, expiration=expiration)
    assert message["android"]["ttl"] == "0s"


async def test_android_overrides_are_merged_last(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """domain.Message: `android` is merged last, object by object, so protocols can set any field."""
    android = {"priority": "normal", "notification": {"channel_id": "calls"}, "direct_boot_ok": True}
    message = await delivered_message(fake_fcm, fcm, collapse_id="c", android=android)
    assert message["android"] == {
        "priority": "normal",
        "collapse_key": "c",
        "notification": {"channel_id": "calls"},
        "direct_boot_ok": True,
    }


async def test_apns_topic_is_ignored(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: Status sends its APNs topic for both platforms; an FCM message has no such field."""
    message = await delivered_message(fake_fcm, fcm, topic="im.status.ethereum")
    assert "topic" not in message
    assert message["token"] == TOKEN


async def test_oversized_data_is_refused_before_sending(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: at most 4096 bytes of data (keys and values); the provider refuses more itself."""
    outcome = await fcm.send(push_to(data={"blob": "x" * 4096}))
    assert isinstance(outcome, Rejected) and outcome.reason is R.PAYLOAD_TOO_LARGE
    assert sum(fake_fcm.answers.values()) == 0


# FCM's error table (R3, R15): each row against the fake's real error body

QUOTA_EXCEEDED_NO_HINT = ("QUOTA_EXCEEDED", None, None, Failed(True, "QUOTA_EXCEEDED", 60.0))
FCM_ERROR_CASES: list[tuple[str, str | None, float | None, Outcome]] = [
    ("UNREGISTERED", None, None, Rejected(R.UNREGISTERED, "UNREGISTERED")),
    ("INVALID_ARGUMENT", BAD_TOKEN_MESSAGE, None, Rejected(R.BAD_TOKEN, "INVALID_ARGUMENT")),
    (
        "INVALID_ARGUMENT",
        "Invalid data payload key: gcm.x",
        None,
        Rejected(R.BAD_REQUEST, "INVALID_ARGUMENT"),
    ),
    QUOTA_EXCEEDED_NO_HINT,
    ("QUOTA_EXCEEDED", None, 5, Failed(True, "QUOTA_EXCEEDED", 60.0)),
    ("QUOTA_EXCEEDED", None, 120, Failed(True, "QUOTA_EXCEEDED", 120.0)),
    ("UNAVAILABLE", None, None, Failed(True, "UNAVAILABLE")),
    ("UNAVAILABLE", None, 7, Failed(True, "UNAVAILABLE", 7.0)),
    ("INTERNAL", None, None, Failed(True, "INTERNAL")),
    ("INTERNAL", None, 3, Failed(True, "INTERNAL", 3.0)),
    ("UNSPECIFIED_ERROR", None, None, Failed(True, "UNSPECIFIED_ERROR")),
    ("SENDER_ID_MISMATCH", None, None, Rejected(R.AUTH, "SENDER_ID_MISMATCH")),
    ("THIRD_PARTY_AUTH_ERROR", None, None, Rejected(R.AUTH, "THIRD_PARTY_AUTH_ERROR")),
]


@pytest.mark.parametrize(
    ("error_code", "message", "retry_after", "expected"),
    FCM_ERROR_CASES,
    ids=[f"{code}-{hint}-{type(out).__name__}" for code, _, hint, out in FCM_ERROR_CASES],
)
async def test_fcm_error_is_classified(
    fake_fcm: FakeFcm,
    fcm: FcmProvider,
    error_code: str,
    message: str | None,
    retry_after: float | None,
    expected: Outcome,
) -> None:
    """§4.2: by details[].errorCode; QUOTA_EXCEEDED waits ≥ 60 s; 5xx honour Retry-After (one attempt)."""
    fake_fcm.answer(TOKEN, error_code, retry_after=retry_after, message=message)
    assert await fcm.send(push_to(TOKEN)) == expected
    assert sum(count for answer, count in fake_fcm.answers.items() if not answer.startswith("token")) == 1


async def test_schema_refusal_is_a_bad_request(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: INVALID_ARGUMENT not about the token (here a TTL FCM cannot parse) is a bad request."""
    outcome = await fcm.send(push_to(android={"ttl": "forever"}))
    assert outcome == Rejected(R.BAD_REQUEST, "INVALID_ARGUMENT")


async def test_malformed_token_is_a_bad_token(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: FCM refuses a token that is not a registration token with INVALID_ARGUMENT about it."""
    assert await fcm.send(push_to("not a token")) == Rejected(R.BAD_TOKEN, "INVALID_ARGUMENT")


async def test_unregistered_token_is_rejected(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2: UNREGISTERED (404) means the token is dead; other tokens are unaffected."""
    fake_fcm.unregister(TOKEN)
    outcome = await fcm.send(push_to(TOKEN))
    assert isinstance(outcome, Rejected) and outcome.is_token_dead
    assert isinstance(await fcm.send(push_to(OTHER_TOKEN)), Delivered)


async def test_third_party_auth_error_does_not_renew_the_access_token(
    fake_fcm: FakeFcm, fcm: FcmProvider
) -> None:
    """§4.2: THIRD_PARTY_AUTH_ERROR is a 401 about APNs/web push credentials, not our access token."""
    fake_fcm.answer(TOKEN, "THIRD_PARTY_AUTH_ERROR")
    await fcm.send(push_to(TOKEN))
    assert (fake_fcm.oauth.requests, fake_fcm.answers["401 THIRD_PARTY_AUTH_ERROR"]) == (1, 1)


async def test_wrong_project_is_an_auth_rejection(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """§4.2: a 403 without an FCM error code (the project is not the account's) is a credentials problem."""
    settings = fcm_settings(fake_fcm, tmp_path)
    info = json.loads(settings.service_account_file.read_text())
    settings.service_account_file.write_text(json.dumps(info | {"project_id": "another-project"}))
    provider = FcmProvider(settings)
    try:
        assert await provider.send(push_to()) == Rejected(R.AUTH, "PERMISSION_DENIED")
    finally:
        await provider.aclose()


# configuration and privacy


def test_unreadable_service_account_file_names_the_key(tmp_path: Path) -> None:
    """STYLE R8: a configuration error names the key it is about."""
    path = tmp_path / "sa.json"
    path.write_text('{"type": "service_account", "project_id": "p"}')
    with pytest.raises(ConfigError, match=r"fcm\.service_account_file: missing client_email, token_uri"):
        FcmProvider(FcmSettings(service_account_file=path))


def test_endpoint_must_be_https(tmp_path: Path) -> None:
    """STYLE R8: FCM is HTTPS only."""
    path = new_service_account("p", "https://127.0.0.1:1/token").write(tmp_path / "sa.json")
    with pytest.raises(ConfigError, match=r"fcm\.endpoint"):
        FcmProvider(FcmSettings(service_account_file=path, endpoint="http://127.0.0.1:1"))


async def test_tokens_never_reach_the_logs(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """STYLE R12: neither device tokens nor access tokens are logged, even when things fail."""
    clock = ManualClock()
    fcm = fcm_provider(fake_fcm, tmp_path, clock)
    fake_fcm.fail_token_requests(503, times=1)
    with capture_logs() as logs:
        await fcm.send(push_to(TOKEN))
        clock.advance(10)
        await fcm.send(push_to(TOKEN))
        fake_fcm.answer(TOKEN, "UNREGISTERED")
        await fcm.send(push_to(TOKEN))
    await fcm.aclose()
    assert {entry["event"] for entry in logs} >= {"access_token.failed", "access_token.renewed"}
    text = repr(logs)
    assert TOKEN not in text and "ya29." not in text
