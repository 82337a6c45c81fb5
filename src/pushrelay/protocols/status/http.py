"""The HTTP binding of the Status protocol (reference/status-http.md).

It carries exactly the bytes status-go would put on Waku: one `ApplicationMetadataMessage`
in, the one envelope the server would send back out (or 204 where it would send nothing).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pushrelay.errors import BadRequest, StoreUnavailable
from pushrelay.protocols.status.service import StatusService

OCTET_STREAM = "application/octet-stream"


class _TooLarge(Exception):
    pass


def router(service: StatusService) -> APIRouter:
    routes = APIRouter(prefix="/status/v1", tags=["status"])

    @routes.get("/identity")
    async def identity() -> Response:
        """The server's identity key, compressed, 0x-hex: what clients register against."""
        if not service.is_started:
            return _error(503, "the Status server is starting")
        return JSONResponse({"public_key": "0x" + service.server.identity.public_key.hex()})

    @routes.post("/messages")
    async def messages(request: Request) -> Response:
        """One envelope in; the reply envelope (200), nothing to send (204), or an error."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != OCTET_STREAM:
            return _error(415, f"expected {OCTET_STREAM}")
        if not service.is_started:
            return _error(503, "the Status server is starting")
        limit = service.settings.max_message_bytes
        try:
            body = await _read_capped(request, limit)
            reply = await service.handle(body)
        except _TooLarge:
            return _error(413, f"envelope over {limit} bytes")
        except BadRequest as exc:
            return _error(400, str(exc))
        except StoreUnavailable:
            return _error(503, "store unavailable")
        if reply is None:
            return Response(status_code=204)
        return Response(reply.message, media_type=OCTET_STREAM)

    return routes


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
