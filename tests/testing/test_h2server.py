"""The HTTP/2 test server: answers, delays, stalls, GOAWAY, dropped connections, stream limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from pushrelay.testing.h2server import Drop, GoAway, H2Server, Reply, Request, Response, Stall
from pushrelay.testing.tls import CertificateAuthority

AUTHORITY = CertificateAuthority()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(http2=True, verify=AUTHORITY.client_ssl_context(), timeout=2.0) as client:
        yield client


def echo(request: Request) -> Reply:
    if request.path == "/stall":
        return Stall()
    if request.path == "/drop":
        return Drop()
    if request.path == "/goaway":
        return GoAway(debug_data=b'{"reason":"Shutdown"}')
    if request.path == "/slow":
        return Response(200, body=b"slow", delay=0.2)
    return Response(
        201, [("x-method", request.method)], request.body + request.headers.get("x-tail", "").encode()
    )


async def test_handler_sees_the_whole_request_and_its_answer_reaches_the_client(
    client: httpx.AsyncClient,
) -> None:
    """A request's method, path, headers and body reach the handler; its answer goes back."""
    async with H2Server(echo, AUTHORITY.server_ssl_context()) as server:
        response = await client.post(f"{server.url}/x", content=b"a" * 70_000, headers={"x-tail": "!"})
    assert (response.http_version, response.status_code) == ("HTTP/2", 201)
    assert response.headers["x-method"] == "POST"
    assert response.content == b"a" * 70_000 + b"!"


async def test_coroutine_handlers_are_awaited(client: httpx.AsyncClient) -> None:
    """A handler may be a coroutine function, for answers that need to wait on something."""

    async def handler(request: Request) -> Reply:
        await asyncio.sleep(0)
        return Response(204)

    async with H2Server(handler, AUTHORITY.server_ssl_context()) as server:
        assert (await client.get(server.url)).status_code == 204


async def test_delayed_answer_arrives_after_its_delay(client: httpx.AsyncClient) -> None:
    """`Response.delay` adds latency to one answer without holding up the others."""
    async with H2Server(echo, AUTHORITY.server_ssl_context()) as server:
        started = time.monotonic()
        slow, fast = await asyncio.gather(client.get(f"{server.url}/slow"), client.get(f"{server.url}/x"))
        assert time.monotonic() - started >= 0.2
        assert (slow.content, fast.status_code) == (b"slow", 201)
        assert fast.elapsed < slow.elapsed


async def test_stalled_request_is_never_answered(client: httpx.AsyncClient) -> None:
    """`Stall` keeps the stream open: only the client's own timeout ends the wait."""
    async with H2Server(echo, AUTHORITY.server_ssl_context()) as server:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/stall", timeout=0.2)


async def test_dropped_connection_fails_the_request(client: httpx.AsyncClient) -> None:
    """`Drop` cuts the connection without a GOAWAY."""
    async with H2Server(echo, AUTHORITY.server_ssl_context()) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{server.url}/drop")


async def test_goaway_leaves_the_request_unprocessed_and_closes_the_connection(
    client: httpx.AsyncClient,
) -> None:
    """`GoAway` sends GOAWAY with a last stream id below the request's, then closes."""
    async with H2Server(echo, AUTHORITY.server_ssl_context()) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{server.url}/goaway")
        await asyncio.sleep(0.05)
        assert not server.connections


async def test_new_connections_announce_the_configured_stream_limit(client: httpx.AsyncClient) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS is per server and can be raised per connection."""
    limits: list[int] = []

    def handler(request: Request) -> Reply:
        limits.append(request.connection.max_concurrent_streams)
        request.connection.set_max_concurrent_streams(50)
        return Response(200)

    async with H2Server(handler, AUTHORITY.server_ssl_context(), max_concurrent_streams=1) as server:
        await client.get(server.url)
        await client.get(server.url)
        await asyncio.gather(*(client.get(server.url) for _ in range(20)))
        assert server.protocol_errors == 0
    assert limits[:2] == [1, 50]
