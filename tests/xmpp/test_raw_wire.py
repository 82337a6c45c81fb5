"""The exact XML the component answers, read off the socket by a raw XEP-0114 server."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushrelay.app import Runtime
from pushrelay.protocols.xmpp import XmppComponent, build
from pushrelay.testing.xmpp_server import RawComponentServer

from .conftest import relay_settings
from .servers import COMPONENT_JID, COMPONENT_SECRET, XmppServer

PUBLISH = (
    "<iq type='set' id='{id}' from='localhost' to='push.localhost'>"
    "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='{node}'><item>"
    "<notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>"
)


class RawServer(XmppServer):
    name = "raw"

    def __init__(self, port: int) -> None:
        self.component_port = port


@pytest.fixture
async def raw() -> AsyncIterator[RawComponentServer]:
    server = RawComponentServer(COMPONENT_JID, COMPONENT_SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def wired(tmp_path: Path, raw: RawComponentServer) -> AsyncIterator[XmppComponent]:
    runtime = Runtime(relay_settings(tmp_path, RawServer(raw.port)))
    await runtime.start()
    component = build(runtime.relay)
    await component.start()
    await raw.authenticated()
    yield component
    await component.stop()
    await runtime.stop()


async def test_error_is_in_the_stream_namespace_and_from_the_exact_jid(
    wired: XmppComponent, raw: RawComponentServer
) -> None:
    """reference/xep0357.md §7 [V]: with fix_error_ns the <error/> is in jabber:component:accept, so
    Prosody reads its type; the reply comes from exactly the JID the publish went to."""
    raw.send(PUBLISH.format(id="p1", node="unknown"))
    reply = await raw.replies.get()
    assert (reply.get("type"), reply.get("id"), reply.get("from"), reply.get("to")) == (
        "error",
        "p1",
        COMPONENT_JID,
        "localhost",
    )
    error = reply.find("{jabber:component:accept}error")
    assert error is not None and error.get("type") == "cancel"
    assert error.find("{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None


async def test_every_iq_gets_a_reply_even_a_publish_of_the_wrong_type(
    wired: XmppComponent, raw: RawComponentServer
) -> None:
    """XEP-0357 §7 / RFC 6120 §8.2.3: always answer; a pubsub get is a bad request."""
    raw.send(PUBLISH.format(id="g1", node="n").replace("type='set'", "type='get'"))
    reply = await asyncio_get(raw)
    assert reply.get("type") == "error" and reply.get("id") == "g1"


async def asyncio_get(raw: RawComponentServer) -> ET.Element:
    return await asyncio.wait_for(raw.replies.get(), 5)
