"""The HTTP binding of the Status protocol (reference/status-http.md).

It carries exactly the bytes status-go would put on Waku: one `ApplicationMetadataMessage`
in, the one envelope the server would send back out (or 204 where it would send nothing).

`POST /status/v1/messages` is the hot path (every notification request a client sends), so it
is a bare ASGI endpoint rather than a FastAPI route: no `Request` object, no dependency
resolution, no response class. It checks what the FastAPI route checked, in the same order,
and answers the same bytes (docs/status.md, "Benchmark").
"""

from __future__ import annotations

import json
from typing import Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from pushrelay.errors import BadRequest, StoreUnavailable
from pushrelay.protocols.status.service import StatusService

PREFIX: Final = "/status/v1"
OCTET_STREAM: Final = "application/octet-stream"
_OCTET_STREAM_HEADER: Final = (b"content-type", OCTET_STREAM.encode())
_JSON_HEADER: Final = (b"content-type", b"application/json")


def router(service: StatusService) -> APIRouter:
    routes = APIRouter(tags=["status"])

    @routes.get(PREFIX + "/identity")
    async def identity() -> Response:
        """The server's identity key, compressed, 0x-hex: what clients register against."""
        if not service.is_started:
            return JSONResponse({"error": "the Status server is starting"}, status_code=503)
        return JSONResponse({"public_key": "0x" + service.server.identity.public_key.hex()})

    endpoint = MessagesEndpoint(service)
    # Starlette's Route serves an ASGI app given as endpoint as it is; FastAPI's annotation only
    # names request handlers.
    routes.add_route(endpoint.path, endpoint, methods=["POST"], include_in_schema=False)  # type: ignore[arg-type]
    return routes


class MessagesEndpoint:
    """`POST /status/v1/messages`: one envelope in; the reply envelope (200), nothing to send (204),
    or a JSON error: 415 (not octet-stream), 503 (starting, store down), 413 (over
    `max_message_bytes`), 400 (not a valid message)."""

    path = PREFIX + "/messages"
    """The route template the request metrics are labelled with."""

    def __init__(self, service: StatusService) -> None:
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        try:
            status, body, content_type = await self._answer(scope, receive)
        except _Disconnected:
            return
        headers = [(b"content-length", b"%d" % len(body)), content_type] if status != 204 else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, tuple[bytes, bytes]]:
        content_type, declared_length = _content_headers(scope)
        if content_type != OCTET_STREAM:
            return _error(415, f"expected {OCTET_STREAM}")
        if not self._service.is_started:
            return _error(503, "the Status server is starting")
        limit = self._service.settings.max_message_bytes
        if declared_length.isdigit() and int(declared_length) > limit:
            return _error(413, f"envelope over {limit} bytes")
        envelope = await _read_capped(receive, limit)
        if envelope is None:
            return _error(413, f"envelope over {limit} bytes")
        try:
            reply = await self._service.handle(envelope)
        except BadRequest as exc:
            return _error(400, str(exc))
        except StoreUnavailable:
            return _error(503, "store unavailable")
        if reply is None:
            return 204, b"", _OCTET_STREAM_HEADER
        return 200, reply.message, _OCTET_STREAM_HEADER


class _Disconnected(Exception):
    """The client went away before its body arrived: there is no one to answer."""


def _content_headers(scope: Scope) -> tuple[str, str]:
    """The media type (lowercase, no parameters) and the declared length, '' where absent."""
    content_type = content_length = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            content_length = value
    media_type = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
    return media_type, content_length.decode("latin-1")


async def _read_capped(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _error(status: int, message: str) -> tuple[int, bytes, tuple[bytes, bytes]]:
    """The JSON error body FastAPI's JSONResponse would render: `{"error": message}`."""
    return status, json.dumps({"error": message}, separators=(",", ":")).encode(), _JSON_HEADER
