"""The XEP-0114 component: one connection to the user's XMPP server, kept up with backoff.

It answers disco (identity `pubsub/push`, XEP-0357 §4.2), routes pubsub publishes to the
PushService and ad-hoc commands to the registration dialects, and renders each Verdict as
the IQ reply: always a reply, always from exactly the JID the IQ was sent to, and with
`fix_error_ns=True` so the `<error/>` is in the stream's namespace (reference/xep0357.md §7:
without it Prosody cannot read the error type and counts even a `wait`).

Each IQ is handled in a task this component owns (bounded by `max_in_flight`; past it the
IQ is answered `wait/resource-constraint` at once); `stop()` lets running ones finish.
"""

from __future__ import annotations

import asyncio
import logging
import random
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Final, cast

import structlog
from slixmpp import Iq
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp.xmlstream.stanzabase import StanzaBase

from pushrelay.config import XmppSettings

from .registration import Registration
from .stanza import COMMANDS_NS, PUBSUB_NS, PUSH_NS, Malformed, parse_command, parse_publish
from .verdict import INTERNAL, OVERLOADED, Accepted, Refusal
from .xep_0357 import PushService

log = structlog.get_logger(__name__)

# slixmpp logs every stanza it sends and receives at DEBUG: JIDs, node secrets, message bodies.
# Keep it quiet whatever level the operator picks for pushrelay (R12).
logging.getLogger("slixmpp").setLevel(logging.WARNING)

STREAM_NS: Final = "jabber:component:accept"
CONNECT_TIMEOUT: Final = 10.0
STOP_GRACE: Final = 5.0


