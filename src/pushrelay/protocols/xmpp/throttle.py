"""Per-node push throttle with coalescing, as mod_push_appserver did (reference/xep0357.md §4.2).

In each window of `interval` seconds a node gets one push at once; the next one waits for
the window's end and goes then (its IQ answered then); any further one inside the window is
refused, and the adapter answers it `wait/resource-constraint` so the user's server keeps
the registration. Memory is bounded: the least recently used nodes are forgotten first,
which only ever errs on the side of letting a push through.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Throttle:
    def __init__(
        self, interval: float, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._max_keys = max_keys
        self._clock = clock
        self._nodes: OrderedDict[bytes, tuple[float, float]] = OrderedDict()
        """node → (when the next slot frees, until when a coalesced push is waiting)."""

    def reserve(self, key: bytes) -> float | None:
        """Seconds to wait before pushing (0.0 = now), or None when the push must be refused."""
        if self.interval <= 0:
            return 0.0
        now = self._clock()
        next_free, waiting_until = self._nodes.pop(key, (now, now))
        if now >= next_free:
            self._remember(key, (now + self.interval, now))
            return 0.0
        if waiting_until > now:
            self._remember(key, (next_free, waiting_until))
            return None
        self._remember(key, (next_free + self.interval, next_free))
        return next_free - now

    def _remember(self, key: bytes, state: tuple[float, float]) -> None:
        self._nodes[key] = state
        if len(self._nodes) > self._max_keys:
            self._nodes.popitem(last=False)
