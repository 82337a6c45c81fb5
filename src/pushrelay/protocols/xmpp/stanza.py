"""Wire parsing for the XEP-0357 app server: publishes, data forms and ad-hoc commands.

Parsers take the `xml.etree` element slixmpp hands over and return frozen dataclasses, or
raise `Malformed` naming the XMPP error to answer. They are tolerant where real servers
differ (reference/xep0357.md §3, §7): the summary form sits in `notification/x` (Prosody
since 2021, ejabberd) or `item/x` (older Prosody); its `type` is anything; empty fields mean
absent; ejabberd sends an empty `<notification/>`. They are strict about size: a form with
too many fields or too long a value is refused before anything reads it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

PUSH_NS: Final = "urn:xmpp:push:0"
PUBSUB_NS: Final = "http://jabber.org/protocol/pubsub"
DATA_NS: Final = "jabber:x:data"
COMMANDS_NS: Final = "http://jabber.org/protocol/commands"
SUMMARY_FORM: Final = "urn:xmpp:push:summary"
PUBLISH_OPTIONS_FORM: Final = "http://jabber.org/protocol/pubsub#publish-options"
TIGASE_ENCRYPT_NS: Final = "tigase:push:encrypt:0"
TIGASE_PRIORITY_NS: Final = "tigase:push:priority:0"

MAX_FIELDS: Final = 32
MAX_VALUES: Final = 8
MAX_VALUE_CHARS: Final = 4096
MAX_ENCRYPTED_CHARS: Final = 8192


class Malformed(Exception):
    """A stanza that cannot be accepted; `condition` and `error_type` are the XMPP error to answer."""

    def __init__(self, text: str, condition: str = "bad-request", error_type: str = "modify") -> None:
        super().__init__(text)
        self.text = text
        self.condition = condition
        self.error_type = error_type


def q(namespace: str, name: str) -> str:
    """The ElementTree name of `name` in `namespace`."""
    return f"{{{namespace}}}{name}"


Form = Mapping[str, tuple[str, ...]]
"""A data form's fields: var → values, FORM_TYPE included, empty fields left out."""


def parse_form(x: ET.Element) -> dict[str, tuple[str, ...]]:
    """Read a `jabber:x:data` form, refusing one too large to be honest input."""
    fields = x.findall(q(DATA_NS, "field"))
    if len(fields) > MAX_FIELDS:
        raise Malformed(f"form has more than {MAX_FIELDS} fields")
    form: dict[str, tuple[str, ...]] = {}
    for f in fields:
        var = f.get("var")
        values = [v.text or "" for v in f.findall(q(DATA_NS, "value"))]
        if not var or len(values) > MAX_VALUES or any(len(v) > MAX_VALUE_CHARS for v in values):
            raise Malformed("form field without var, or too many or too long values")
        kept = tuple(v for v in values if v.strip())
        if kept:
            form[var] = kept
    return form


def first(form: Form, var: str) -> str | None:
    """The first value of `var`, stripped, or None when the field is absent or empty."""
    values = form.get(var)
    return values[0].strip() if values else None


@dataclass(frozen=True, slots=True)
class Summary:
    """The `urn:xmpp:push:summary` form (XEP-0357 §11.3), every field optional."""

    message_count: int | None = None
    last_message_sender: str | None = None
    last_message_body: str | None = None
    last_message_priority: str | None = None
    """chrisballinger's mod_cloud_notify fork (read by RubDub): `high` or `low`."""

    @property
    def has_body(self) -> bool:
        """The de-facto "important" flag: Prosody fills the body only for important stanzas."""
        return bool(self.last_message_body)


@dataclass(frozen=True, slots=True)
class Encrypted:
    """A Tigase encrypted push (`tigase:push:encrypt:0`): opaque to us, forwarded unchanged."""

    iv: str
    payload: str
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    """One XEP-0357 publish: which node, what the summary says, which publish options came with it."""

    node: str
    summary: Summary = Summary()
    options: Form = field(default_factory=dict)
    encrypted: Encrypted | None = None
    high_priority_tag: bool = False

    @property
    def is_important(self) -> bool:
        return self.summary.has_body or self.high_priority_tag or self.summary.last_message_priority == "high"


