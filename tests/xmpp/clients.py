"""slixmpp clients playing the phones' XMPP side: Conversations, Siskin, ChatSecure, Monal.

They register with the app server by ad-hoc command, `<enable/>` push on their own server,
go offline (or drop the socket so that smacks hibernates the session), and send messages.
Errors are read from the raw XML: the component's `fix_error_ns=True` re-registers
slixmpp's Error stanza class process-wide under the component namespace.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from pushrelay.protocols.xmpp.stanza import COMMANDS_NS, DATA_NS, PUBLISH_OPTIONS_FORM, PUBSUB_NS, PUSH_NS

from .servers import DOMAIN, PASSWORD

STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
CHATSTATES_NS = "http://jabber.org/protocol/chatstates"


@dataclass(frozen=True)
class Answer:
    """An IQ reply: its type, the error type and condition if any, the payload element."""

    type: str
    error_type: str | None
    condition: str | None
    xml: ET.Element

    def form(self) -> dict[str, list[str]]:
        x = self.xml.find(f".//{{{DATA_NS}}}x")
        if x is None:
            return {}
        return {
            f.get("var", ""): [v.text or "" for v in f.findall(f"{{{DATA_NS}}}value")]
            for f in x.findall(f"{{{DATA_NS}}}field")
        }


def answer_of(xml: ET.Element) -> Answer:
    error = next((child for child in xml if child.tag.endswith("}error") or child.tag == "error"), None)
    if error is None:
        return Answer(xml.get("type", ""), None, None, xml)
    condition = next((c.tag.split("}")[1] for c in error if c.tag.startswith(f"{{{STANZAS_NS}}}")), None)
    if condition == "text":
        condition = next(c.tag.split("}")[1] for c in error if not c.tag.endswith("}text"))
    return Answer("error", error.get("type"), condition, xml)


def data_form(fields: Mapping[str, str], form_type: str | None = None) -> ET.Element:
    x = ET.Element(f"{{{DATA_NS}}}x", {"type": "submit"})
    if form_type is not None:
        field = ET.SubElement(x, f"{{{DATA_NS}}}field", {"var": "FORM_TYPE"})
        ET.SubElement(field, f"{{{DATA_NS}}}value").text = form_type
    for var, value in fields.items():
        field = ET.SubElement(x, f"{{{DATA_NS}}}field", {"var": var})
        ET.SubElement(field, f"{{{DATA_NS}}}value").text = value
    return x


class Phone(ClientXMPP):
    """One account on one phone."""

    def __init__(self, user: str, port: int, *, smacks: bool = False) -> None:
        super().__init__(
            f"{user}@{DOMAIN}/phone",
            PASSWORD,
            plugin_config={
                "feature_mechanisms": {"unencrypted_plain": True},
            },
        )
        self.enable_starttls = False
        self.enable_direct_tls = False
        self.enable_plaintext = True
        self.port = port
        self.register_plugin("xep_0030")
        if smacks:
            self.register_plugin("xep_0198")
        self.received: list[str] = []
        self.add_event_handler("message", lambda m: self.received.append(m["body"]))

    async def online(self) -> Phone:
        started = asyncio.get_running_loop().create_future()
        self.add_event_handler(
            "session_start", lambda _: started.done() or started.set_result(None), disposable=True
        )
        self.connect("127.0.0.1", self.port)
        await asyncio.wait_for(started, 10)
        self.send_presence()
        return self

    async def offline(self) -> None:
        await self.disconnect(wait=2.0)

    def drop_socket(self) -> None:
        """Lose the connection without closing the stream: smacks hibernates the session."""
        assert self.transport is not None
        self.transport.abort()

    async def iq(self, to: str | None, payload: ET.Element, kind: str = "set") -> Answer:
        iq = self.make_iq_set(ito=to) if kind == "set" else self.make_iq_get(ito=to)
        iq.append(payload)
        try:
            reply = await iq.send(timeout=10)
        except IqError as exc:
            return answer_of(exc.iq.xml)
        return answer_of(reply.xml)

    async def command(
        self, to: str, node: str, fields: Mapping[str, str] | None, action: str | None = "execute"
    ) -> Answer:
        attrs = {"node": node} if action is None else {"node": node, "action": action}
        command = ET.Element(f"{{{COMMANDS_NS}}}command", attrs)
        if fields is not None:
            command.append(data_form(fields))
        return await self.iq(to, command)

    async def enable(self, jid: str, node: str, options: Mapping[str, str] | None = None) -> Answer:
        enable = ET.Element(f"{{{PUSH_NS}}}enable", {"jid": jid, "node": node})
        if options:
            enable.append(data_form(options, "http://jabber.org/protocol/pubsub#publish-options"))
        return await self.iq(None, enable)

    async def disable(self, jid: str) -> Answer:
        return await self.iq(None, ET.Element(f"{{{PUSH_NS}}}disable", {"jid": jid}))

    def say(self, user: str, body: str) -> None:
        self.send_message(mto=f"{user}@{DOMAIN}", mbody=body, mtype="chat")

    def start_typing(self, user: str) -> None:
        """A chat state and no body: a stanza Prosody pushes as "unimportant" (empty summary body)."""
        message = self.make_message(mto=f"{user}@{DOMAIN}", mtype="chat")
        message.append(ET.Element(f"{{{CHATSTATES_NS}}}composing"))
        message.send()


def publish_stanza(node: str, options: Mapping[str, str] | None = None) -> ET.Element:
    """A user's server's publish with an empty notification (ejabberd's shape) and publish-options."""
    pubsub = ET.Element(f"{{{PUBSUB_NS}}}pubsub")
    publish = ET.SubElement(pubsub, f"{{{PUBSUB_NS}}}publish", {"node": node})
    ET.SubElement(ET.SubElement(publish, f"{{{PUBSUB_NS}}}item"), f"{{{PUSH_NS}}}notification")
    if options is not None:
        container = ET.SubElement(pubsub, f"{{{PUBSUB_NS}}}publish-options")
        container.append(data_form(options, PUBLISH_OPTIONS_FORM))
    return pubsub
