"""Siskin (Tigase), Monal (fpush style), stateless nodes and disco, through a real Prosody.

Pushes are asserted on what the fake APNs and FCM received over TLS and HTTP/2.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.registration import p2_hash
from pushrelay.protocols.xmpp.stanza import PUSH_NS, TIGASE_ENCRYPT_NS
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.conftest import FAKE_APNS_TOPIC

from .clients import Phone, publish_stanza
from .conftest import arrivals
from .servers import COMPONENT_JID, DOMAIN

APNS_TOKEN = "ab" * 32
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


@pytest.fixture
def apps(fake_apps: dict[str, Any]) -> dict[str, Any]:
    return fake_apps


async def test_disco_info_has_the_push_identity_and_features(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """XEP-0357 §4.2: identity pubsub/push; features urn:xmpp:push:0, commands, and Siskin's provider."""
    phone = await phones(fresh_user()).online()
    answer = await phone.iq(COMPONENT_JID, ET.Element(f"{{{DISCO_INFO}}}query"), kind="get")
    query = answer.xml[0]
    identities = {(i.get("category"), i.get("type")) for i in query.findall(f"{{{DISCO_INFO}}}identity")}
    features = {f.get("var") for f in query.findall(f"{{{DISCO_INFO}}}feature")}
    assert ("pubsub", "push") in identities
    assert {"urn:xmpp:push:0", "http://jabber.org/protocol/commands", "tigase:messenger:apns:1"} <= features


