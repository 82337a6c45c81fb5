"""The Dispatcher's rules: retries, backoff, Retry-After, deadline, breaker, shedding, isolation."""

from __future__ import annotations

import asyncio
import random

import pytest

from pushrelay.config import DispatchSettings
from pushrelay.dispatch import CircuitBreaker, Dispatcher, SystemClock, backoff
from pushrelay.domain import (
    AppId,
    Delivered,
    Failed,
    Message,
    Platform,
    Push,
    Rejected,
    RejectReason,
    Target,
    TokenRef,
)
from pushrelay.errors import Overloaded
from pushrelay.metrics import Metrics
from tests.doubles import ScriptedProvider

APP = AppId("chat")


def push() -> Push:
    return Push(Target(APP, Platform.APNS, "t", TokenRef(b"r" * 32)), Message(body="hi"))


def fast(**overrides: float) -> DispatchSettings:
    values: dict[str, float] = dict(
        concurrency=500,
        deadline=2.0,
        backoff_base=0.001,
        backoff_max=0.01,
        breaker_threshold=3,
        breaker_cooldown=0.2,
    )
    values.update(overrides)
    return DispatchSettings.model_validate(values)


async def test_a_retryable_failure_is_retried_until_delivered() -> None:
    provider = ScriptedProvider("p", Failed(True, "503"), Failed(True, "503"))
    lane = Dispatcher(fast(), Metrics()).add_lane(APP, provider)
    assert await lane.deliver(push()) == Delivered()
    assert provider.calls == 3


async def test_a_rejection_is_final_and_not_retried() -> None:
    rejected = Rejected(RejectReason.BAD_TOKEN, "BadDeviceToken")
    provider = ScriptedProvider("p", rejected)
    lane = Dispatcher(fast(), Metrics()).add_lane(APP, provider)
    assert await lane.deliver(push()) == rejected
    assert provider.calls == 1


async def test_a_non_retryable_failure_is_not_retried() -> None:
    provider = ScriptedProvider("p", Failed(False, "broken"))
    lane = Dispatcher(fast(), Metrics()).add_lane(APP, provider)
    assert await lane.deliver(push()) == Failed(False, "broken")
    assert provider.calls == 1


def test_backoff_is_full_jitter_under_the_cap() -> None:
    rng = random.Random(1)
    delays = [backoff(attempt, rng, base=0.5, cap=4.0, retry_after=None) for attempt in range(20)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) == 20


def test_backoff_never_comes_before_retry_after() -> None:
    rng = random.Random(1)
    assert all(backoff(a, rng, base=0.5, cap=4.0, retry_after=60.0) >= 60.0 for a in range(10))


async def test_retry_after_longer_than_the_deadline_ends_with_the_failure() -> None:
    """FCM QUOTA_EXCEEDED asks for ≥ 60 s; the push fails now rather than outliving its deadline."""
    quota = Failed(True, "QUOTA_EXCEEDED", retry_after=60.0)
    provider = ScriptedProvider("p", quota)
    lane = Dispatcher(fast(deadline=1.0), Metrics()).add_lane(APP, provider)
    assert await lane.deliver(push()) == quota
    assert provider.calls == 1


async def test_a_push_that_outlives_its_deadline_fails_with_timeout() -> None:
    provider = ScriptedProvider("p", delay=5.0)
    lane = Dispatcher(fast(deadline=0.1), Metrics()).add_lane(APP, provider)
    outcome = await lane.deliver(push())
    assert outcome == Failed(retryable=True, detail="timeout")
    assert lane.waiting == 0


async def test_a_full_lane_sheds_load_with_retry_after() -> None:
    provider = ScriptedProvider("p")
    provider.gate = asyncio.Event()
    lane = Dispatcher(fast(concurrency=1, queue_size=2), Metrics()).add_lane(APP, provider)
    accepted = [asyncio.create_task(lane.deliver(push())) for _ in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded) as shed:
        await lane.deliver(push())
    assert shed.value.retry_after >= 1
    provider.gate.set()
    assert await asyncio.gather(*accepted) == [Delivered()] * 3


