"""A tiny plain-HTTP JSON server: the control API of the fakes when they run standalone.

Routes map `(method, path)` to a function taking the query parameters and the JSON body
(an object, or {} when there is none) and returning a JSON value; a `ValueError` it
raises becomes a 400 with `{"error": message}`. One request per connection, HTTP/1.1,
`Connection: close`: enough for `curl` and for the demo, nothing more.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import structlog

log = structlog.get_logger(__name__)

Route: TypeAlias = Callable[[Mapping[str, str], dict[str, Any]], object]
MAX_BODY_BYTES = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Error"}


class ControlServer:
    """Serves `routes` on `host:port` (port 0: a free one); an async context manager."""

    def __init__(
        self, routes: Mapping[tuple[str, str], Route], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._routes = routes
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                status, answer = await self._answer(reader)
            body = json.dumps(answer).encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, object]:
        request_line = (await reader.readline()).decode("latin-1").split()
        if len(request_line) != 3:
            return 400, {"error": "bad request line"}
        method, target, _ = request_line
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip()) if value.strip().isdigit() else -1
        if not 0 <= length <= MAX_BODY_BYTES:
            return 400, {"error": "bad content-length"}
        raw = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        route = self._routes.get((method.upper(), url.path))
        if route is None:
            known = any(path == url.path for _, path in self._routes)
            return (405, {"error": "method not allowed"}) if known else (404, {"error": "no such endpoint"})
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            return 200, route(dict(parse_qsl(url.query)), body)
        except ValueError as exc:  # json.JSONDecodeError is one
            return 400, {"error": str(exc)}
        except Exception as exc:
            log.exception("control_api.route_failed", path=url.path)
            return 500, {"error": type(exc).__name__}


def text_field(body: Mapping[str, Any], key: str, required: bool = False) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string")
    return value


def number_field(
    body: Mapping[str, Any], key: str, kind: type[int] | type[float], required: bool = False
) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not isinstance(value, int))
    ):
        raise ValueError(f"{key}: expected a number")
    return kind(value)


def prepared(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
