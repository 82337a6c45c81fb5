"""The FCM provider when the connection misbehaves: GOAWAY, drops, stalls, latency, no server.

Rules: reference/status-gorush-sygnal.md §4.2 (5xx, connection loss: retry with backoff),
§6.3 (a timeout on every request) and the provider's brief (issue 3): GOAWAY, dropped
connections, stalls and timeouts are retryable failures, within the timeout, and the
next send works on a fresh connection. The Dispatcher retries, never the provider.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushrelay.domain import Delivered, Failed
from pushrelay.providers.fcm import FcmProvider
from pushrelay.testing.fake_fcm import FakeFcm
from tests.providers.fcm_support import OTHER_TOKEN, TOKEN, fcm_provider, push_to

TIMEOUT = 0.5


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
async def fcm(fake_fcm: FakeFcm, tmp_path: Path) -> AsyncIterator[FcmProvider]:
    provider = fcm_provider(fake_fcm, tmp_path, timeout=TIMEOUT)
    assert isinstance(await provider.send(push_to(OTHER_TOKEN)), Delivered)  # connected, token cached
    yield provider
    await provider.aclose()


def is_retryable(outcome: object) -> bool:
    return isinstance(outcome, Failed) and outcome.retryable


async def test_goaway_is_retryable_and_the_next_send_reconnects(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """§4.2/brief: GOAWAY leaves the push unprocessed: a retryable failure (no service fault)."""
    fake_fcm.go_away(TOKEN)
    outcome = await fcm.send(push_to(TOKEN))
    assert isinstance(outcome, Failed) and outcome.retryable
    assert not outcome.service_fault  # a graceful GOAWAY is no outage: the breaker ignores it
    assert isinstance(await fcm.send(push_to(TOKEN)), Delivered)
    assert (fake_fcm.answers["goaway"], len(fake_fcm.deliveries_to(TOKEN))) == (1, 1)


async def test_dropped_connection_is_retryable_and_the_next_send_reconnects(
    fake_fcm: FakeFcm, fcm: FcmProvider
) -> None:
    """Brief: connection loss is retryable; the pool opens a new connection."""
    fake_fcm.drop(TOKEN)
    assert is_retryable(await fcm.send(push_to(TOKEN)))
    assert isinstance(await fcm.send(push_to(TOKEN)), Delivered)


async def test_drop_fails_every_push_in_flight_on_that_connection(
    fake_fcm: FakeFcm, fcm: FcmProvider
) -> None:
    """Brief: pushes in flight when the connection is cut fail retryably; none hangs."""
    fake_fcm.delay(0.3, OTHER_TOKEN)
    in_flight = [asyncio.create_task(fcm.send(push_to(OTHER_TOKEN))) for _ in range(20)]
    await asyncio.sleep(0.05)
    fake_fcm.drop(TOKEN)
    cut = await fcm.send(push_to(TOKEN))
    outcomes = await asyncio.gather(*in_flight)
    assert is_retryable(cut)
    assert all(is_retryable(outcome) for outcome in outcomes)


async def test_stall_is_retryable_within_the_timeout(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: a timeout on every request: a stalled stream fails at the timeout, retryably."""
    fake_fcm.stall(TOKEN, times=1)
    started = time.monotonic()
    outcome = await fcm.send(push_to(TOKEN))
    elapsed = time.monotonic() - started
    assert outcome == Failed(True, "timeout")
    assert TIMEOUT <= elapsed < TIMEOUT + 0.5
    assert isinstance(await fcm.send(push_to(TOKEN)), Delivered)


async def test_stalled_stream_does_not_block_others(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """HTTP/2: one stalled stream holds no one else up on the same connection."""
    fake_fcm.stall(TOKEN)
    stalled = asyncio.create_task(fcm.send(push_to(TOKEN)))
    others = await asyncio.gather(*(fcm.send(push_to(OTHER_TOKEN)) for _ in range(50)))
    assert all(isinstance(outcome, Delivered) for outcome in others)
    assert await stalled == Failed(True, "timeout")


async def test_slow_answer_past_the_timeout_is_retryable(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: latency beyond the timeout is a timeout; within it, a delivery."""
    fake_fcm.delay(TIMEOUT + 0.3, TOKEN, times=1)
    assert await fcm.send(push_to(TOKEN)) == Failed(True, "timeout")
    fake_fcm.delay(0.1, TOKEN, times=1)
    assert isinstance(await fcm.send(push_to(TOKEN)), Delivered)


async def test_unreachable_endpoint_is_retryable(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """§4.2: a service that cannot be reached now may be reached later."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    provider = fcm_provider(fake_fcm, tmp_path, endpoint=f"https://127.0.0.1:{port}", timeout=TIMEOUT)
    try:
        outcome = await provider.send(push_to())
    finally:
        await provider.aclose()
    assert isinstance(outcome, Failed) and outcome.retryable
    assert "ConnectFailed" in outcome.detail


async def test_untrusted_server_certificate_is_not_accepted(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """A server whose certificate the CA file does not vouch for gets no token and no push."""
    async with FakeFcm() as other:
        provider = fcm_provider(fake_fcm, tmp_path, ca_file=other.write_ca_file(tmp_path / "other-ca.pem"))
        try:
            outcome = await provider.send(push_to())
        finally:
            await provider.aclose()
    assert isinstance(outcome, Failed)
    assert (fake_fcm.oauth.requests, len(fake_fcm.deliveries)) == (0, 0)
