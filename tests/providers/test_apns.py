"""The APNs provider against the fake APNs over real HTTP/2 sockets on 127.0.0.1.

Rules: reference/status-gorush-sygnal.md §4.1 (Apple's provider API) and the provider's
brief (issue 3): one attempt per send, Apple's reason table, limits checked before sending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pushrelay.domain import Delivered, Failed, Outcome, Priority, PushType, Rejected, RejectReason
from pushrelay.providers.apns import ApnsProvider
from pushrelay.providers.apns_token import ProviderTokens
from pushrelay.testing.fake_apns import FakeApns
from tests.providers.apns_support import OTHER_TOKEN, TOKEN, TOPIC, push_to, token_settings

R = RejectReason
INVALID_SINCE = datetime(2026, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
async def fake_apns() -> AsyncIterator[FakeApns]:
    async with FakeApns() as fake:
        yield fake


@pytest.fixture
async def apns(fake_apns: FakeApns, tmp_path: Path) -> AsyncIterator[ApnsProvider]:
    provider = ApnsProvider(token_settings(fake_apns, tmp_path), tokens=ProviderTokens())
    yield provider
    await provider.aclose()


async def test_push_is_delivered_with_apples_headers(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """§4.1: POST /3/device/<token> with apns-topic, apns-push-type, apns-priority and apns-id."""
    push = push_to(TOKEN)
    assert await apns.send(push) == Delivered(provider_id=push.id)
    [delivery] = fake_apns.deliveries
    assert (delivery.token, delivery.topic, delivery.apns_id) == (TOKEN, TOPIC, push.id)
    assert delivery.headers == {
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-id": push.id,
    }
    assert delivery.payload == {"aps": {"alert": {"title": "Alice", "body": "New message"}}}


async def test_expiration_and_collapse_id_are_sent_as_headers(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: apns-expiration (Unix seconds) and apns-collapse-id."""
    await apns.send(push_to(expiration=1_900_000_000, collapse_id="chat-42"))
    headers = fake_apns.deliveries[0].headers
    assert (headers["apns-expiration"], headers["apns-collapse-id"]) == ("1900000000", "chat-42")


