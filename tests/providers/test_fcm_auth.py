"""The FCM provider's OAuth access token, against the fake FCM's token endpoint over real sockets.

Rules: reference/status-gorush-sygnal.md §4.2 (service-account JWT-bearer grant: iss,
aud = token_uri, scope, exp ≤ iat + 3600; cache and refresh before expiry) and the
provider's brief (issue 3): never a refresh per request, concurrent sends share one
refresh, the file's token_uri honoured, a 401 for an expired token → renew once, retry once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from pushrelay.domain import Delivered, Failed, Rejected, RejectReason
from pushrelay.providers.fcm import FcmProvider
from pushrelay.providers.fcm_auth import FCM_SCOPE, ServiceAccount
from pushrelay.testing.fake_fcm import FakeFcm
from tests.providers.fcm_support import TOKEN, ManualClock, fcm_provider, fcm_settings, push_to


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fcm(fake_fcm: FakeFcm, tmp_path: Path, clock: ManualClock) -> AsyncIterator[FcmProvider]:
    provider = fcm_provider(fake_fcm, tmp_path, clock)
    yield provider
    await provider.aclose()


def test_assertion_carries_the_claims_google_checks(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """§4.2: RS256 with the account's key (kid = private_key_id); iss, aud = token_uri, scope, 1 h."""
    path = fake_fcm.write_service_account(tmp_path / "sa.json")
    account = ServiceAccount.from_file(path)
    expected = fake_fcm.service_account
    token = account.assertion(now=1_800_000_000.7)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        expected.private_key.public_key(),
        algorithms=["RS256"],
        audience=fake_fcm.token_uri,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert (header["alg"], header["kid"]) == ("RS256", expected.private_key_id)
    assert claims == {
        "iss": expected.client_email,
        "aud": fake_fcm.token_uri,
        "scope": FCM_SCOPE,
        "iat": 1_800_000_000,
        "exp": 1_800_003_600,
    }