def parse_publish(pubsub: ET.Element) -> Publish:
    """Read a `<pubsub><publish node=…><item>…</item></publish><publish-options/></pubsub>` element."""
    if pubsub.tag != q(PUBSUB_NS, "pubsub"):
        raise Malformed("not a pubsub element", "feature-not-implemented", "cancel")
    publish = pubsub.find(q(PUBSUB_NS, "publish"))
    if publish is None:
        raise Malformed("only publish is supported here", "feature-not-implemented", "cancel")
    node = (publish.get("node") or "").strip()
    if not node or len(node) > MAX_VALUE_CHARS:
        raise Malformed("publish without a node", "bad-request")
    item = publish.find(q(PUBSUB_NS, "item"))
    if item is None:
        raise Malformed("publish without an item", "bad-request")
    notification = item.find(q(PUSH_NS, "notification"))
    return Publish(
        node=node,
        summary=_summary(item, notification),
        options=_publish_options(pubsub),
        encrypted=_encrypted(notification),
        high_priority_tag=_priority_tag(notification),
    )


def _summary(item: ET.Element, notification: ET.Element | None) -> Summary:
    x = None if notification is None else notification.find(q(DATA_NS, "x"))
    if x is None:
        x = item.find(q(DATA_NS, "x"))  # pre-2021 mod_cloud_notify nesting
    if x is None:
        return Summary()
    form = parse_form(x)
    count = first(form, "message-count")
    return Summary(
        message_count=int(count) if count is not None and count.isdigit() and len(count) < 10 else None,
        last_message_sender=first(form, "last-message-sender"),
        last_message_body=first(form, "last-message-body"),
        last_message_priority=first(form, "last-message-priority"),
    )


def _publish_options(pubsub: ET.Element) -> Form:
    options = pubsub.find(q(PUBSUB_NS, "publish-options"))
    x = None if options is None else options.find(q(DATA_NS, "x"))
    if x is None:
        return {}
    form = parse_form(x)
    form.pop("FORM_TYPE", None)
    return form


def _encrypted(notification: ET.Element | None) -> Encrypted | None:
    element = None if notification is None else notification.find(q(TIGASE_ENCRYPT_NS, "encrypted"))
    if element is None:
        return None
    iv, payload = (element.get("iv") or "").strip(), (element.text or "").strip()
    if not iv or not payload or len(iv) > 64 or len(payload) > MAX_ENCRYPTED_CHARS:
        raise Malformed("encrypted push without iv or payload, or too large")
    return Encrypted(iv=iv, payload=payload, kind=element.get("type"))


def _priority_tag(notification: ET.Element | None) -> bool:
    element = None if notification is None else notification.find(q(TIGASE_PRIORITY_NS, "priority"))
    return element is not None and (element.text or "").strip() == "high"


@dataclass(frozen=True, slots=True)
class Command:
    """An XEP-0050 command request: node, action (`execute`, `complete` or none) and its submitted form."""

    node: str
    action: str | None
    sessionid: str | None
    form: Form | None


def parse_command(command: ET.Element) -> Command:
    if command.tag != q(COMMANDS_NS, "command"):
        raise Malformed("not a command element", "feature-not-implemented", "cancel")
    node = (command.get("node") or "").strip()
    if not node:
        raise Malformed("command without a node")
    x = command.find(q(DATA_NS, "x"))
    return Command(
        node=node,
        action=command.get("action"),
        sessionid=command.get("sessionid"),
        form=None if x is None else parse_form(x),
    )


@dataclass(frozen=True, slots=True)
class FormField:
    var: str
    values: tuple[str, ...]
    type: str | None = None


def command_reply(
    node: str, sessionid: str, fields: Iterable[FormField] | None = None, *, form_type: str = "form"
) -> ET.Element:
    """`<command status='completed'>`, with a form when `fields` is given (p2's and Tigase's replies)."""
    command = ET.Element(
        q(COMMANDS_NS, "command"), {"node": node, "sessionid": sessionid, "status": "completed"}
    )
    if fields is not None:
        x = ET.SubElement(command, q(DATA_NS, "x"), {"type": form_type})
        for f in fields:
            attrs = {"var": f.var} if f.type is None else {"type": f.type, "var": f.var}
            element = ET.SubElement(x, q(DATA_NS, "field"), attrs)
            for value in f.values:
                ET.SubElement(element, q(DATA_NS, "value")).text = value
    return command