async def test_the_breaker_opens_after_consecutive_service_faults_and_probes_after_cooldown() -> None:
    clock = SystemClock()
    breaker = CircuitBreaker(threshold=2, cooldown=0.05, clock=clock)
    breaker.record(Failed(True, "503"))
    assert breaker.wait_time() == 0
    breaker.record(Failed(True, "503"))
    assert breaker.is_open and breaker.wait_time() > 0
    await asyncio.sleep(0.06)
    assert breaker.wait_time() == 0, "the first caller after the cooldown is the probe"
    assert breaker.wait_time() > 0, "only one probe at a time"
    breaker.record(Delivered())
    assert not breaker.is_open and breaker.wait_time() == 0


async def test_a_failed_probe_reopens_the_breaker() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=0.02, clock=SystemClock())
    breaker.record(Failed(True, "connection reset"))
    await asyncio.sleep(0.03)
    assert breaker.wait_time() == 0
    breaker.record(Failed(True, "connection reset"))
    assert breaker.is_open and breaker.wait_time() > 0


def test_per_device_throttling_does_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=1.0, clock=SystemClock())
    breaker.record(Failed(True, "TooManyRequests", service_fault=False))
    assert not breaker.is_open


async def test_an_open_breaker_fails_fast_when_the_cooldown_outlasts_the_deadline() -> None:
    provider = ScriptedProvider("p", default=Failed(True, "503"))
    lane = Dispatcher(fast(deadline=0.5, breaker_threshold=2, breaker_cooldown=30), Metrics()).add_lane(
        APP, provider
    )
    outcome = await lane.deliver(push())
    assert isinstance(outcome, Failed) and outcome.retryable
    calls = provider.calls
    assert await lane.deliver(push()) == Failed(True, "circuit open", retry_after=pytest.approx(30, abs=1))
    assert provider.calls == calls


async def test_a_stalled_provider_does_not_delay_another_lane() -> None:
    """One lane per provider: APNs stalling never holds FCM deliveries back (issue 3)."""
    stalled = ScriptedProvider("apns")
    stalled.gate = asyncio.Event()
    flowing = ScriptedProvider("fcm")
    dispatcher = Dispatcher(fast(concurrency=4), Metrics())
    apns, fcm = dispatcher.add_lane(APP, stalled), dispatcher.add_lane(APP, flowing)
    stuck = [asyncio.create_task(apns.deliver(push())) for _ in range(50)]
    async with asyncio.timeout(0.5):
        assert await asyncio.gather(*(fcm.deliver(push()) for _ in range(50))) == [Delivered()] * 50
    stalled.gate.set()
    await asyncio.gather(*stuck)


async def test_drain_waits_for_accepted_pushes() -> None:
    provider = ScriptedProvider("p", delay=0.05)
    dispatcher = Dispatcher(fast(), Metrics())
    lane = dispatcher.add_lane(APP, provider)
    task = asyncio.create_task(lane.deliver(push()))
    await asyncio.sleep(0)
    assert await dispatcher.drain(within=1.0)
    assert task.done() and task.result() == Delivered()


async def test_pushes_queued_behind_a_failing_provider_do_not_reach_it_once_the_breaker_opens() -> None:
    """The breaker is checked when a push gets its slot, not only when it arrives (issue 3: breaker)."""
    provider = ScriptedProvider("p", default=Failed(True, "503"), delay=0.05)
    settings = fast(concurrency=1, breaker_threshold=1, breaker_cooldown=30)
    lane = Dispatcher(settings, Metrics()).add_lane(APP, provider)
    outcomes = await asyncio.gather(*(lane.deliver(push()) for _ in range(5)))
    assert provider.calls == 1
    assert all(isinstance(o, Failed) and o.detail == "circuit open" for o in outcomes)
