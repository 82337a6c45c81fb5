"""The HTTP/2 connection pool: slots by the server's stream limit, fair queueing, clean cancellation.

Rules: the pool's brief (issue 3): a pool sized by SETTINGS_MAX_CONCURRENT_STREAMS, a
timeout on every request; STYLE R10 (a cancelled request leaves the pool consistent,
as httpcore's tests/test_cancellations.py proves for its own pool).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pushrelay.providers.h2connection import ConnectionLost, H2Response
from pushrelay.providers.h2pool import H2Pool, PoolLimits
from pushrelay.testing.h2server import H2Server, Reply, Request, Response
from pushrelay.testing.tls import CertificateAuthority

AUTHORITY = CertificateAuthority()


def slow(request: Request) -> Reply:
    return Response(200, body=request.path.encode(), delay=0.05)


@pytest.fixture
async def server() -> AsyncIterator[H2Server]:
    async with H2Server(slow, AUTHORITY.server_ssl_context(), max_concurrent_streams=2) as server:
        yield server


def pool_for(server: H2Server, max_connections: int = 4) -> H2Pool:
    limits = PoolLimits(max_connections=max_connections)
    return H2Pool("127.0.0.1", server.port, AUTHORITY.client_ssl_context(), limits)


async def get(pool: H2Pool, path: str) -> H2Response:
    return await pool.request("GET", path, [], b"")


async def test_pool_opens_connections_only_when_the_open_ones_are_full(server: H2Server) -> None:
    """A new connection only when every open one carries SETTINGS_MAX_CONCURRENT_STREAMS streams."""
    pool = pool_for(server, max_connections=8)
    try:
        await get(pool, "/warm")
        responses = await asyncio.gather(*(get(pool, f"/{i}") for i in range(6)))
        assert [r.body for r in responses] == [f"/{i}".encode() for i in range(6)]
        assert len(pool.connections) == 3
        assert server.protocol_errors == 0
    finally:
        await pool.aclose()


async def test_requests_beyond_every_limit_wait_their_turn_in_order(server: H2Server) -> None:
    """With all connections full, waiting requests are served first come, first served."""
    pool = pool_for(server, max_connections=1)
    finished: list[int] = []

    async def numbered(i: int) -> None:
        await get(pool, f"/{i}")
        finished.append(i)

    try:
        await get(pool, "/warm")
        async with asyncio.TaskGroup() as group:
            for i in range(8):
                group.create_task(numbered(i))
                await asyncio.sleep(0)
        assert [set(finished[i : i + 2]) for i in range(0, 8, 2)] == [{0, 1}, {2, 3}, {4, 5}, {6, 7}]
    finally:
        await pool.aclose()


async def test_request_cancelled_while_queued_or_in_flight_frees_its_slot(server: H2Server) -> None:
    """STYLE R10: timeouts leave no slot reserved and no stream open; the pool keeps working."""
    pool = pool_for(server, max_connections=1)
    try:
        await get(pool, "/warm")
        for _ in range(3):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.02):
                    await asyncio.gather(*(get(pool, f"/{i}") for i in range(10)))
        [connection] = pool.connections
        await asyncio.sleep(0.1)
        assert (connection.reserved, connection.in_flight) == (0, 0)
        assert (await get(pool, "/after")).body == b"/after"
        assert server.protocol_errors == 0
    finally:
        await pool.aclose()


async def test_closed_pool_refuses_requests(server: H2Server) -> None:
    """After aclose(), requests fail at once instead of opening connections again."""
    pool = pool_for(server)
    await get(pool, "/warm")
    await pool.aclose()
    with pytest.raises(ConnectionLost):
        await get(pool, "/late")


async def test_connection_near_the_end_of_its_stream_ids_is_retired_without_failures(
    server: H2Server,
) -> None:
    """RFC 9113 §5.1.1: stream ids cannot be reused; a connection running out is replaced, not broken."""
    pool = pool_for(server, max_connections=2)
    try:
        await get(pool, "/warm")
        [first] = pool.connections
        first.retire_after_stream_id = 7
        responses = [await get(pool, f"/{i}") for i in range(6)]
        assert [r.status for r in responses] == [200] * 6
        assert first not in pool.connections
        assert len(pool.connections) == 1
    finally:
        await pool.aclose()
