"""Token-bucket rate limits per key, in bounded memory.

Each key (a capability's hash, a node, an IP) gets `burst` units that refill at `rate` per
second. The least recently used keys are forgotten past `max_keys`, which only ever errs on
the side of allowing a request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[bytes | str, tuple[float, float]] = OrderedDict()

    def check(self, key: bytes | str) -> float | None:
        """Take one unit for `key`: None if allowed, else the seconds until one is available."""
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return None
        self._remember(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _remember(self, key: bytes | str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
