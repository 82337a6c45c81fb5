"""The Dispatcher: delivery mechanics, the same for every provider.

One Lane per (app, provider). A lane bounds how many pushes wait (then sheds load with
`Overloaded`) and how many are in flight; it gives every push a deadline, retries retryable
failures with full-jitter exponential backoff that honours `Retry-After`, and keeps a circuit
breaker that opens after consecutive service faults and lets one probe through after a
cooldown. Lanes share nothing, so an APNs outage never delays FCM deliveries.

Providers make one attempt per `send`; everything about retrying lives here (STYLE R4).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol

import structlog
from prometheus_client import Counter

from pushrelay.config import DispatchSettings
from pushrelay.domain import AppId, Delivered, Failed, Outcome, Provider, Push, Rejected
from pushrelay.errors import Overloaded
from pushrelay.metrics import Metrics

log = structlog.get_logger(__name__)


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def backoff(attempt: int, rng: random.Random, base: float, cap: float, retry_after: float | None) -> float:
    """Full jitter (uniform in [0, base·2^attempt], capped), but never sooner than Retry-After."""
    delay = rng.uniform(0.0, min(cap, base * 2.0**attempt))
    return max(delay, retry_after) if retry_after is not None else delay


class CircuitBreaker:
    """Closed → open after `threshold` consecutive service faults → half-open after `cooldown`.

    Half-open lets exactly one probe through; its outcome closes or reopens the breaker.
    """

    def __init__(self, threshold: int, cooldown: float, clock: Clock) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._faults = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def wait_time(self) -> float:
        """0 if a send may start now (claiming the probe when half-open), else seconds to wait."""
        if self._opened_at is None:
            return 0.0
        remaining = self._opened_at + self._cooldown - self._clock.now()
        if remaining > 0:
            return remaining
        if self._probing:
            return self._cooldown / 10
        self._probing = True
        return 0.0

    def record(self, outcome: Outcome | None) -> None:
        """Count an attempt's outcome; None means the attempt was cancelled or timed out."""
        fault = outcome is None or (isinstance(outcome, Failed) and outcome.service_fault)
        if isinstance(outcome, Failed) and not outcome.service_fault:
            self._probing = False
            return
        if fault:
            self._faults += 1
            if self._probing or self._faults >= self._threshold:
                if self._opened_at is None:
                    log.warning("breaker.opened", faults=self._faults)
                self._opened_at = self._clock.now()
        else:
            if self._opened_at is not None:
                log.info("breaker.closed")
            self._faults = 0
            self._opened_at = None
        self._probing = False


