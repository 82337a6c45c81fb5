"""A raw XEP-0114 server side: accepts one component, sends it stanzas, collects its replies.

It plays the user's XMPP server at the byte level, with nothing between it and the component:
the benchmark drives the component's own ceiling with it, and tests read the exact XML the
component answers (error namespace, `from`). Loopback only; bounded by what the caller sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import cast

STREAM_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns='jabber:component:accept' from='{jid}' id='{id}'>"
)


class RawComponentServer:
    def __init__(self, jid: str, secret: str) -> None:
        self.jid = jid
        self.secret = secret
        self.port = 0
        self.replies: asyncio.Queue[ET.Element] = asyncio.Queue()
        self.on_reply: Callable[[ET.Element], None] | None = None
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._authenticated = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def authenticated(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self._authenticated.wait(), within)

    def send(self, xml: str) -> None:
        assert self._writer is not None, "no component connected"
        self._writer.write(xml.encode())

    async def drain(self) -> None:
        assert self._writer is not None
        await self._writer.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        stream_id = secrets.token_hex(8)
        parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(("start", "end"))
        depth = 0
        root: ET.Element | None = None
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                for pair in parser.read_events():
                    event, element = cast(tuple[str, ET.Element], pair)  # start/end events carry elements
                    if event == "start":
                        depth += 1
                        if depth == 1:
                            root = element
                            self._writer = writer
                            writer.write(STREAM_HEADER.format(jid=self.jid, id=stream_id).encode())
                        continue
                    depth -= 1
                    if depth == 1:
                        self._handle(element, stream_id, writer)
                        if root is not None:
                            root.clear()  # keep memory flat over a long benchmark
        except (ConnectionError, ET.ParseError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _handle(self, element: ET.Element, stream_id: str, writer: asyncio.StreamWriter) -> None:
        if element.tag.endswith("}handshake"):
            expected = hashlib.sha1(f"{stream_id}{self.secret}".encode()).hexdigest()
            if element.text == expected:
                writer.write(b"<handshake/>")
                self._authenticated.set()
            else:
                writer.write(
                    b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                    b"</stream:error></stream:stream>"
                )
            return
        if self.on_reply is not None:
            self.on_reply(element)
        else:
            self.replies.put_nowait(element)
