"""A small, fast HTTP/2 server over TLS for the fake APNs and FCM servers and the benchmark.

Built on the `h2` state machine with a plain `asyncio.Protocol` per connection: each
complete request (method, path, headers, body) goes to a handler, which returns what to
do with it. A handler may be a plain function (no task per request: the fast path the
fakes use) or a coroutine function. Besides answering, it can delay the answer, stall
(never answer), send GOAWAY or drop the connection, which is how the fakes inject faults:

    def handler(request: Request) -> Reply:
        return Response(200, [("apns-id", request.headers["apns-id"])], delay=0.05)

    async with H2Server(handler, authority.server_ssl_context()) as server:
        ...  # https://127.0.0.1:{server.port}/

SETTINGS_MAX_CONCURRENT_STREAMS is set per server and can be changed per connection
(APNs allows one stream until the first request with a valid token). A client that opens
more streams than allowed breaks the connection (h2 treats it as a protocol error); the
server counts these in `protocol_errors`, so tests can assert that a client never did.

Capacity (2-core machine, one process, a handler answering 200 at once): about 13,700
requests/s, measured with `h2load -n 50000 -c 4 -m 100 -d payload.json` (nghttp2-client),
the same with and without uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeAlias, cast

import structlog
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings
from hpack import Encoder
from hyperframe.frame import GoAwayFrame

log = structlog.get_logger(__name__)

DEFAULT_MAX_CONCURRENT_STREAMS = 1000
MAX_BODY_BYTES = 1 << 20
_WINDOW = 1 << 24


@dataclass(frozen=True, slots=True)
class Request:
    """One complete HTTP/2 request. Header names are lower case; the last value wins in `headers`."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw_headers: Sequence[tuple[str, str]]
    body: bytes
    stream_id: int
    connection: ServerConnection = field(repr=False)
    open_streams: int = 1
    """Streams open on the connection when this request was complete, itself included."""


@dataclass(frozen=True, slots=True)
class Response:
    """Answer with `status`, `headers` and `body`, after `delay` seconds."""

    status: int
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Stall:
    """Never answer: the stream stays open until the client resets it or the connection ends."""


@dataclass(frozen=True, slots=True)
class Drop:
    """Drop the connection at once, without a GOAWAY: what a crashed peer or a cut cable does."""


@dataclass(frozen=True, slots=True)
class GoAway:
    """Send GOAWAY, leave this request unprocessed, answer older streams, then close."""

    error_code: int = ErrorCodes.NO_ERROR
    debug_data: bytes = b""


Reply: TypeAlias = Response | Stall | Drop | GoAway
Handler: TypeAlias = Callable[[Request], "Reply | Awaitable[Reply]"]


class _H2Connection(H2Connection):
    """h2 counts open streams by walking all of them for every new stream, which with a
    thousand in flight costs more than the rest of a request. The connection keeps its own
    exact count (`active`), and h2 walks (pruning closed streams) once in `PRUNE_EVERY`."""

    PRUNE_EVERY = 256

    def __init__(self, config: H2Configuration) -> None:
        super().__init__(config)
        self.active: set[int] = set()
        self._new_streams = 0

    @property
    def open_inbound_streams(self) -> int:
        self._new_streams += 1
        if self._new_streams % self.PRUNE_EVERY == 0:
            return super().open_inbound_streams
        return len(self.active)


class _PlainEncoder(Encoder):
    """HPACK without Huffman coding: cheaper for the fake and for the client reading it."""

    def encode(self, headers: Any, huffman: bool = False) -> bytes:
        return super().encode(headers, huffman=False)