async def test_normal_priority_is_sent_as_5(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """§4.1: apns-priority 10 sends at once, 5 is power-aware."""
    await apns.send(push_to(priority=Priority.NORMAL))
    assert fake_apns.deliveries[0].headers["apns-priority"] == "5"


async def test_background_push_uses_priority_5_even_when_high(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: priority 10 is an error for content-available-only (background) pushes."""
    outcome = await apns.send(push_to(title=None, body=None, push_type=PushType.BACKGROUND))
    assert isinstance(outcome, Delivered)
    delivery = fake_apns.deliveries[0]
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("background", "5")
    assert delivery.payload == {"aps": {"content-available": 1}}


async def test_message_topic_overrides_the_configured_topic(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """Status registrations carry their own APNs topic (domain.Message.topic)."""
    await apns.send(push_to(topic=TOPIC + ".voip"))
    assert fake_apns.deliveries[0].topic == TOPIC + ".voip"


async def test_collapse_id_over_64_bytes_is_rejected_before_sending(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: a collapse id over 64 bytes is BadCollapseId; the provider does not ask APNs."""
    outcome = await apns.send(push_to(collapse_id="é" * 33))
    assert outcome == Rejected(R.BAD_REQUEST, "BadCollapseId")
    assert not fake_apns.answers


async def test_payload_over_4096_bytes_is_rejected_before_sending(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: payloads are limited to 4096 bytes."""
    outcome = await apns.send(push_to(data={"blob": "x" * 4096}))
    assert outcome == Rejected(R.PAYLOAD_TOO_LARGE, "PayloadTooLarge")
    assert not fake_apns.answers


async def test_voip_payload_may_reach_5120_bytes(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """§4.1: VoIP payloads are limited to 5120 bytes, not 4096."""
    fits = await apns.send(push_to(push_type=PushType.VOIP, data={"blob": "x" * 5000}))
    too_large = await apns.send(push_to(push_type=PushType.VOIP, data={"blob": "x" * 5100}))
    assert isinstance(fits, Delivered)
    assert fake_apns.deliveries[0].topic == TOPIC + ".voip"
    assert too_large == Rejected(R.PAYLOAD_TOO_LARGE, "PayloadTooLarge")


async def test_token_that_is_not_hex_is_rejected_before_sending(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """Device tokens are hex; anything else is a dead token and must not reach the request path."""
    assert await apns.send(push_to("../../3/x?y")) == Rejected(R.BAD_TOKEN, "BadDeviceToken")
    assert not fake_apns.answers


APPLE_ANSWERS: list[tuple[int, str, Outcome]] = [
    (400, "BadCollapseId", Rejected(R.BAD_REQUEST, "BadCollapseId")),
    (400, "BadDeviceToken", Rejected(R.BAD_TOKEN, "BadDeviceToken")),
    (400, "BadExpirationDate", Rejected(R.BAD_REQUEST, "BadExpirationDate")),
    (400, "BadMessageId", Rejected(R.BAD_REQUEST, "BadMessageId")),
    (400, "BadPriority", Rejected(R.BAD_REQUEST, "BadPriority")),
    (400, "BadTopic", Rejected(R.BAD_REQUEST, "BadTopic")),
    (400, "DeviceTokenNotForTopic", Rejected(R.TOKEN_NOT_FOR_TOPIC, "DeviceTokenNotForTopic")),
    (400, "DuplicateHeaders", Rejected(R.BAD_REQUEST, "DuplicateHeaders")),
    (400, "IdleTimeout", Failed(True, "IdleTimeout")),
    (400, "InvalidPushType", Rejected(R.BAD_REQUEST, "InvalidPushType")),
    (400, "MissingDeviceToken", Rejected(R.BAD_REQUEST, "MissingDeviceToken")),
    (400, "MissingTopic", Rejected(R.BAD_REQUEST, "MissingTopic")),
    (400, "PayloadEmpty", Rejected(R.BAD_REQUEST, "PayloadEmpty")),
    (400, "TopicDisallowed", Rejected(R.TOPIC_DISALLOWED, "TopicDisallowed")),
    (403, "BadCertificate", Rejected(R.AUTH, "BadCertificate")),
    (403, "BadCertificateEnvironment", Rejected(R.AUTH, "BadCertificateEnvironment")),
    (403, "ExpiredProviderToken", Rejected(R.AUTH, "ExpiredProviderToken")),
    (403, "Forbidden", Rejected(R.AUTH, "Forbidden")),
    (403, "InvalidProviderToken", Rejected(R.AUTH, "InvalidProviderToken")),
    (403, "MissingProviderToken", Rejected(R.AUTH, "MissingProviderToken")),
    (404, "BadPath", Rejected(R.BAD_REQUEST, "BadPath")),
    (405, "MethodNotAllowed", Rejected(R.BAD_REQUEST, "MethodNotAllowed")),
    (410, "ExpiredToken", Rejected(R.UNREGISTERED, "ExpiredToken")),
    (410, "Unregistered", Rejected(R.UNREGISTERED, "Unregistered")),
    (413, "PayloadTooLarge", Rejected(R.PAYLOAD_TOO_LARGE, "PayloadTooLarge")),
    (429, "TooManyProviderTokenUpdates", Failed(True, "TooManyProviderTokenUpdates")),
    (429, "TooManyRequests", Failed(True, "TooManyRequests", service_fault=False)),
    (500, "InternalServerError", Failed(True, "InternalServerError")),
    (503, "ServiceUnavailable", Failed(True, "ServiceUnavailable")),
    (503, "Shutdown", Failed(True, "Shutdown")),
    (418, "SomethingNew", Rejected(R.BAD_REQUEST, "SomethingNew")),
    (502, "", Failed(True, "HTTP 502")),
]


@pytest.mark.parametrize(("status", "reason", "expected"), APPLE_ANSWERS, ids=lambda v: str(v)[:30])
async def test_apns_answer_becomes_the_documented_outcome(
    fake_apns: FakeApns, apns: ApnsProvider, status: int, reason: str, expected: Outcome
) -> None:
    """§4.1 status/reason table (STYLE R3, R15): dead tokens, auth, bad requests, retryable answers."""
    fake_apns.answer(TOKEN, status, reason)
    assert await apns.send(push_to(TOKEN)) == expected


async def test_unregistered_token_carries_its_invalid_since_timestamp(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: 410 carries when APNs last confirmed the token invalid, in ms since the epoch."""
    fake_apns.unregister(TOKEN, since=INVALID_SINCE.timestamp())
    outcome = await apns.send(push_to(TOKEN))
    assert outcome == Rejected(R.UNREGISTERED, "Unregistered", invalid_since=INVALID_SINCE)
    assert outcome.is_token_dead


@pytest.mark.parametrize(("status", "reason"), [(503, "ServiceUnavailable"), (429, "TooManyRequests")])
async def test_retry_after_header_becomes_retry_after(
    fake_apns: FakeApns, apns: ApnsProvider, status: int, reason: str
) -> None:
    """R4: the Dispatcher honours Retry-After, so the provider passes it on."""
    fake_apns.answer(TOKEN, status, reason, retry_after=7)
    outcome = await apns.send(push_to(TOKEN))
    assert isinstance(outcome, Failed) and (outcome.retryable, outcome.retry_after) == (True, 7.0)


async def test_one_send_is_one_attempt(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """domain.Provider: exactly one attempt per send; the Dispatcher retries."""
    fake_apns.answer(TOKEN, 500, "InternalServerError", times=1)
    first, second = await apns.send(push_to(TOKEN)), await apns.send(push_to(TOKEN))
    assert (isinstance(first, Failed), isinstance(second, Delivered)) == (True, True)
    assert fake_apns.answers == {"500 InternalServerError": 1, "200": 1}


async def test_connection_carries_one_stream_until_a_token_is_accepted(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: APNs allows one stream until a request with a valid token; then up to 1000."""
    fake_apns.latency = 0.02
    outcomes = await asyncio.gather(*(apns.send(push_to(TOKEN)) for _ in range(30)))
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert fake_apns.server.protocol_errors == 0
    assert len(apns.pool.connections) == 1
    assert fake_apns.peak_open_streams > 1  # widened once the first push was accepted


async def test_connection_stays_at_one_stream_while_the_token_is_refused(
    fake_apns: FakeApns, tmp_path: Path
) -> None:
    """§4.1: with a token APNs refuses, the connection never carries more than one stream."""
    settings = token_settings(fake_apns, tmp_path)
    other = FakeApns()  # its key is not the one the fake knows
    key_file = tmp_path / "wrong.p8"
    key_file.write_bytes(other.new_signing_key())
    provider = ApnsProvider(settings.model_copy(update={"key_file": key_file}), tokens=ProviderTokens())
    try:
        outcomes = await asyncio.gather(*(provider.send(push_to(TOKEN)) for _ in range(10)))
    finally:
        await provider.aclose()
    assert set(outcomes) == {Rejected(R.AUTH, "InvalidProviderToken")}
    assert (fake_apns.server.protocol_errors, fake_apns.peak_open_streams) == (0, 1)


async def test_goaway_fails_the_push_as_retryable_and_the_next_uses_a_new_connection(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """§4.1: APNs may end a connection with GOAWAY; the push was not processed: retry it."""
    await apns.send(push_to(TOKEN))
    fake_apns.go_away(TOKEN)
    outcome = await apns.send(push_to(TOKEN))
    assert isinstance(outcome, Failed) and outcome.retryable and "GoAway" in outcome.detail
    assert isinstance(await apns.send(push_to(TOKEN)), Delivered)
    assert len(fake_apns.deliveries) == 2


async def test_graceful_goaway_lets_pushes_in_flight_finish(fake_apns: FakeApns, apns: ApnsProvider) -> None:
    """RFC 9113 §6.8: streams up to the GOAWAY's last stream id are still answered."""
    await apns.send(push_to(TOKEN))
    fake_apns.delay(0.2)
    in_flight = [asyncio.create_task(apns.send(push_to(TOKEN))) for _ in range(5)]
    await asyncio.sleep(0.05)
    fake_apns.server.go_away()
    assert all(isinstance(o, Delivered) for o in await asyncio.gather(*in_flight))


async def test_dropped_connection_fails_the_push_as_retryable(
    fake_apns: FakeApns, apns: ApnsProvider
) -> None:
    """Connection loss says nothing about the push: retryable."""
    fake_apns.drop(TOKEN)
    outcome = await apns.send(push_to(TOKEN))
    assert isinstance(outcome, Failed) and outcome.retryable and "ConnectionLost" in outcome.detail
    assert isinstance(await apns.send(push_to(TOKEN)), Delivered)


async def test_stalled_push_fails_as_retryable_within_the_request_timeout(
    fake_apns: FakeApns, tmp_path: Path
) -> None:
    """Every request has a timeout; a stalled stream is reset and the connection keeps working."""
    provider = ApnsProvider(token_settings(fake_apns, tmp_path, timeout=0.3), tokens=ProviderTokens())
    try:
        await provider.send(push_to(OTHER_TOKEN))
        fake_apns.stall(TOKEN)
        started = time.monotonic()
        outcome = await provider.send(push_to(TOKEN))
        assert time.monotonic() - started < 1.0
        assert outcome == Failed(True, "timeout")
        assert isinstance(await provider.send(push_to(OTHER_TOKEN)), Delivered)
        assert len(provider.pool.connections) == 1
    finally:
        await provider.aclose()


async def test_unreachable_endpoint_fails_as_retryable(fake_apns: FakeApns, tmp_path: Path) -> None:
    """Nothing listening: the push did not go out, retry later."""
    settings = token_settings(fake_apns, tmp_path, endpoint="https://127.0.0.1:9")
    provider = ApnsProvider(settings, tokens=ProviderTokens())
    try:
        outcome = await provider.send(push_to(TOKEN))
    finally:
        await provider.aclose()
    assert isinstance(outcome, Failed) and outcome.retryable and "ConnectFailed" in outcome.detail


async def test_silent_connection_is_pinged_and_dropped_when_it_does_not_answer(
    fake_apns: FakeApns, tmp_path: Path
) -> None:
    """Health pings: a connection whose PING goes unanswered is closed, not kept for new pushes."""
    provider = ApnsProvider(token_settings(fake_apns, tmp_path, ping_interval=0.1), tokens=ProviderTokens())
    try:
        await provider.send(push_to(TOKEN))
        await asyncio.sleep(0.3)
        assert len(provider.pool.connections) == 1  # answered pings keep it
        for connection in list(fake_apns.server.connections):
            connection.freeze()
        await asyncio.sleep(0.5)
        assert provider.pool.connections == []
        assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
    finally:
        await provider.aclose()


async def test_certificate_auth_sends_no_token(fake_apns: FakeApns, tmp_path: Path) -> None:
    """§4.1: certificate-based connections authenticate by TLS client certificate."""
    cert_file = fake_apns.issue_client_certificate(TOPIC).write_pem(tmp_path / "push.pem")
    base = token_settings(fake_apns, tmp_path)
    settings = base.model_copy(
        update={"team_id": None, "key_id": None, "key_file": None, "cert_file": cert_file}
    )
    provider = ApnsProvider(settings, tokens=ProviderTokens())
    try:
        assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
    finally:
        await provider.aclose()
    assert "authorization" not in fake_apns.deliveries[0].headers


async def test_certificate_auth_reads_a_pkcs12_bundle_with_its_password(
    fake_apns: FakeApns, tmp_path: Path
) -> None:
    """Push certificates are exported from Keychain as password-protected .p12 files."""
    bundle = tmp_path / "push.p12"
    bundle.write_bytes(fake_apns.issue_client_certificate(TOPIC).to_pkcs12(b"s3cret"))
    base = token_settings(fake_apns, tmp_path)
    settings = base.model_copy(update={"team_id": None, "key_id": None, "key_file": None})
    settings = settings.model_copy(update={"cert_file": bundle, "cert_password": "s3cret"})
    provider = ApnsProvider(settings, tokens=ProviderTokens())
    try:
        assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
    finally:
        await provider.aclose()


async def test_certificate_for_another_topic_is_rejected(fake_apns: FakeApns, tmp_path: Path) -> None:
    """Pushy TLS handler: a certificate may push to its own bundle id only (BadTopic)."""
    cert_file = fake_apns.issue_client_certificate("org.example.other").write_pem(tmp_path / "push.pem")
    base = token_settings(fake_apns, tmp_path)
    settings = base.model_copy(
        update={"team_id": None, "key_id": None, "key_file": None, "cert_file": cert_file}
    )
    provider = ApnsProvider(settings, tokens=ProviderTokens())
    try:
        assert await provider.send(push_to(TOKEN)) == Rejected(R.BAD_REQUEST, "BadTopic")
    finally:
        await provider.aclose()
