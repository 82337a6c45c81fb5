"""One client HTTP/2 connection over TLS, on the `h2` state machine, for providers that need speed.

Why not httpx: see the top of `providers/apns.py` (measured there). This is the least a
push provider needs: many concurrent requests on one long-lived connection, the
server's SETTINGS_MAX_CONCURRENT_STREAMS, flow control, GOAWAY, PING, and a clean
stream reset when the caller gives up (its `asyncio.timeout`, or cancellation).

Failures are `H2Error`s, each saying whether the server may have processed the request:
`ConnectionLost` and `StreamReset` (maybe), `GoAwayReceived` (not: its stream id is past
the GOAWAY's last stream id), `ConnectFailed` (not).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from h2.config import H2Configuration
from h2.connection import ConnectionInputs, H2Connection, H2ConnectionStateMachine
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingAckReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    SettingsAcknowledged,
    StreamEnded,
    WindowUpdated,
)
from h2.events import StreamReset as StreamResetEvent
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings
from hpack import NeverIndexedHeaderTuple

from pushrelay.providers.h2encoder import RequestEncoder

_WINDOW = 1 << 20
MAX_RESPONSE_BYTES = 1 << 16


class H2Error(Exception):
    """The request did not get a response."""


class ConnectFailed(H2Error):
    """TCP, TLS or the HTTP/2 preface failed; nothing was sent."""


class ConnectionLost(H2Error):
    """The connection closed before the response arrived."""


class StreamReset(H2Error):
    """The server reset the request's stream (RST_STREAM)."""

    def __init__(self, error_code: int) -> None:
        super().__init__(f"stream reset: {_error_name(error_code)}")
        self.error_code = error_code


class GoAwayReceived(H2Error):
    """The server sent GOAWAY and will not process this request."""

    def __init__(self, error_code: int) -> None:
        super().__init__(f"goaway: {_error_name(error_code)}")
        self.error_code = error_code


@dataclass(frozen=True, slots=True)
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _GoAwayTolerantStateMachine(H2ConnectionStateMachine):
    """h2 closes the connection state on receiving GOAWAY and then refuses every later frame,
    so the answers to streams the GOAWAY still covers would be lost and those pushes retried
    (delivered twice). RFC 9113 §6.8 says they are still processed: stay open for them; the
    connection opens no new streams once `going_away` is set."""

    def process_input(self, input_: ConnectionInputs) -> list[Event]:
        if input_ is ConnectionInputs.RECV_GOAWAY:
            return []
        return super().process_input(input_)


class _H2Connection(H2Connection):
    """h2 counts open streams by walking every stream it knows, on every new stream: with a
    thousand in flight that was the largest cost of a push. The pool never opens more
    streams than the server allows, so the count comes from our own books, and h2 walks
    (and prunes its closed streams) only once every `PRUNE_EVERY` new streams."""

    PRUNE_EVERY = 256

    def __init__(self, config: H2Configuration, count_open: Callable[[], int]) -> None:
        super().__init__(config)
        self.state_machine = _GoAwayTolerantStateMachine()
        self._count_open = count_open
        self._new_streams = 0

    @property
    def open_outbound_streams(self) -> int:
        self._new_streams += 1
        if self._new_streams % self.PRUNE_EVERY == 0:
            return super().open_outbound_streams
        return self._count_open()


class _Stream:
    __slots__ = ("body", "future", "headers", "status", "unsent")

    def __init__(self, future: asyncio.Future[H2Response], unsent: bytes) -> None:
        self.future = future
        self.unsent = memoryview(unsent)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()