class XmppComponent:
    """`async start()` / `async stop()`: the app's lifespan runs it when `[xmpp] enabled`."""

    def __init__(
        self,
        settings: XmppSettings,
        push: PushService,
        registration: Registration,
        rng: random.Random | None = None,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self._push = push
        self._registration = registration
        self._rng = rng or random.Random()
        self._on_start = on_start
        self._on_stop = on_stop
        self._stream = self._new_stream()
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = asyncio.Event()
        self._disconnected = asyncio.Event()
        self.connections = 0
        """How many times the component authenticated (tests watch reconnects with it)."""
        self.publishes = 0
        """How many publish IQs arrived (tests see a server stop pushing; the benchmark counts)."""

    @property
    def is_connected(self) -> bool:
        return self._started.is_set()

    @property
    def in_flight(self) -> int:
        """IQs being handled, not answered yet."""
        return len(self._tasks)

    async def start(self) -> None:
        if self._on_start is not None:
            await self._on_start()
        self._supervisor = asyncio.create_task(self._stay_connected(), name="xmpp-component")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_stream()
        if self._on_stop is not None:
            await self._on_stop()

    async def wait_connected(self, within: float) -> None:
        """Until the component is authenticated (tests and the benchmark use it)."""
        await asyncio.wait_for(self._started.wait(), within)

    # connection

    def _new_stream(self) -> ComponentXMPP:
        host, _, port = self.settings.server.rpartition(":")
        # slixmpp leaves ComponentXMPP.__init__ unannotated.
        stream = ComponentXMPP(  # type: ignore[no-untyped-call]
            self.settings.jid, self.settings.secret, host, int(port), fix_error_ns=True
        )
        stream.register_plugin("xep_0030")
        stream.register_plugin("xep_0199")
        stream.add_event_handler("session_start", self._on_session_start)
        stream.add_event_handler("disconnected", self._on_disconnected)
        stream.add_event_handler("connection_failed", self._on_disconnected)
        iq = f"{{{STREAM_NS}}}iq"
        stream.register_handler(
            Callback("xep-0357 publish", MatchXPath(f"{iq}/{{{PUBSUB_NS}}}pubsub"), self._on_publish)
        )
        stream.register_handler(
            Callback("xep-0050 command", MatchXPath(f"{iq}/{{{COMMANDS_NS}}}command"), self._on_command)
        )
        return stream

    async def _stay_connected(self) -> None:
        attempt = 0
        while True:
            if await self._connect_once():
                attempt = 0
                self.connections += 1
                log.info("xmpp.connected", jid=self.settings.jid, server=self.settings.server)
                await self._disconnected.wait()
                log.warning("xmpp.disconnected", jid=self.settings.jid)
            attempt += 1
            delay = min(self.settings.reconnect_max, 0.25 * 2**attempt) * self._rng.uniform(0.5, 1.0)
            log.info("xmpp.reconnecting", attempt=attempt, delay=round(delay, 2))
            await asyncio.sleep(delay)

    async def _connect_once(self) -> bool:
        self._started.clear()
        self._disconnected.clear()
        self._stream.connect()
        started = asyncio.ensure_future(self._started.wait())
        lost = asyncio.ensure_future(self._disconnected.wait())
        try:
            await asyncio.wait({started, lost}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            lost.cancel()
        if self.is_connected:
            return True
        self._stream.cancel_connection_attempt()
        self._stream.abort()
        return False

    async def _close_stream(self) -> None:
        self._stream.cancel_connection_attempt()
        if self.is_connected:
            try:
                await asyncio.wait_for(self._stream.disconnect(wait=1.0), timeout=2.0)
            except TimeoutError:
                self._stream.abort()
        self._started.clear()
        # slixmpp cancels its outgoing-filter task only when the stream is garbage collected, too
        # late to be awaited: asyncio then logs "Task was destroyed but it is pending!" at ERROR.
        filters = self._stream._run_out_filters
        if filters is not None:
            filters.cancel()
            await asyncio.gather(filters, return_exceptions=True)

    def _on_session_start(self, _event: object) -> None:
        self._advertise()
        self._started.set()

    def _on_disconnected(self, _event: object) -> None:
        self._started.clear()
        self._disconnected.set()

    def _advertise(self) -> None:
        """Disco#info identity and features (XEP-0357 §4.2), disco#items the commands (XEP-0050)."""
        disco = self._stream.plugin["xep_0030"]
        jid = self._stream.boundjid
        disco.add_identity(category="pubsub", itype="push", name="pushrelay", jid=jid)
        for feature in (PUSH_NS, COMMANDS_NS, *self._registration.features):
            disco.add_feature(feature, jid=jid)
        for command in self._registration.commands:
            disco.add_item(jid=jid.full, name=command.name, node=COMMANDS_NS, subnode=command.node, ijid=jid)

    # stanzas

    def _on_publish(self, iq: StanzaBase) -> None:
        self.publishes += 1
        self._spawn(cast(Iq, iq), self._answer_publish)

    def _on_command(self, iq: StanzaBase) -> None:
        self._spawn(cast(Iq, iq), self._answer_command)

    def _spawn(self, iq: Iq, handler: Callable[[Iq], Awaitable[None]]) -> None:
        if len(self._tasks) >= self.settings.max_in_flight:
            self._reply_error(iq, OVERLOADED)
            return
        task = asyncio.create_task(self._guarded(iq, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, iq: Iq, handler: Callable[[Iq], Awaitable[None]]) -> None:
        try:
            await handler(iq)
        except Malformed as exc:
            self._reply_error(iq, Refusal(exc.error_type, exc.condition, exc.text))
        except Exception:  # the task's top: log, count, and still answer the IQ
            log.exception("xmpp.handler_failed")
            self._reply_error(iq, INTERNAL)

    async def _answer_publish(self, iq: Iq) -> None:
        if iq["type"] != "set":
            raise Malformed("publish needs type set", "bad-request")
        pubsub = iq.xml.find(f"{{{PUBSUB_NS}}}pubsub")
        assert pubsub is not None  # the matcher saw it
        verdict = await self._push.publish(parse_publish(pubsub), iq["from"])
        if isinstance(verdict, Accepted):
            self._reply(iq)
        else:
            self._reply_error(iq, verdict)

    async def _answer_command(self, iq: Iq) -> None:
        if iq["type"] != "set":
            raise Malformed("commands are executed with type set", "bad-request")
        element = iq.xml.find(f"{{{COMMANDS_NS}}}command")
        assert element is not None
        reply = await self._registration.handle(parse_command(element), iq["from"], iq["to"].full)
        self._reply(iq, reply)

    def _reply(self, iq: Iq, payload: ET.Element | None = None) -> None:
        reply = iq.reply(clear=True)  # type: ignore[no-untyped-call]  # slixmpp leaves Iq.reply unannotated
        if payload is not None:
            reply.append(payload)
        reply.send()

    def _reply_error(self, iq: Iq, refusal: Refusal) -> None:
        reply = iq.reply(clear=True)  # type: ignore[no-untyped-call]  # slixmpp leaves Iq.reply unannotated
        reply["type"] = "error"
        reply["error"]["type"] = refusal.error_type
        reply["error"]["condition"] = refusal.condition
        if refusal.text:
            reply["error"]["text"] = refusal.text
        reply.send()