class Lane:
    """Deliveries for one (app, provider): bounded, limited, retried, timed out."""

    def __init__(
        self,
        app: AppId,
        provider: Provider,
        settings: DispatchSettings,
        metrics: Metrics,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.app = app
        self.provider = provider
        self.name = f"{app}/{provider.name}"
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown, clock)
        self._pending = 0
        self._sending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        labels = {"app": app, "provider": provider.name}
        # Gauges are read when /metrics is scraped, so the hot path never touches them.
        metrics.queue_depth.labels(**labels).set_function(lambda: self.waiting)
        metrics.in_flight.labels(**labels).set_function(lambda: self._sending)
        metrics.breaker_open.labels(**labels).set_function(lambda: 1 if self._breaker.is_open else 0)
        self._attempts = metrics.provider_attempts.labels(**labels)
        self._latency = metrics.push_latency.labels(**labels)
        self._outcome_counters: dict[tuple[str, str], Counter] = {}

    @property
    def waiting(self) -> int:
        return self._pending - self._sending

    async def deliver(self, push: Push) -> Outcome:
        """Deliver one push within the deadline; raise Overloaded if the lane is full.

        Up to `queue_size` pushes may wait here at once, each a suspended coroutine, so this
        path is kept shallow: every frame costs memory per queued push.
        """
        if self.waiting >= self._settings.queue_size:
            self._metrics.shed.labels(app=self.app, provider=self.provider.name).inc()
            raise Overloaded(self.name, retry_after=self._shed_retry_after())
        started = self._clock.now()
        deadline = started + self._settings.deadline
        self._pending += 1
        self._idle.clear()
        try:
            async with asyncio.timeout(self._settings.deadline):
                attempt = 0
                while True:
                    result = await self._one_attempt(push)
                    if isinstance(result, float):  # the breaker is open: wait, or give up if too long
                        if self._clock.now() + result >= deadline:
                            outcome: Outcome = Failed(
                                retryable=True, detail="circuit open", retry_after=result
                            )
                            break
                        await self._clock.sleep(result)
                        continue
                    outcome = result
                    delay = self._retry_delay(outcome, attempt)
                    if delay is None or self._clock.now() + delay >= deadline:
                        break
                    await self._clock.sleep(delay)
                    attempt += 1
        except TimeoutError:
            outcome = Failed(retryable=True, detail="timeout")
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()
        self._observe(outcome, self._clock.now() - started)
        return outcome

    async def drain(self) -> None:
        await self._idle.wait()

    def _retry_delay(self, outcome: Outcome, attempt: int) -> float | None:
        """Seconds to wait before retrying `outcome`, or None if it is final."""
        if not (isinstance(outcome, Failed) and outcome.retryable):
            return None
        delay = backoff(
            attempt, self._rng, self._settings.backoff_base, self._settings.backoff_max, outcome.retry_after
        )
        log.debug(
            "push.retry", lane=self.name, attempt=attempt + 1, delay=round(delay, 3), detail=outcome.detail
        )
        return delay

    async def _one_attempt(self, push: Push) -> Outcome | float:
        """Send once when a slot is free, or return how long the open breaker asks to wait.

        The breaker is consulted after the slot is taken, so pushes that queued while the
        provider was failing do not all hit it once the breaker has opened.
        """
        outcome: Outcome | None = None
        async with self._slots:
            wait = self._breaker.wait_time()
            if wait > 0:
                return wait
            self._sending += 1
            try:
                self._attempts.inc()
                outcome = await self.provider.send(push)
                return outcome
            finally:
                self._sending -= 1
                self._breaker.record(outcome)

    def _observe(self, outcome: Outcome, seconds: float) -> None:
        match outcome:
            case Delivered():
                kind, reason = "delivered", ""
            case Rejected(reason=r):
                kind, reason = "rejected", r.value
            case Failed(detail=detail):
                kind, reason = "failed", detail[:40]
        self._metrics.pushes.labels(
            app=self.app, provider=self.provider.name, outcome=kind, reason=reason
        ).inc()
        self._latency.observe(seconds)

    def _shed_retry_after(self) -> float:
        return max(1.0, min(self._settings.deadline, self._settings.breaker_cooldown))


class Dispatcher:
    """All lanes, by (app, provider name)."""

    def __init__(
        self,
        settings: DispatchSettings,
        metrics: Metrics,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._lanes: dict[tuple[AppId, str], Lane] = {}

    def add_lane(self, app: AppId, provider: Provider) -> Lane:
        key = (app, provider.name)
        if key not in self._lanes:
            self._lanes[key] = Lane(app, provider, self._settings, self._metrics, self._clock, self._rng)
        return self._lanes[key]

    @property
    def lanes(self) -> list[Lane]:
        return list(self._lanes.values())

    async def drain(self, within: float) -> bool:
        """Wait for every accepted push to finish; False if `within` seconds passed first."""
        try:
            async with asyncio.timeout(within):
                for lane in self._lanes.values():
                    await lane.drain()
            return True
        except TimeoutError:
            return False

    async def aclose(self) -> None:
        providers = {id(lane.provider): lane.provider for lane in self._lanes.values()}
        for provider in providers.values():
            await provider.aclose()
