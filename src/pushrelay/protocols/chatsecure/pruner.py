"""The daily prune: expired and revoked whitelist tokens leave the database.

SRV ran `manage.py delete_expired_tokens` from Heroku Scheduler (reference §3.4). Expiry is
enforced at knock time regardless; the prune only keeps the tables small. Rows in
`chatsecure_tokens` go with their capability (foreign key, ON DELETE CASCADE).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from pushrelay.relay import Relay

log = structlog.get_logger(__name__)


class ExpiredTokenPruner:
    """A service for the app lifespan: `start()` prunes once, then every `interval` seconds."""

    def __init__(self, relay: Relay, interval: float | None = None) -> None:
        self._relay = relay
        self._interval = interval if interval is not None else relay.settings.chatsecure.prune_interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="chatsecure-prune")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def prune_once(self) -> int:
        removed = await self._relay.delete_expired_capabilities()
        log.info("chatsecure.pruned", removed=removed)
        return removed

    async def _run(self) -> None:
        while True:
            try:
                await self.prune_once()
            except Exception as exc:  # a failed prune must not end the loop; the next one retries
                log.warning("chatsecure.prune_failed", error=type(exc).__name__)
            await asyncio.sleep(self._interval)
