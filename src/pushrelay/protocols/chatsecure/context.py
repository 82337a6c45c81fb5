"""What every ChatSecure handler shares: the Relay, the repository, settings, limits, counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter
from starlette.requests import Request

from pushrelay.config import ChatSecureSettings
from pushrelay.domain import AppId
from pushrelay.errors import ConfigError
from pushrelay.protocols.chatsecure import wire
from pushrelay.protocols.chatsecure.credentials import KdfParams, PasswordHasher
from pushrelay.ratelimit import RateLimiter
from pushrelay.relay import Relay
from pushrelay.store.chatsecure import ChatSecureStore
from pushrelay.store.database import Database

TOKEN_KIND = "chatsecure.token"
"""The capability kind of a whitelist token in the shared `capabilities` table."""

API_PREFIX = "/api/v1"


@dataclass
class Context:
    relay: Relay
    store: ChatSecureStore
    settings: ChatSecureSettings
    hasher: PasswordHasher
    knock_limits: RateLimiter
    account_limits: RateLimiter
    throttled: Counter
    default_app: AppId
    public_url: str

    @classmethod
    def build(cls, relay: Relay, database: Database) -> Context:
        settings = relay.settings.chatsecure
        params = KdfParams(
            settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism
        )
        return cls(
            relay=relay,
            store=ChatSecureStore(database),
            settings=settings,
            hasher=PasswordHasher(relay.keyring, params, settings.password_concurrency),
            knock_limits=RateLimiter(settings.knock_rate, settings.knock_burst),
            account_limits=RateLimiter(settings.account_rate, settings.account_burst),
            throttled=Counter(
                "pushrelay_chatsecure_throttled",
                "ChatSecure requests refused with 429, by limit",
                ["limit"],
                registry=relay.metrics.registry,
            ),
            default_app=_default_app(relay),
            public_url=relay.settings.server.public_url,
        )

    def now(self) -> datetime:
        return datetime.now(UTC)

    def check_rate(self, limiter: RateLimiter, name: str, key: bytes | str) -> None:
        """Take one unit from `key`'s bucket, or raise DRF's 429."""
        wait = limiter.check(key)
        if wait is not None:
            self.throttled.labels(limit=name).inc()
            raise wire.throttled(wait)

    def seal(self, label: str, value: str | None) -> bytes | None:
        return None if value is None else self.relay.keyring.seal(label, value)

    def open(self, label: str, sealed: bytes | None) -> str | None:
        return None if sealed is None else self.relay.keyring.open_str(label, sealed)

    def messages_url(self) -> str:
        return f"{self.public_url}{API_PREFIX}/messages/"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _default_app(relay: Relay) -> AppId:
    configured = relay.settings.chatsecure.default_app
    apps = relay.app_ids()
    if configured is None:
        return apps[0]
    if configured not in apps:
        raise ConfigError([f"chatsecure.default_app: no [apps.{configured}] block"])
    return AppId(configured)