async def test_access_token_is_cached_across_sends(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: never a refresh per request."""
    for _ in range(20):
        assert isinstance(await fcm.send(push_to()), Delivered)
    assert (fake_fcm.oauth.requests, len(fake_fcm.deliveries)) == (1, 20)


async def test_concurrent_first_sends_share_one_token_request(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: concurrent sends share one refresh."""
    outcomes = await asyncio.gather(*(fcm.send(push_to()) for _ in range(200)))
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert fake_fcm.oauth.requests == 1


async def test_token_is_renewed_five_minutes_before_it_expires(
    fake_fcm: FakeFcm, fcm: FcmProvider, clock: ManualClock
) -> None:
    """§4.2: refresh before expiry: a 3599 s token is renewed once less than 5 minutes are left."""
    await fcm.send(push_to())
    clock.advance(3599 - 300 - 1)
    await fcm.send(push_to())
    assert fake_fcm.oauth.requests == 1
    clock.advance(2)
    await asyncio.gather(*(fcm.send(push_to()) for _ in range(50)))
    assert (fake_fcm.oauth.requests, fake_fcm.answers["401 UNAUTHENTICATED"]) == (2, 0)


async def test_short_lived_token_is_renewed_at_half_its_life(
    fake_fcm: FakeFcm, fcm: FcmProvider, clock: ManualClock
) -> None:
    """Brief: short-lived tokens from the fake: renewed when half their lifetime is left."""
    fake_fcm.oauth.access_token_lifetime = 60
    await fcm.send(push_to())
    clock.advance(29)
    await fcm.send(push_to())
    clock.advance(2)
    await fcm.send(push_to())
    assert fake_fcm.oauth.requests == 2


async def test_expired_access_token_is_renewed_once_and_the_push_retried(
    fake_fcm: FakeFcm, fcm: FcmProvider
) -> None:
    """Brief: a 401 for an expired access token → refresh once and retry once."""
    await fcm.send(push_to())
    fake_fcm.expire_access_tokens()
    outcomes = await asyncio.gather(*(fcm.send(push_to()) for _ in range(20)))
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert fake_fcm.oauth.requests == 2
    assert fake_fcm.answers["401 UNAUTHENTICATED"] == 20
    assert len(fake_fcm.deliveries) == 21


async def test_access_token_refused_again_is_not_retried_again(fake_fcm: FakeFcm, fcm: FcmProvider) -> None:
    """Brief: exactly one retry: a fresh token refused as well is an auth rejection, not a loop."""
    fake_fcm.oauth.access_token_lifetime = 0  # every token is expired when issued
    outcome = await fcm.send(push_to())
    assert outcome == Rejected(RejectReason.AUTH, "UNAUTHENTICATED")
    assert (fake_fcm.oauth.requests, fake_fcm.answers["401 UNAUTHENTICATED"]) == (2, 2)


async def test_failing_token_endpoint_is_a_retryable_failure_asked_once_per_delay(
    fake_fcm: FakeFcm, fcm: FcmProvider, clock: ManualClock
) -> None:
    """§4.2 (5xx: back off): a failed renewal is remembered for a while, not retried per push."""
    fake_fcm.fail_token_requests(503, times=1)
    outcome = await fcm.send(push_to())
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.retry_after == pytest.approx(0.2)
    again = await asyncio.gather(*(fcm.send(push_to()) for _ in range(10)))
    assert all(isinstance(o, Failed) and o.retryable for o in again)
    assert fake_fcm.oauth.requests == 1
    clock.advance(0.2)
    assert isinstance(await fcm.send(push_to()), Delivered)
    assert fake_fcm.oauth.requests == 2


async def test_delay_between_token_requests_grows_while_the_endpoint_fails(
    fake_fcm: FakeFcm, fcm: FcmProvider, clock: ManualClock
) -> None:
    """§4.2: a 429 from the token endpoint is retryable; the next request waits longer each time."""
    fake_fcm.fail_token_requests(429, error="rate_limit_exceeded", times=None)
    first = await fcm.send(push_to())
    clock.advance(0.3)
    second = await fcm.send(push_to())
    assert isinstance(first, Failed) and isinstance(second, Failed) and second.retryable
    assert fake_fcm.oauth.requests == 2  # delays grow: 0.2 s, then 0.4 s
    clock.advance(0.3)
    await fcm.send(push_to())
    assert fake_fcm.oauth.requests == 2


async def test_token_still_valid_is_used_while_renewal_fails(
    fake_fcm: FakeFcm, fcm: FcmProvider, clock: ManualClock
) -> None:
    """A renewal that fails in the last five minutes does not stop pushes: the old token still works."""
    await fcm.send(push_to())
    clock.advance(3400)
    fake_fcm.fail_token_requests(503, times=None)
    assert isinstance(await fcm.send(push_to()), Delivered)
    assert fake_fcm.oauth.requests == 2


async def test_refused_credentials_are_an_auth_rejection(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """§4.2: invalid_grant (a key the endpoint does not trust) will not pass on retry."""
    settings = fcm_settings(fake_fcm, tmp_path)
    fake_fcm.write_service_account(settings.service_account_file, fake_fcm.new_service_account(trusted=False))
    provider = FcmProvider(settings)
    try:
        outcome = await provider.send(push_to())
    finally:
        await provider.aclose()
    assert outcome == Rejected(RejectReason.AUTH, "token endpoint: HTTP 400 invalid_grant")


async def test_stalled_token_endpoint_fails_within_the_timeout(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    """Brief: a timeout on every request, the token request included."""
    fake_fcm.fail_token_requests(status=0, times=1)
    provider = fcm_provider(fake_fcm, tmp_path, timeout=0.3)
    try:
        started = time.monotonic()
        outcome = await provider.send(push_to())
        elapsed = time.monotonic() - started
        assert outcome == Failed(True, "timeout")
        assert elapsed < 1.0
        assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
    finally:
        await provider.aclose()