class ServerConnection(asyncio.Protocol):
    """One client connection: feeds bytes to h2, hands complete requests to the handler."""

    def __init__(self, server: H2Server) -> None:
        self._server = server
        self._h2 = _H2Connection(
            H2Configuration(
                client_side=False,
                header_encoding=None,
                validate_inbound_headers=False,
                normalize_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        self._h2.encoder = _PlainEncoder()
        self._transport: asyncio.Transport | None = None
        self._headers: dict[int, list[tuple[bytes, bytes]]] = {}
        self._bodies: dict[int, bytearray] = {}
        self._unsent: dict[int, memoryview] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._flush_scheduled = False
        self._going_away = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.peer_certificate: dict[str, object] | None = None
        """The client's verified certificate (`ssl.SSLSocket.getpeercert()` form), if it sent one."""
        self.state: dict[str, object] = {}
        """Free space for the handler's per-connection facts (such as "authenticated")."""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.peer_certificate = transport.get_extra_info("peercert") or None
        self._server.connections.add(self)
        self._h2.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: self._server.max_concurrent_streams,
                SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
                SettingCodes.ENABLE_PUSH: 0,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_WINDOW)
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as exc:
            self._server.protocol_errors += 1
            log.warning("h2server.protocol_error", error=type(exc).__name__, detail=str(exc))
            self._close_with_error(ErrorCodes.PROTOCOL_ERROR)
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self._h2.active.add(event.stream_id or 0)
                self._headers[event.stream_id] = event.headers  # bytes: header_encoding=None
            elif isinstance(event, DataReceived):
                self._receive_body(event)
            elif isinstance(event, StreamEnded):
                self._dispatch(event.stream_id)
            elif isinstance(event, WindowUpdated):
                self._resume_sending(event.stream_id)
            elif isinstance(event, StreamReset):
                self._forget(event.stream_id)
            elif isinstance(event, ConnectionTerminated):
                self._going_away = True
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        for stream_id in list(self._tasks) + list(self._timers):
            self._forget(stream_id)
        if not self.closed.done():
            self.closed.set_result(None)

    # controls

    def set_max_concurrent_streams(self, limit: int) -> None:
        """Announce a new SETTINGS_MAX_CONCURRENT_STREAMS; it applies once the client acknowledges."""
        if self._h2.local_settings.max_concurrent_streams != limit:
            self._h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: limit})
            self._schedule_flush()

    @property
    def max_concurrent_streams(self) -> int:
        return self._h2.local_settings.max_concurrent_streams

    def go_away(
        self,
        error_code: int = ErrorCodes.NO_ERROR,
        debug_data: bytes = b"",
        last_stream_id: int | None = None,
    ) -> None:
        """Send GOAWAY, keep answering streams up to `last_stream_id`, close when they are done."""
        if self._transport is None or self._transport.is_closing():
            return
        if last_stream_id is None:
            last_stream_id = self._h2.highest_inbound_stream_id
        # Written past h2, whose state machine allows nothing after its own GOAWAY,
        # so that the streams this GOAWAY still covers can be answered.
        frame = GoAwayFrame(
            0, last_stream_id=last_stream_id, error_code=error_code, additional_data=debug_data
        )
        self._flush()
        self._transport.write(frame.serialize())
        self._going_away = True
        for stream_id in [s for s in (*self._tasks, *self._timers) if s > last_stream_id]:
            self._forget(stream_id)
        self._close_if_idle()

    def freeze(self) -> None:
        """Stop reading from the client: no answers, no PING ACKs, as a hung peer behaves."""
        if self._transport is not None:
            self._transport.pause_reading()

    def drop(self) -> None:
        """Cut the connection now: no GOAWAY, no answers for streams in flight."""
        if self._transport is not None:
            self._transport.abort()

    @property
    def open_streams(self) -> int:
        """Streams the client has opened and the server has not finished, stalled ones included."""
        return len(self._h2.active)

    @property
    def _answers_due(self) -> int:
        return len(self._tasks) + len(self._timers) + len(self._unsent)

    # requests

    def _receive_body(self, event: DataReceived) -> None:
        stream_id = event.stream_id
        assert stream_id is not None and event.data is not None
        body = self._bodies.get(stream_id)
        if body is None:
            body = self._bodies[stream_id] = bytearray()
        body += event.data
        self._h2.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
        if len(body) > self._server.max_body_bytes:
            self._bodies.pop(stream_id, None)
            self._headers.pop(stream_id, None)
            self._refuse(stream_id)

    def _dispatch(self, stream_id: int | None) -> None:
        assert stream_id is not None
        raw = self._headers.pop(stream_id, None)
        if raw is None:
            return
        body = self._bodies.pop(stream_id, b"")
        if self._going_away:
            self._refuse(stream_id)
            return
        request = _request(raw, bytes(body), stream_id, self)
        try:
            reply = self._server.handler(request)
        except Exception:
            log.exception("h2server.handler_failed", path=request.path)
            reply = Response(500)
        if inspect.isawaitable(reply):
            self._tasks[stream_id] = asyncio.ensure_future(self._await_reply(stream_id, reply))
        else:
            self._act(stream_id, reply)

    async def _await_reply(self, stream_id: int, pending: Awaitable[Reply]) -> None:
        try:
            reply = await pending
        except Exception:
            log.exception("h2server.handler_failed", stream_id=stream_id)
            reply = Response(500)
        finally:
            self._tasks.pop(stream_id, None)
        self._act(stream_id, reply)
        self._schedule_flush()

    def _act(self, stream_id: int, reply: Reply) -> None:
        if isinstance(reply, Response):
            if reply.delay > 0:
                loop = asyncio.get_running_loop()
                self._timers[stream_id] = loop.call_later(reply.delay, self._respond_later, stream_id, reply)
            else:
                self._respond(stream_id, reply)
        elif isinstance(reply, Drop):
            self.drop()
        elif isinstance(reply, GoAway):
            self.go_away(reply.error_code, reply.debug_data, last_stream_id=stream_id - 2)
        # Stall: nothing to do; the stream stays open until reset or the connection ends.

    def _respond_later(self, stream_id: int, response: Response) -> None:
        self._timers.pop(stream_id, None)
        self._respond(stream_id, response)
        self._flush()

    def _respond(self, stream_id: int, response: Response) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        headers = [(":status", str(response.status)), *response.headers]
        if response.body:
            headers.append(("content-length", str(len(response.body))))
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not response.body)
            if not response.body:
                self._h2.active.discard(stream_id)
        except ProtocolError:  # the client reset the stream meanwhile
            return
        if response.body:
            self._unsent[stream_id] = memoryview(response.body)
            self._resume_sending(stream_id)
        self._close_if_idle()

    def _resume_sending(self, stream_id: int | None) -> None:
        for sid in [stream_id] if stream_id else list(self._unsent):
            data = self._unsent.pop(sid, None)
            while data is not None:
                window = min(self._h2.local_flow_control_window(sid), self._h2.max_outbound_frame_size)
                if window <= 0:
                    self._unsent[sid] = data
                    break
                chunk, rest = data[:window], data[window:]
                self._h2.send_data(sid, chunk.tobytes(), end_stream=not rest)
                if not rest:
                    self._h2.active.discard(sid)
                data = rest or None
        self._close_if_idle()

    def _refuse(self, stream_id: int) -> None:
        self._h2.active.discard(stream_id)
        self._h2.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)

    def _forget(self, stream_id: int | None) -> None:
        if stream_id is None:
            return
        self._h2.active.discard(stream_id)
        self._headers.pop(stream_id, None)
        self._bodies.pop(stream_id, None)
        self._unsent.pop(stream_id, None)
        if (timer := self._timers.pop(stream_id, None)) is not None:
            timer.cancel()
        if (task := self._tasks.pop(stream_id, None)) is not None:
            task.cancel()

    # output

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close_if_idle(self) -> None:
        if self._going_away and not self._answers_due and self._transport is not None:
            self._flush()
            self._transport.close()

    def _close_with_error(self, error_code: ErrorCodes) -> None:
        with contextlib.suppress(ProtocolError):
            self._h2.close_connection(error_code)
        self._flush()
        if self._transport is not None:
            self._transport.close()


