"""Long-lived HTTP/2 connections to one origin, sized by the server's stream limit.

A request takes a stream slot on the first connection with one free; a new connection
is opened only when every open one is full (up to `max_connections`), so the pool grows
by SETTINGS_MAX_CONCURRENT_STREAMS at a time. With `single_stream_until`, a connection
carries one request at a time until a response satisfies it: APNs allows one stream on
a token-authenticated connection until a request with a valid token has been seen, and
a pool that sends a thousand requests with a bad token on a new connection is not nice.

A background task, owned by the pool, pings connections that have been silent for
`ping_interval` seconds and closes those that do not answer within `ping_timeout`; their
requests fail with `ConnectionLost`. The caller bounds each request with its own timeout
(`asyncio.timeout`): a cancelled request resets its stream and frees its slot.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from pushrelay.providers.h2connection import ConnectionLost, H2ClientConnection, H2Response

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PoolLimits:
    max_connections: int = 4
    max_streams_per_connection: int = 1000
    ping_interval: float = 30.0
    """Ping a connection the server has been silent on for this long."""
    ping_timeout: float = 5.0
    """Close a connection whose PING is not acknowledged in this time (at most `ping_interval`)."""


class H2Pool:
    """See the module docstring. Close it with `aclose()`."""

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        limits: PoolLimits = PoolLimits(),
        single_stream_until: Callable[[H2Response], bool] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._limits = limits
        self._single_stream_until = single_stream_until
        self._connections: list[H2ClientConnection] = []
        self._confirmed: set[H2ClientConnection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[H2ClientConnection | None]] = collections.deque()
        self._maintenance: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connections(self) -> list[H2ClientConnection]:
        return list(self._connections)

    async def request(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> H2Response:
        """One request on a free stream slot; raises `H2Error` subclasses when there is no response."""
        connection = await self._acquire()
        try:
            response = await connection.request(method, path, headers, body)
        finally:
            connection.reserved -= 1
            self._dispatch()
        if connection not in self._confirmed and self._is_confirmation(response):
            self._confirmed.add(connection)
            self._dispatch()
        return response

    async def aclose(self) -> None:
        self._closed = True
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        for connection in self._connections:
            connection.close()
        if self._connections:
            await asyncio.wait([c.closed for c in self._connections], timeout=1.0)
        self._connections.clear()
        while self._waiters:
            self._hand_over(None)

    # slots: first come, first served

    def _free_slots(self, connection: H2ClientConnection) -> int:
        if not connection.is_usable:
            return 0
        if connection not in self._confirmed:
            limit = 1
        else:
            limit = min(connection.max_streams, self._limits.max_streams_per_connection)
        return limit - connection.reserved

    def _reserve(self) -> H2ClientConnection | None:
        for connection in self._connections:
            if self._free_slots(connection) > 0:
                connection.reserved += 1
                return connection
        return None

    def _is_confirmation(self, response: H2Response) -> bool:
        return self._single_stream_until is None or self._single_stream_until(response)

    async def _acquire(self) -> H2ClientConnection:
        while True:
            if self._closed:
                raise ConnectionLost("the connection pool is closed")
            if not self._waiters and (connection := self._reserve()) is not None:
                return connection
            if self._may_open():
                await self._open()
                continue
            connection = await self._wait()
            if connection is not None:
                return connection

    def _may_open(self) -> bool:
        """Open one connection at a time, and only once the others have shown their real limit."""
        usable = [c for c in self._connections if c.is_usable]
        if self._closed or self._opening or len(usable) >= self._limits.max_connections:
            return False
        return all(c in self._confirmed for c in usable)

    async def _open(self) -> None:
        self._opening += 1
        try:
            connection = await H2ClientConnection.open(self._host, self._port, self._ssl_context)
            if self._closed:
                connection.close()
                return
            connection.on_change.append(lambda: self._on_change(connection))
            if self._single_stream_until is None:
                self._confirmed.add(connection)
            self._connections.append(connection)
            log.debug("h2pool.connected", host=self._host, connections=len(self._connections))
            if self._maintenance is None:
                self._maintenance = asyncio.create_task(self._maintain(), name="h2pool-maintenance")
        finally:
            self._opening -= 1
            self._dispatch()

    def _on_change(self, connection: H2ClientConnection) -> None:
        if connection.closed.done() and connection in self._connections:
            self._connections.remove(connection)
            self._confirmed.discard(connection)
        self._dispatch()

    async def _wait(self) -> H2ClientConnection | None:
        """Queue for a slot: a connection with one reserved, or None to try again (open one)."""
        waiter: asyncio.Future[H2ClientConnection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and (connection := waiter.result()) is not None:
                connection.reserved -= 1  # handed a slot, but gave up before using it
                self._dispatch()
            raise

    def _dispatch(self) -> None:
        """Hand free slots to waiters in order; if some still wait and a connection may open, wake one."""
        while self._waiters:
            if self._waiters[0].done():
                self._waiters.popleft()
                continue
            connection = self._reserve()
            if connection is None:
                break
            self._hand_over(connection)
        if self._waiters and self._may_open():
            self._hand_over(None)

    def _hand_over(self, connection: H2ClientConnection | None) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is not None:
            connection.reserved -= 1

    # health

    async def _maintain(self) -> None:
        interval = self._limits.ping_interval
        while True:
            await asyncio.sleep(interval / 2)
            now = asyncio.get_running_loop().time()
            silent = [c for c in self._connections if c.is_usable and now - c.last_heard > interval]
            if silent:
                await asyncio.gather(*(self._check(c) for c in silent))

    async def _check(self, connection: H2ClientConnection) -> None:
        try:
            async with asyncio.timeout(min(self._limits.ping_timeout, self._limits.ping_interval)):
                await connection.ping()
        except (TimeoutError, ConnectionLost):
            log.warning("h2pool.ping_failed", host=self._host, in_flight=connection.in_flight)
            connection.abort()
