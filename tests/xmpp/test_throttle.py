"""The per-node throttle, on a fake clock (mod_push_appserver's rule, reference/xep0357.md §4.2)."""

from __future__ import annotations

from pushrelay.protocols.xmpp.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_push_goes_at_once_the_second_waits_for_the_window_and_the_third_is_refused() -> None:
    """One push per window at once, one coalesced at the window's end, the rest refused (answered wait)."""
    clock = Clock()
    throttle = Throttle(5.0, clock=clock)
    assert throttle.reserve(b"n") == 0.0
    clock.now += 1
    assert throttle.reserve(b"n") == 4.0
    assert throttle.reserve(b"n") is None
    clock.now += 4
    assert throttle.reserve(b"n") == 5.0  # the coalesced one goes now; this one waits for the next window
    clock.now += 10
    assert throttle.reserve(b"n") == 0.0


def test_nodes_are_throttled_independently() -> None:
    throttle = Throttle(5.0, clock=Clock())
    assert throttle.reserve(b"a") == 0.0
    assert throttle.reserve(b"b") == 0.0


def test_zero_interval_turns_the_throttle_off() -> None:
    throttle = Throttle(0.0, clock=Clock())
    assert [throttle.reserve(b"n") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_memory_is_bounded_and_forgetting_errs_on_allowing() -> None:
    throttle = Throttle(5.0, max_keys=2, clock=Clock())
    for key in (b"a", b"b", b"c"):
        throttle.reserve(key)
    assert throttle.reserve(b"a") == 0.0