class H2ClientConnection(asyncio.Protocol):
    """An open HTTP/2 client connection. Open one with `await H2ClientConnection.open(...)`."""

    def __init__(self) -> None:
        self._streams: dict[int, _Stream] = {}
        self._h2 = _H2Connection(
            H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_inbound_headers=False,
                normalize_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            ),
            count_open=self._streams.__len__,
        )
        # No Huffman coding; and `authorization` stays indexable (h2's normalisation would
        # make it never-indexed), so the JWT crosses the wire once per connection, not per push.
        self._h2.encoder = RequestEncoder()
        self._transport: asyncio.Transport | None = None
        self._settings_received: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._flush_scheduled = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.going_away = False
        self.reserved = 0
        """Stream slots the pool has handed out; at most `max_streams`."""
        self.on_change: list[Callable[[], None]] = []
        """Called when capacity may have changed: settings, GOAWAY, closed."""
        self.last_heard = asyncio.get_running_loop().time()
        """When the server last sent anything (the event loop's clock)."""
        self.authority = b""

    @classmethod
    async def open(
        cls, host: str, port: int, ssl_context: ssl.SSLContext, server_hostname: str | None = None
    ) -> H2ClientConnection:
        """Connect, check ALPN h2 and wait for the server's first SETTINGS. Raises ConnectFailed."""
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                cls, host, port, ssl=ssl_context, server_hostname=server_hostname or host
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        ssl_object = connection._transport.get_extra_info("ssl_object") if connection._transport else None
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            connection.close()
            raise ConnectFailed("the server did not agree to HTTP/2 (ALPN h2)")
        try:
            await asyncio.shield(connection._settings_received)
        except ConnectionLost as exc:
            raise ConnectFailed(str(exc)) from exc
        connection.authority = (host if port == 443 else f"{host}:{port}").encode()
        return connection

    @property
    def max_streams(self) -> int:
        """The server's SETTINGS_MAX_CONCURRENT_STREAMS."""
        return self._h2.remote_settings.max_concurrent_streams

    @property
    def is_usable(self) -> bool:
        return not self.going_away and not self.closed.done()

    @property
    def in_flight(self) -> int:
        return len(self._streams)

    async def request(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> H2Response:
        """Send one request and wait for its response; cancel to reset the stream."""
        if not self.is_usable:
            raise ConnectionLost("connection is closing")
        stream_id = self._h2.get_next_available_stream_id()
        try:
            self._h2.send_headers(
                stream_id, self._request_headers(method, path, headers), end_stream=not body
            )
        except ProtocolError as exc:
            raise ConnectionLost(f"cannot open a stream: {exc}") from exc
        future: asyncio.Future[H2Response] = asyncio.get_running_loop().create_future()
        stream = self._streams[stream_id] = _Stream(future, body)  # after: h2 counts open streams
        if body:
            self._send_body(stream_id, stream)
        self._schedule_flush()
        try:
            return await future
        finally:
            if self._streams.pop(stream_id, None) is not None:
                self._reset(stream_id)  # cancelled or timed out: tell the server we gave up

    async def ping(self) -> None:
        """Send PING and wait for its ACK; the caller bounds the wait."""
        if self.closed.done():
            raise ConnectionLost("connection closed")
        opaque = os.urandom(8)
        future = self._pings[opaque] = asyncio.get_running_loop().create_future()
        try:
            self._h2.ping(opaque)
            self._schedule_flush()
            await future
        finally:
            self._pings.pop(opaque, None)

    def close(self) -> None:
        """Close now: requests in flight fail with ConnectionLost."""
        if self._transport is not None and not self._transport.is_closing():
            try:
                self._h2.close_connection()
                self._flush()
            except ProtocolError:
                pass
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._h2.local_settings = Settings(
            client=True,
            initial_values={
                SettingCodes.ENABLE_PUSH: 0,
                SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
                SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_WINDOW)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.last_heard = asyncio.get_running_loop().time()
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as exc:
            self._fail_all(ConnectionLost(f"protocol error: {type(exc).__name__}"))
            self.close()
            return
        for event in events:
            if isinstance(event, ResponseReceived):
                self._receive_headers(event)
            elif isinstance(event, DataReceived):
                self._receive_data(event)
            elif isinstance(event, StreamEnded):
                self._complete(event.stream_id)
            elif isinstance(event, StreamResetEvent):
                self._fail(event.stream_id, StreamReset(event.error_code or 0))
            elif isinstance(event, WindowUpdated):
                self._resume_sending(event.stream_id)
            elif isinstance(event, RemoteSettingsChanged):
                self._settings_changed()
            elif isinstance(event, ConnectionTerminated):
                self._go_away(event)
            elif isinstance(event, PingAckReceived):
                self._ping_acknowledged(event.ping_data)
            elif isinstance(event, SettingsAcknowledged):
                pass
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"{type(exc).__name__}: {exc}" if exc else "closed by the server"
        self._fail_all(ConnectionLost(f"connection lost ({reason})"))
        if not self._settings_received.done():
            self._settings_received.set_exception(ConnectionLost(reason))
            self._settings_received.exception()  # retrieved: nobody may be waiting
        for future in self._pings.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
        if not self.closed.done():
            self.closed.set_result(None)
        self._notify()

    # events

    def _receive_headers(self, event: ResponseReceived) -> None:
        stream = self._streams.get(event.stream_id or 0)
        if stream is None:
            return
        for name, value in event.headers or ():
            if name == b":status":
                stream.status = int(value)
            else:
                stream.headers[name.decode()] = value.decode(errors="replace")

    def _receive_data(self, event: DataReceived) -> None:
        stream_id = event.stream_id or 0
        self._h2.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
        stream = self._streams.get(stream_id)
        if stream is not None and event.data:
            stream.body += event.data
            if len(stream.body) > MAX_RESPONSE_BYTES:
                self._fail(stream_id, ConnectionLost("response too large"))
                self._reset(stream_id)

    def _complete(self, stream_id: int | None) -> None:
        stream = self._streams.pop(stream_id or 0, None)
        if stream is not None and not stream.future.done():
            stream.future.set_result(H2Response(stream.status, stream.headers, bytes(stream.body)))

    def _fail(self, stream_id: int | None, error: H2Error) -> None:
        stream = self._streams.pop(stream_id or 0, None)
        if stream is not None and not stream.future.done():
            stream.future.set_exception(error)

    def _fail_all(self, error: H2Error) -> None:
        for stream_id in list(self._streams):
            self._fail(stream_id, error)

    def _settings_changed(self) -> None:
        if not self._settings_received.done():
            self._settings_received.set_result(None)
        self._notify()

    def _go_away(self, event: ConnectionTerminated) -> None:
        self.going_away = True
        error = GoAwayReceived(event.error_code or 0)
        last = event.last_stream_id or 0
        for stream_id in [s for s in self._streams if s > last]:
            self._fail(stream_id, error)
        if not self._streams:
            self.close()
        self._notify()

    def _ping_acknowledged(self, opaque: bytes | None) -> None:
        future = self._pings.get(opaque or b"")
        if future is not None and not future.done():
            future.set_result(None)

    # output

    def _send_body(self, stream_id: int, stream: _Stream) -> None:
        data = stream.unsent
        while data:
            window = min(self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size)
            if window <= 0:
                break
            self._h2.send_data(stream_id, data[:window].tobytes(), end_stream=len(data) <= window)
            data = data[window:]
        stream.unsent = data

    def _resume_sending(self, stream_id: int | None) -> None:
        streams = [stream_id] if stream_id else list(self._streams)
        for sid in streams:
            stream = self._streams.get(sid or 0)
            if stream is not None and stream.unsent:
                self._send_body(sid or 0, stream)

    def _reset(self, stream_id: int) -> None:
        try:
            self._h2.reset_stream(stream_id, ErrorCodes.CANCEL)
        except ProtocolError:
            return  # already closed at the h2 level
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _request_headers(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        return [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", self.authority),
            NeverIndexedHeaderTuple(b":path", path.encode()),  # one per device: keep it out of the table
            *headers,
        ]

    def _notify(self) -> None:
        for callback in self.on_change:
            callback()


def _error_name(code: int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return str(code)
