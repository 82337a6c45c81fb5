"""APNs provider tokens: one shared ES256 JWT per (team, key), refreshed between 20 and 60 minutes.

Rules: reference/status-gorush-sygnal.md §4.1 (Apple: refresh no more than once every 20
minutes and no less than once every 60; older than an hour is ExpiredProviderToken) and §6
item 6 (share one token per team and key, re-mint once on ExpiredProviderToken).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest

from pushrelay.domain import Delivered, Rejected, RejectReason
from pushrelay.providers.apns import ApnsProvider
from pushrelay.providers.apns_token import MIN_REMINT_AGE, REFRESH_AFTER, ProviderTokens, ProviderTokenSigner
from pushrelay.testing.fake_apns import FakeApns
from tests.providers.apns_support import KEY_ID, TEAM_ID, TOKEN, ManualClock, push_to, token_settings

MINUTE = 60


def signer_for(fake: FakeApns, clock: ManualClock) -> ProviderTokenSigner:
    key_pem = fake.new_signing_key(KEY_ID, TEAM_ID)
    return ProviderTokens().signer(TEAM_ID, KEY_ID, key_pem, clock)


def test_token_is_an_es256_jwt_naming_the_key_and_the_team() -> None:
    """§4.1: header {alg: ES256, kid}, claims {iss: team id, iat: Unix seconds}."""
    clock = ManualClock(1_800_000_000.7)
    token = signer_for(FakeApns(), clock).current()
    scheme, _, encoded = token.authorization.decode().partition(" ")
    assert (scheme, jwt.get_unverified_header(encoded)) == (
        "bearer",
        {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"},
    )
    claims = jwt.decode(encoded, options={"verify_signature": False})
    assert claims == {"iss": TEAM_ID, "iat": 1_800_000_000}


def test_token_is_kept_until_it_is_45_minutes_old_then_refreshed() -> None:
    """§4.1 and §6: refresh every 40 to 50 minutes, well before APNs' one hour."""
    clock = ManualClock()
    signer = signer_for(FakeApns(), clock)
    first = signer.current()
    clock.advance(REFRESH_AFTER - 1)
    assert signer.current() is first
    clock.advance(1)
    assert signer.current() is not first
    assert signer.minted == 2
    assert 40 * MINUTE <= REFRESH_AFTER <= 50 * MINUTE


def test_expired_token_younger_than_20_minutes_is_not_reminted() -> None:
    """§4.1: updating the token more often than every 20 minutes earns TooManyProviderTokenUpdates."""
    clock = ManualClock()
    signer = signer_for(FakeApns(), clock)
    token = signer.current()
    clock.advance(MIN_REMINT_AGE - 1)
    assert signer.expired(token) is None
    clock.advance(1)
    assert signer.expired(token) is not None
    assert signer.minted == 2


def test_token_already_replaced_is_not_reminted_again() -> None:
    """§6: a thousand pushes answered ExpiredProviderToken at once cause one new token, not a thousand."""
    clock = ManualClock()
    signer = signer_for(FakeApns(), clock)
    stale = signer.current()
    clock.advance(30 * MINUTE)
    fresh = signer.expired(stale)
    assert [signer.expired(stale) for _ in range(3)] == [fresh] * 3
    assert signer.minted == 2


def test_signer_is_shared_by_team_key_id_and_key() -> None:
    """§4.1 (gorush #512): every provider instance in the process shares one token per key."""
    tokens, clock, fake = ProviderTokens(), ManualClock(), FakeApns()
    key_pem = fake.new_signing_key(KEY_ID, TEAM_ID)
    assert tokens.signer(TEAM_ID, KEY_ID, key_pem, clock) is tokens.signer(TEAM_ID, KEY_ID, key_pem, clock)
    assert tokens.signer(TEAM_ID, KEY_ID, key_pem, clock) is not tokens.signer(
        "TEAM999999", KEY_ID, key_pem, clock
    )


async def test_every_connection_and_provider_instance_sends_the_same_token(tmp_path: Path) -> None:
    """§4.1: one token per (team, key) across connections and instances; APNs sees no updates."""
    tokens = ProviderTokens()
    async with FakeApns(max_concurrent_streams=2) as fake:
        settings = token_settings(fake, tmp_path, max_connections=3)
        providers = [ApnsProvider(settings, tokens=tokens) for _ in range(2)]
        fake.latency = 0.02
        try:
            outcomes = await asyncio.gather(*(p.send(push_to(TOKEN)) for p in providers for _ in range(12)))
            connections = sum(len(p.pool.connections) for p in providers)
        finally:
            for provider in providers:
                await provider.aclose()
    assert all(isinstance(o, Delivered) for o in outcomes)
    assert connections >= 4
    assert fake.answers == {"200": 24}
    assert settings.key_file is not None
    assert tokens.signer(TEAM_ID, KEY_ID, settings.key_file.read_bytes(), ManualClock()).minted == 1


async def test_expired_provider_token_is_reminted_once_and_the_push_retried(tmp_path: Path) -> None:
    """§6 item 6: on 403 ExpiredProviderToken, mint a new token and retry once."""
    clock = ManualClock()
    skew = [0.0]
    async with FakeApns(clock=lambda: clock() + skew[0]) as fake:
        provider = ApnsProvider(token_settings(fake, tmp_path), tokens=ProviderTokens(), clock=clock)
        try:
            assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
            clock.advance(30 * MINUTE)  # our token is 30 minutes old …
            skew[0] = 31 * MINUTE  # … APNs thinks it is 61
            assert isinstance(await provider.send(push_to(TOKEN)), Delivered)
        finally:
            await provider.aclose()
    assert fake.answers == {"200": 2, "403 ExpiredProviderToken": 1}


async def test_expired_provider_token_after_reminting_is_rejected_without_another_try(tmp_path: Path) -> None:
    """One re-mint, one retry: a clock APNs disagrees with is an operator problem (Rejected AUTH)."""
    clock = ManualClock()
    async with FakeApns(clock=lambda: clock() + 3 * 3600) as fake:
        provider = ApnsProvider(token_settings(fake, tmp_path), tokens=ProviderTokens(), clock=clock)
        try:
            clock.advance(-25 * MINUTE)
            await provider.send(push_to(TOKEN))  # mints a token 25 minutes "old"
            clock.advance(25 * MINUTE)
            fake.answers.clear()
            outcome = await provider.send(push_to(TOKEN))
        finally:
            await provider.aclose()
    assert outcome == Rejected(RejectReason.AUTH, "ExpiredProviderToken")
    assert fake.answers == {"403 ExpiredProviderToken": 2}


@pytest.mark.parametrize("age_minutes", [5, 19])
async def test_expired_answer_to_a_young_token_is_not_retried(tmp_path: Path, age_minutes: int) -> None:
    """§4.1: never re-mint within 20 minutes, even when APNs calls the token expired."""
    clock = ManualClock()
    async with FakeApns(clock=lambda: clock() + 2 * 3600) as fake:
        provider = ApnsProvider(token_settings(fake, tmp_path), tokens=ProviderTokens(), clock=clock)
        try:
            clock.advance(-age_minutes * MINUTE)
            first = await provider.send(push_to(TOKEN))
            clock.advance(age_minutes * MINUTE)
            fake.answers.clear()
            outcome = await provider.send(push_to(TOKEN))
        finally:
            await provider.aclose()
    assert first == outcome == Rejected(RejectReason.AUTH, "ExpiredProviderToken")
    assert fake.answers == {"403 ExpiredProviderToken": 1}