def _request(
    raw: list[tuple[bytes, bytes]], body: bytes, stream_id: int, connection: ServerConnection
) -> Request:
    pairs = [(name.decode(), value.decode()) for name, value in raw]
    headers = dict(pairs)
    return Request(
        method=headers.get(":method", ""),
        path=headers.get(":path", ""),
        headers=headers,
        raw_headers=pairs,
        body=body,
        stream_id=stream_id,
        connection=connection,
        open_streams=connection.open_streams,
    )


class H2Server:
    """An HTTP/2-over-TLS server on a free port; an async context manager. See the module docstring."""

    def __init__(
        self,
        handler: Handler,
        ssl_context: ssl.SSLContext,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS,
    ) -> None:
        self.handler = handler
        self.max_concurrent_streams = max_concurrent_streams
        """What new connections announce; change it per connection with `set_max_concurrent_streams`."""
        self.max_body_bytes = MAX_BODY_BYTES
        self.connections: set[ServerConnection] = set()
        self.protocol_errors = 0
        self._ssl_context = ssl_context
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ServerConnection(self), self._host, self._port, ssl=self._ssl_context, backlog=1024
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}:{self.port}"

    def go_away(self, error_code: int = ErrorCodes.NO_ERROR, debug_data: bytes = b"") -> None:
        """GOAWAY on every connection: streams in flight are still answered, then each closes."""
        for connection in list(self.connections):
            connection.go_away(error_code, debug_data)

    def drop_connections(self) -> None:
        """Cut every connection at once, answering nothing."""
        for connection in list(self.connections):
            connection.drop()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        closing = [connection.closed for connection in self.connections]
        self.drop_connections()
        if closing:
            await asyncio.wait(closing, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
