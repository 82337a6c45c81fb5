"""The exceptions pushrelay raises. Provider answers are Outcomes, not exceptions.

    PushRelayError
    ├── ConfigError        the configuration is invalid; names the key (`apps.chat.apns.key_file`)
    ├── BadRequest         wire input a protocol adapter could not accept
    ├── Refused(reason)    the caller may not push: unknown, expired or revoked capability, rate limit
    ├── Overloaded         a lane is full; try again after `retry_after` seconds
    └── StoreUnavailable   the database cannot be reached

Each protocol adapter maps each class to its own wire terms exactly once.
"""

from __future__ import annotations

import enum


class PushRelayError(Exception):
    """Base of every error pushrelay raises on purpose."""


class ConfigError(PushRelayError):
    """The configuration is invalid. Each problem is one `key: message` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class BadRequest(PushRelayError):
    """Wire input that cannot be accepted as it is."""


class RefusalReason(enum.StrEnum):
    UNKNOWN = "unknown"
    FORBIDDEN = "forbidden"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RATE_LIMITED = "rate_limited"
    DUPLICATE = "duplicate"


class Refused(PushRelayError):
    """The caller may not push with this capability, or not now."""

    def __init__(self, reason: RefusalReason, retry_after: float | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after = retry_after


class Overloaded(PushRelayError):
    """A delivery lane is full: the push was not accepted. Safe to retry later."""

    def __init__(self, lane: str, retry_after: float) -> None:
        super().__init__(f"{lane} is overloaded, retry after {retry_after:.0f}s")
        self.lane = lane
        self.retry_after = retry_after


class StoreUnavailable(PushRelayError):
    """The database could not be reached."""
