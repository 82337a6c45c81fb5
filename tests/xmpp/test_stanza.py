"""Wire parsing of publishes and commands (reference/xep0357.md §3, §7), on the servers' exact stanzas."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.protocols.xmpp.stanza import (
    MAX_FIELDS,
    PUBSUB_NS,
    Malformed,
    parse_command,
    parse_publish,
)

PROSODY = """<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="NODE123"><item>
  <notification xmlns="urn:xmpp:push:0">
   <x xmlns="jabber:x:data" type="form">
    <field type="hidden" var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field>
    <field type="text-single" var="message-count"><value>1</value></field>
    <field type="text-single" var="pending-subscription-count"/>
    <field type="jid-single" var="last-message-sender"/>
    <field type="text-single" var="last-message-body"><value>New Message!</value></field>
   </x></notification></item></publish>
 <publish-options><x xmlns="jabber:x:data" type="submit">
   <field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
   <field var="secret"><value>SECRET456</value></field></x></publish-options>
 </pubsub>"""

OLD_PROSODY = """<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item>
  <notification xmlns="urn:xmpp:push:0"/>
  <x xmlns="jabber:x:data" type="form">
    <field var="FORM_TYPE"><value>urn:xmpp:push:summary</value></field>
    <field var="last-message-body"><value>New Message!</value></field>
  </x></item></publish></pubsub>"""

EJABBERD_EMPTY = """<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item>
  <notification xmlns="urn:xmpp:push:0"/></item></publish></pubsub>"""

TIGASE_ENCRYPTED = """<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="N"><item>
  <notification xmlns="urn:xmpp:push:0">
    <encrypted xmlns="tigase:push:encrypt:0" iv="aXZpdml2aXZpdml2">Y2lwaGVy</encrypted>
    <priority xmlns="tigase:push:priority:0">high</priority>
  </notification></item></publish></pubsub>"""


def test_prosody_publish_is_parsed_with_empty_fields_as_absent() -> None:
    """reference/xep0357.md §3.1 [V]: Prosody's summary has type form and empty fields that mean absent."""
    publish = parse_publish(ET.fromstring(PROSODY))
    assert publish.node == "NODE123"
    assert publish.summary.message_count == 1
    assert publish.summary.last_message_sender is None
    assert publish.summary.last_message_body == "New Message!"
    assert dict(publish.options) == {"secret": ("SECRET456",)}
    assert publish.is_important


def test_pre_2021_prosody_summary_beside_the_notification_is_read() -> None:
    """reference/xep0357.md §3.1: old mod_cloud_notify put the summary in item/x."""
    assert parse_publish(ET.fromstring(OLD_PROSODY)).summary.has_body


def test_ejabberd_empty_notification_is_an_unimportant_push() -> None:
    """reference/xep0357.md §3.3: ejabberd sends an empty <notification/> for body-less stanzas."""
    publish = parse_publish(ET.fromstring(EJABBERD_EMPTY))
    assert not publish.is_important and publish.options == {}


def test_tigase_encrypted_payload_is_kept_verbatim() -> None:
    """reference/xep0357.md §3.2: the encrypted payload and iv are opaque and forwarded as they are."""
    publish = parse_publish(ET.fromstring(TIGASE_ENCRYPTED))
    assert publish.encrypted is not None
    assert (publish.encrypted.iv, publish.encrypted.payload) == ("aXZpdml2aXZpdml2", "Y2lwaGVy")
    assert publish.high_priority_tag


@pytest.mark.parametrize(
    ("xml", "condition"),
    [
        (f'<pubsub xmlns="{PUBSUB_NS}"><publish><item/></publish></pubsub>', "bad-request"),
        (f'<pubsub xmlns="{PUBSUB_NS}"><publish node="n"/></pubsub>', "bad-request"),
        (f'<pubsub xmlns="{PUBSUB_NS}"><subscribe node="n"/></pubsub>', "feature-not-implemented"),
        ('<pubsub xmlns="urn:wrong"><publish node="n"><item/></publish></pubsub>', "feature-not-implemented"),
    ],
)
def test_malformed_publish_names_its_error(xml: str, condition: str) -> None:
    """Issue 5: no node, no item, not a publish, wrong namespace → a proper XMPP error."""
    with pytest.raises(Malformed) as info:
        parse_publish(ET.fromstring(xml))
    assert info.value.condition == condition


def test_huge_form_is_refused() -> None:
    """Bounded everything (DESIGN principle 3): a form with too many fields is a bad request."""
    fields = "".join(f'<field var="f{i}"><value>v</value></field>' for i in range(MAX_FIELDS + 1))
    xml = (
        f'<pubsub xmlns="{PUBSUB_NS}"><publish node="n"><item><notification xmlns="urn:xmpp:push:0">'
        f'<x xmlns="jabber:x:data">{fields}</x></notification></item></publish></pubsub>'
    )
    with pytest.raises(Malformed):
        parse_publish(ET.fromstring(xml))


def test_command_without_form_or_action_is_parsed() -> None:
    """XEP-0050: a command may come without action; the form is optional at the wire level."""
    command = parse_command(ET.fromstring('<command xmlns="http://jabber.org/protocol/commands" node="x"/>'))
    assert (command.node, command.action, command.form) == ("x", None, None)


names = st.sampled_from(
    ["pubsub", "publish", "item", "notification", "x", "field", "value", "publish-options"]
)
namespaces = st.sampled_from([PUBSUB_NS, "urn:xmpp:push:0", "jabber:x:data", "urn:other"])


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    element = ET.Element(f"{{{draw(namespaces)}}}{draw(names)}")
    for key in draw(st.lists(st.sampled_from(["node", "var", "type", "iv"]), max_size=2)):
        element.set(key, draw(st.text(max_size=10)))
    element.text = draw(st.none() | st.text(max_size=10))
    if depth < 5:
        for child in draw(st.lists(elements(depth + 1), max_size=3)):
            element.append(child)
    return element


@given(st.builds(lambda root, child: (root.append(child), root)[1], elements(), elements()))
def test_any_element_parses_or_raises_malformed(element: ET.Element) -> None:
    """R15: hostile input finds nothing but Malformed."""
    pubsub = ET.Element(f"{{{PUBSUB_NS}}}pubsub")
    pubsub.append(element)
    with contextlib.suppress(Malformed):
        parse_publish(pubsub)
