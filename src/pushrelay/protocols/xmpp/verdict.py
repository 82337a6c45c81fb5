"""How a publish is answered, and the one place Outcomes and errors become XMPP errors.

reference/xep0357.md §5: Prosody counts every error but `wait` towards `push_max_errors`
and ejabberd drops the registration at the first non-`wait` error. So `cancel` is kept for
what will never work again (unknown node, wrong secret, dead device token), and everything
that may pass later (rate limits, a full lane, provider trouble) is a `wait`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from pushrelay.domain import Delivered, Failed, Outcome, Rejected
from pushrelay.errors import Overloaded, RefusalReason, Refused


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the push: answer with an empty result."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Answer with an IQ error of this type and condition."""

    error_type: str
    condition: str
    text: str = ""


Verdict: TypeAlias = Accepted | Refusal

ACCEPTED: Final = Accepted()
UNKNOWN_NODE: Final = Refusal("cancel", "item-not-found", "no such node")
RATE_LIMITED: Final = Refusal("wait", "resource-constraint", "rate limit reached, try later")
OVERLOADED: Final = Refusal("wait", "resource-constraint", "overloaded, try later")
DEAD_TOKEN: Final = Refusal("cancel", "item-not-found", "the device is gone")
PROVIDER_TROUBLE: Final = Refusal("wait", "remote-server-timeout", "push service unavailable, try later")
INTERNAL: Final = Refusal("wait", "internal-server-error", "cannot push now")


def verdict_for(outcome: Outcome) -> Verdict:
    match outcome:
        case Delivered():
            return ACCEPTED
        case Rejected() if outcome.is_token_dead:
            return DEAD_TOKEN
        case Rejected():
            return INTERNAL
        case Failed(retryable=True):
            return PROVIDER_TROUBLE
        case Failed():
            return INTERNAL


def verdict_for_all(outcomes: Sequence[Outcome]) -> Verdict:
    """A fan-out succeeded if any device took it; it is dead only if every device is."""
    verdicts = [verdict_for(o) for o in outcomes]
    if not verdicts or all(v == DEAD_TOKEN for v in verdicts):
        return DEAD_TOKEN
    if ACCEPTED in verdicts:
        return ACCEPTED
    return next(v for v in verdicts if v != DEAD_TOKEN)


def verdict_for_error(exc: Refused | Overloaded) -> Verdict:
    if isinstance(exc, Overloaded):
        return OVERLOADED
    if exc.reason is RefusalReason.RATE_LIMITED:
        return RATE_LIMITED
    if exc.reason is RefusalReason.DUPLICATE:
        return ACCEPTED
    return UNKNOWN_NODE