async def test_disco_items_lists_the_registration_commands(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """XEP-0050 §2.2: the commands node lists every registration command."""
    phone = await phones(fresh_user()).online()
    query = ET.Element(f"{{{DISCO_ITEMS}}}query", {"node": "http://jabber.org/protocol/commands"})
    answer = await phone.iq(COMPONENT_JID, query, kind="get")
    nodes = {i.get("node") for i in answer.xml[0].findall(f"{{{DISCO_ITEMS}}}item")}
    assert {"register-push-fcm", "register-push-apns", "register-device", "unregister-device"} <= nodes


SISKIN_ALERT = {"aps": {"alert": {"title": "New message"}, "sound": "default", "mutable-content": 1}}


async def siskin_offline(phones: Callable[..., Phone], user: str, token: str = APNS_TOKEN) -> Phone:
    """register-device, enable (no publish-options: Siskin sends no secret), go offline."""
    phone = await phones(user).online()
    fields = {"provider": "tigase:messenger:apns:1", "device-token": token}
    form = (await phone.command(COMPONENT_JID, "register-device", fields)).form()
    assert form["node"][0] and "tigase:push:encrypt:0" in form["features"] and form["max-payload-size"]
    assert (await phone.enable(COMPONENT_JID, form["node"][0])).type == "result"
    await phone.offline()
    return phone


async def test_siskin_important_message_is_an_apns_alert_with_mutable_content(
    component: XmppComponent, fake_apns: FakeApns, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.4, §6: register-device answers node, features and max-payload-size; an
    important message (Prosody fills the summary body) becomes an alert, priority 10, with mutable-content
    so Siskin's Notification Service Extension fetches the message."""
    alice, bob = fresh_user(), fresh_user()
    await siskin_offline(phones, alice)
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.token == APNS_TOKEN and delivery.topic == FAKE_APNS_TOPIC
    assert delivery.payload == SISKIN_ALERT
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("alert", "10")
    fields = {"provider": "tigase:messenger:apns:1", "device-token": APNS_TOKEN}
    gone = await (await phones(alice).online()).command(COMPONENT_JID, "unregister-device", fields)
    assert gone.type == "result"


async def test_siskin_unimportant_stanza_is_a_background_push(
    component: XmppComponent, fake_apns: FakeApns, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §3.1, §6: a chat state alone is pushed with an empty summary body
    ("unimportant"): a background push, `content-available` only, priority 5 (APNs allows no 10 for it)."""
    alice, bob = fresh_user(), fresh_user()
    await siskin_offline(phones, alice)
    (await phones(bob).online()).start_typing(alice)
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.payload == {"aps": {"content-available": 1}}
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("background", "5")


async def test_tigase_encrypted_push_is_passed_through_to_apns(
    component: XmppComponent, fake_apns: FakeApns, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §3.2: mod_cloud_notify_encrypted replaces the summary with
    `<encrypted xmlns='tigase:push:encrypt:0' iv=…>`; we cannot decrypt it and forward `encrypted` and
    `iv` unchanged at the payload's top level, where Siskin reads them, in a mutable-content alert.
    (Debian's prosody-modules lacks that module: the publish is sent from the account through Prosody.)"""
    user = fresh_user()
    phone = await phones(user).online()
    fields = {"provider": "tigase:messenger:apns:1", "device-token": APNS_TOKEN}
    node = (await phone.command(COMPONENT_JID, "register-device", fields)).form()["node"][0]
    pubsub = publish_stanza(node)
    notification = pubsub.find(f".//{{{PUSH_NS}}}notification")
    assert notification is not None
    encrypted = ET.SubElement(notification, f"{{{TIGASE_ENCRYPT_NS}}}encrypted", {"iv": "AAECAwQFBgcICQoL"})
    encrypted.text = "c2VhbGVkIGJ5IHRoZSB1c2VyJ3Mgc2VydmVy"
    assert (await phone.iq(COMPONENT_JID, pubsub)).type == "result"
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.payload == {
        **SISKIN_ALERT,
        "encrypted": "c2VhbGVkIGJ5IHRoZSB1c2VyJ3Mgc2VydmVy",
        "iv": "AAECAwQFBgcICQoL",
    }
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("alert", "10")


async def test_monal_token_node_needs_an_opted_in_push_module(
    component: XmppComponent, fake_apns: FakeApns, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.3: Monal enables with node = APNs token and pushModule; it always gets an
    alert with mutable-content, as fpush sends. Only configured modules are served, everything else is
    cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    await phone.enable(COMPONENT_JID, APNS_TOKEN, {"pushModule": "monalProdiOS"})
    await phone.offline()
    (await phones(bob).online()).start_typing(alice)
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.token == APNS_TOKEN and delivery.payload == SISKIN_ALERT
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("alert", "10")
    other = await (await phones(fresh_user()).online()).iq(
        COMPONENT_JID, publish_stanza(APNS_TOKEN, {"pushModule": "monalAlpha"})
    )
    assert (other.error_type, other.condition) == ("cancel", "item-not-found")


@pytest.mark.parametrize("xmpp_overrides", [{"apps": {"conversations": {"stateless": True}}}])
async def test_stateless_node_pushes_without_a_row_and_unregistering_denies_it(
    component: XmppComponent,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    xmpp_overrides: dict[str, Any],
) -> None:
    """p2's "further optimization": the node is a sealed registration and the secret a MAC over it; the
    push is the same as for a stored registration. Unregistration puts it on the deny list, so the next
    publish is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    token = "stateless-fcm-token-" + "s" * 40
    phone = await phones(alice).online()
    fields = {"token": token, "android-id": "d9"}
    form = (await phone.command(COMPONENT_JID, "register-push-fcm", fields)).form()
    node, secret = form["node"][0], form["secret"][0]
    assert node.startswith("s.")
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    sender = await phones(bob).online()
    sender.say(alice, "one")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    account = p2_hash(f"{alice}@{DOMAIN}", "d9")
    assert delivery.message == {
        "token": token,
        "data": {"account": account},
        "android": {"priority": "high", "collapse_key": account[:6]},
    }
    phone = await phones(alice).online()
    assert (await phone.command(COMPONENT_JID, "unregister-push-fcm", {"android-id": "d9"})).type == "result"
    await phone.offline()
    before = component.publishes
    sender.say(alice, "two")
    assert len(await arrivals(fake_fcm.deliveries, 2, within=1.5)) == 1
    assert component.publishes == before + 1
