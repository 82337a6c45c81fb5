"""The Status server as a running service: identity, delivery through the Relay, pruning, Waku.

`app.py` builds one `StatusService(relay, StatusStore(database), settings.status)`, runs its
`start()`/`stop()` in the lifespan, and mounts `status.http.router(service)`.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from prometheus_client import Counter

from pushrelay.config import StatusSettings
from pushrelay.domain import AppId, Message, Outcome, Platform
from pushrelay.errors import BadRequest, ConfigError
from pushrelay.protocols.status.envelope import MessageType
from pushrelay.protocols.status.repository import StatusRepository
from pushrelay.protocols.status.server import Reply, StatusServer, load_identity
from pushrelay.protocols.status.waku import WakuBinding
from pushrelay.relay import Relay

log = structlog.get_logger(__name__)

ANSWERED = {
    MessageType.PUSH_NOTIFICATION_REGISTRATION_RESPONSE: "registration",
    MessageType.PUSH_NOTIFICATION_QUERY_RESPONSE: "query",
    MessageType.PUSH_NOTIFICATION_RESPONSE: "request",
}


class RelayPusher:
    """Status pushes go to raw tokens through the Relay (lanes, retries, token hygiene)."""

    def __init__(self, relay: Relay, app: AppId) -> None:
        self._relay = relay
        self._app = app

    async def push(self, platform: Platform, token: str, message: Message) -> Outcome:
        (outcome,) = await self._relay.push_to_tokens(self._app, platform, [token], message)
        return outcome

    async def revive(self, platform: Platform, token: str) -> None:
        await self._relay.mark_token_alive(self._app, platform, token)


class StatusService:
    def __init__(self, relay: Relay, repository: StatusRepository, settings: StatusSettings) -> None:
        self.settings = settings
        self._relay = relay
        self._repository = repository
        self._server: StatusServer | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._waku: WakuBinding | None = None
        self._messages = Counter(
            "pushrelay_status_messages",
            "Status messages handled, by type and result",
            ["type", "result"],
            registry=relay.metrics.registry,
        )
        self._counters: dict[tuple[str, str], Counter] = {}

    @property
    def server(self) -> StatusServer:
        if self._server is None:
            raise RuntimeError("the Status service has not started")
        return self._server

    @property
    def is_started(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        app = self.settings.app or next(iter(self._relay.settings.apps))
        if app not in self._relay.settings.apps:
            raise ConfigError([f"status.app: no [apps.{app}] block"])
        identity = await load_identity(self._repository, self._relay.keyring)
        pusher = RelayPusher(self._relay, AppId(app))
        self._server = StatusServer(identity, self._repository, self._relay.keyring, pusher, self.settings)
        self._pruner = asyncio.create_task(self._prune_forever(), name="status-pruner")
        if self.settings.waku.enabled:
            self._waku = WakuBinding(self, self.settings.waku)
            await self._waku.start()
        log.info(
            "status.started", public_key="0x" + identity.public_key.hex(), waku=self.settings.waku.enabled
        )

    async def stop(self) -> None:
        if self._waku is not None:
            await self._waku.stop()
            self._waku = None
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None

    async def handle(self, data: bytes) -> Reply | None:
        """`StatusServer.handle`, counted by message type and result."""
        try:
            reply = await self.server.handle(data)
        except BadRequest:
            self._count("invalid", "bad_request")
            raise
        if reply is not None and reply.listen_to is not None and self._waku is not None:
            self._waku.listen_to_queries(reply.listen_to)  # whichever binding the registration came by
        if reply is None:
            self._count("none", "silent")
        else:
            self._count(ANSWERED[reply.type], "replied")
        return reply

    def _count(self, kind: str, result: str) -> None:
        """Count one message; the labelled counters are looked up once, not on every message."""
        counter = self._counters.get((kind, result))
        if counter is None:
            counter = self._counters[(kind, result)] = self._messages.labels(type=kind, result=result)
        counter.inc()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.prune_interval)
            try:
                pruned = await self.server.prune()
            except Exception as exc:  # top of a task: log and keep pruning
                log.warning("status.prune_failed", error=type(exc).__name__)
            else:
                log.info("status.pruned", request_ids=pruned)
