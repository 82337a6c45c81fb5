"""Error semantics against a real Prosody (reference/xep0357.md §5): what makes it stop pushing."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from pushrelay.app import Runtime
from pushrelay.domain import AppId, Platform
from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.stanza import DATA_NS, PUBSUB_NS, PUSH_NS

from .clients import Phone
from .conftest import deliveries
from .prosody import PUSH_MAX_ERRORS
from .servers import COMPONENT_JID

TOKEN = "fcm-token-errors"


async def registered(phones: Callable[..., Phone], user: str, token: str = TOKEN) -> tuple[Phone, str, str]:
    phone = await phones(user).online()
    answer = await phone.command(COMPONENT_JID, "register-push-fcm", {"token": token, "android-id": "d1"})
    form = answer.form()
    return phone, form["node"][0], form["secret"][0]


async def publishes_after_messages(
    component: XmppComponent, phones: Callable[..., Phone], sender: str, user: str, count: int
) -> int:
    """Send `count` messages one after another (waiting for each publish) and count the publishes."""
    bob = await phones(sender).online()
    before = component.publishes
    for i in range(count):
        seen = component.publishes
        bob.say(user, f"message {i}")
        for _ in range(50):
            if component.publishes > seen:
                break
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    return component.publishes - before


async def test_wrong_secret_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: a wrong secret is cancel/item-not-found, which Prosody counts; at
    push_max_errors it deletes the registration and publishes no more."""
    alice, bob = fresh_user(), fresh_user()
    phone, node, _secret = await registered(phones, alice)
    await phone.enable(COMPONENT_JID, node, {"secret": "wrong"})
    await phone.offline()
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 2) == PUSH_MAX_ERRORS
    )


async def test_unknown_node_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: an unknown node is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    await phone.enable(COMPONENT_JID, "no-such-node", {"secret": "x"})
    await phone.offline()
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 2) == PUSH_MAX_ERRORS
    )


async def test_dead_token_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: a device token the provider declared dead is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone, node, secret = await registered(phones, alice, token="dead-token")
    relay = runtime.relay
    now = datetime.now(UTC)
    await relay.store.invalidate_token(
        AppId("conversations"),
        Platform.FCM,
        relay.token_ref(Platform.FCM, "dead-token"),
        relay.keyring.seal("devices.token", "dead-token"),
        now,
        "unregistered",
    )
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 2) == PUSH_MAX_ERRORS
    )
    assert runtime.relay.sandbox(AppId("conversations")).deliveries == []


@pytest.mark.parametrize("xmpp_overrides", [{"rate_interval": 2.0}])
async def test_rate_limited_push_is_answered_wait_and_the_registration_survives(
    component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    xmpp_overrides: dict[str, Any],
) -> None:
    """mod_push_appserver's throttle (reference/xep0357.md §4.2, §7): one push at once, the next at the
    window's end, further ones wait/resource-constraint, which Prosody does not count."""
    alice, bob = fresh_user(), fresh_user()
    phone, node, secret = await registered(phones, alice)
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    sender = await phones(bob).online()
    for i in range(PUSH_MAX_ERRORS + 3):  # more refusals than Prosody would tolerate if it counted them
        sender.say(alice, f"burst {i}")
    assert len(await deliveries(runtime, "conversations", 2, within=4.0)) == 2
    await asyncio.sleep(2.0)
    sender.say(alice, "after the window")
    assert len(await deliveries(runtime, "conversations", 3, within=2.0)) == 3


async def test_malformed_publishes_get_errors_and_the_component_keeps_serving(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """Issue 5: no node, no item, huge forms, wrong namespaces, wrong type → a proper error, no crash."""
    phone = await phones(fresh_user()).online()

    def publish(node: str | None, item: bool = True, fields: int = 1) -> ET.Element:
        pubsub = ET.Element(f"{{{PUBSUB_NS}}}pubsub")
        element = ET.SubElement(pubsub, f"{{{PUBSUB_NS}}}publish", {} if node is None else {"node": node})
        if item:
            notification = ET.SubElement(
                ET.SubElement(element, f"{{{PUBSUB_NS}}}item"), f"{{{PUSH_NS}}}notification"
            )
            x = ET.SubElement(notification, f"{{{DATA_NS}}}x")
            for i in range(fields):
                ET.SubElement(
                    ET.SubElement(x, f"{{{DATA_NS}}}field", {"var": f"f{i}"}), f"{{{DATA_NS}}}value"
                ).text = "v"
        return pubsub

    assert (await phone.iq(COMPONENT_JID, publish(None))).condition == "bad-request"
    assert (await phone.iq(COMPONENT_JID, publish("n", item=False))).condition == "bad-request"
    assert (await phone.iq(COMPONENT_JID, publish("n", fields=500))).condition == "bad-request"
    wrong_ns = ET.Element("{urn:example:wrong}pubsub")
    assert (await phone.iq(COMPONENT_JID, wrong_ns)).type == "error"
    retract = ET.Element(f"{{{PUBSUB_NS}}}pubsub")
    ET.SubElement(retract, f"{{{PUBSUB_NS}}}retract", {"node": "n"})
    assert (await phone.iq(COMPONENT_JID, retract)).condition == "feature-not-implemented"
    unknown = await phone.iq(COMPONENT_JID, publish("unknown-node"))
    assert (unknown.error_type, unknown.condition) == ("cancel", "item-not-found")
    answer = await phone.command(COMPONENT_JID, "register-push-fcm", {"token": "t", "android-id": "d"})
    assert answer.type == "result"
    assert component.is_connected
