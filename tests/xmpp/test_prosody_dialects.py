"""Siskin (Tigase), Monal (fpush style), stateless nodes and disco, through a real Prosody."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from pushrelay.app import Runtime
from pushrelay.domain import Platform, PushType
from pushrelay.protocols.xmpp import XmppComponent

from .clients import Phone, publish_stanza
from .conftest import deliveries
from .servers import COMPONENT_JID

APNS_TOKEN = "ab" * 32
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


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


async def test_siskin_register_device_gets_an_apns_alert(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.4: register-device answers node, features and max-payload-size; the enable
    carries no secret; an important message becomes an APNs alert with mutable-content."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    fields = {"provider": "tigase:messenger:apns:1", "device-token": APNS_TOKEN}
    answer = await phone.command(COMPONENT_JID, "register-device", fields)
    form = answer.form()
    assert form["node"][0] and "tigase:push:encrypt:0" in form["features"] and form["max-payload-size"]
    assert (await phone.enable(COMPONENT_JID, form["node"][0])).type == "result"
    await phone.offline()
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await deliveries(runtime, "siskin", 1)
    assert delivery.platform is Platform.APNS and delivery.token == APNS_TOKEN
    assert delivery.message.push_type is PushType.ALERT and delivery.message.mutable_content
    gone = await (await phones(alice).online()).command(COMPONENT_JID, "unregister-device", fields)
    assert gone.type == "result"


async def test_monal_token_node_needs_an_opted_in_push_module(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.3: Monal enables with node = APNs token and pushModule; only configured
    modules are served, everything else is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    await phone.enable(COMPONENT_JID, APNS_TOKEN, {"pushModule": "monalProdiOS"})
    await phone.offline()
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await deliveries(runtime, "monal", 1)
    assert delivery.token == APNS_TOKEN and delivery.message.push_type is PushType.ALERT
    other = await (await phones(fresh_user()).online()).iq(
        COMPONENT_JID, publish_stanza(APNS_TOKEN, {"pushModule": "monalAlpha"})
    )
    assert (other.error_type, other.condition) == ("cancel", "item-not-found")


@pytest.mark.parametrize("xmpp_overrides", [{"apps": {"conversations": {"stateless": True}}}])
async def test_stateless_node_pushes_without_a_row_and_unregistering_denies_it(
    component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    xmpp_overrides: dict[str, Any],
) -> None:
    """p2's "further optimization": the node is a sealed registration and the secret a MAC over it;
    unregistration puts it on the deny list, so the next publish is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    fields = {"token": "stateless-token", "android-id": "d9"}
    form = (await phone.command(COMPONENT_JID, "register-push-fcm", fields)).form()
    node, secret = form["node"][0], form["secret"][0]
    assert node.startswith("s.")
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    sender = await phones(bob).online()
    sender.say(alice, "one")
    (delivery,) = await deliveries(runtime, "conversations", 1)
    assert delivery.token == "stateless-token" and "account" in delivery.message.data
    phone = await phones(alice).online()
    assert (await phone.command(COMPONENT_JID, "unregister-push-fcm", {"android-id": "d9"})).type == "result"
    await phone.offline()
    before = component.publishes
    sender.say(alice, "two")
    assert len(await deliveries(runtime, "conversations", 2, within=1.5)) == 1
    assert component.publishes == before + 1
