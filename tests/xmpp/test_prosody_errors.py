"""Error semantics against a real Prosody (reference/xep0357.md §5): what makes it stop pushing.

The push services are the fake APNs and FCM: a dead token is the fake answering 410 Unregistered
or 404 UNREGISTERED, provider trouble is it answering 503 for longer than the dispatch deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.stanza import DATA_NS, PUBSUB_NS, PUSH_NS
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm

from .clients import Phone
from .conftest import arrivals
from .prosody import PUSH_MAX_ERRORS, Prosody
from .servers import COMPONENT_JID

FCM_TOKEN = "fcm-token-errors-" + "e" * 40
APNS_TOKEN = "e1" * 32
SHORT_DEADLINE = {"deadline": 0.4, "backoff_base": 0.05, "backoff_max": 0.1, "breaker_cooldown": 0.2}
"""Dispatch settings for provider trouble: give up after 0.4 s, and probe again soon once it is over."""


@pytest.fixture
def apps(fake_apps: dict[str, Any]) -> dict[str, Any]:
    return fake_apps


async def registered(
    phones: Callable[..., Phone], user: str, token: str = FCM_TOKEN, service: str = "fcm"
) -> tuple[Phone, str, str]:
    phone = await phones(user).online()
    answer = await phone.command(
        COMPONENT_JID, f"register-push-{service}", {"token": token, "android-id": "d1"}
    )
    form = answer.form()
    return phone, form["node"][0], form["secret"][0]


async def logged_errors(
    prosody: Prosody, node: str, count: int, within: float = 3.0
) -> list[tuple[str, str, bool]]:
    """Wait until Prosody logged `count` error replies for `node`; Prosody has no IQ timeout to wait for."""
    deadline = time.monotonic() + within
    while len(prosody.push_errors(node)) < count and time.monotonic() < deadline:  # noqa: ASYNC110 - a log
        await asyncio.sleep(0.05)
    return prosody.push_errors(node)


async def publishes_after_messages(
    component: XmppComponent, phones: Callable[..., Phone], sender: str, user: str, count: int
) -> int:
    """Send `count` messages one after another and count the publishes. After each message, wait up to
    0.5 s for its publish and then until it was answered, so that the server has read the answer before
    it decides whether to push the next message."""
    bob = await phones(sender).online()
    before = component.publishes
    for i in range(count):
        seen = component.publishes
        bob.say(user, f"message {i}")
        await until(lambda: component.publishes > seen, 0.5)  # noqa: B023 - awaited in this iteration
        await until(lambda: component.in_flight == 0, 2.0)
        await asyncio.sleep(0.05)  # the answer crosses the server's component socket
    await asyncio.sleep(0.2)
    return component.publishes - before


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 - counters, not events
        await asyncio.sleep(0.01)


COUNTED_ITEM_NOT_FOUND = [("cancel", "item-not-found", True)] * PUSH_MAX_ERRORS


async def test_wrong_secret_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent, prosody: Prosody, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: a wrong secret is cancel/item-not-found, which Prosody counts; at
    push_max_errors it deletes the registration and publishes no more."""
    alice, bob = fresh_user(), fresh_user()
    phone, node, _secret = await registered(phones, alice)
    await phone.enable(COMPONENT_JID, node, {"secret": "wrong"})
    await phone.offline()
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 1) == PUSH_MAX_ERRORS
    )
    assert prosody.push_errors(node) == COUNTED_ITEM_NOT_FOUND and prosody.disabled_push_for(node)


async def test_unknown_node_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent, prosody: Prosody, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: an unknown node is cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    await phone.enable(COMPONENT_JID, "no-such-node", {"secret": "x"})
    await phone.offline()
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 1) == PUSH_MAX_ERRORS
    )
    assert prosody.push_errors("no-such-node") == COUNTED_ITEM_NOT_FOUND


def declare_dead(service: str, fake_apns: FakeApns, fake_fcm: FakeFcm) -> Callable[[], int]:
    """Make the fake push service answer the token as dead from now on; how often it answered so.

    APNs' 410 carries the time the token died; a registration newer than that counts as alive again
    (Apple's rule, `Store.upsert_device`), so the token dies here after it was registered.
    """
    if service == "fcm":
        fake_fcm.unregister(FCM_TOKEN)
        return lambda: fake_fcm.answers["404 UNREGISTERED"]
    fake_apns.unregister(APNS_TOKEN)
    return lambda: fake_apns.answers["410 Unregistered"]


@pytest.mark.parametrize("service", ["fcm", "apns"])
async def test_dead_token_makes_prosody_stop_after_push_max_errors(
    component: XmppComponent,
    prosody: Prosody,
    fake_apns: FakeApns,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    service: str,
) -> None:
    """reference/xep0357.md §5, §6: FCM answers 404 UNREGISTERED, APNs 410 Unregistered; the publish is
    cancel/item-not-found, which Prosody counts until push_max_errors. Only the first publish reaches the
    push service: the relay remembers the dead token and answers the next ones itself."""
    alice, bob = fresh_user(), fresh_user()
    token = FCM_TOKEN if service == "fcm" else APNS_TOKEN
    phone, node, secret = await registered(phones, alice, token, service)
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    dead_answers = declare_dead(service, fake_apns, fake_fcm)  # the app is uninstalled after registering
    assert (
        await publishes_after_messages(component, phones, bob, alice, PUSH_MAX_ERRORS + 1) == PUSH_MAX_ERRORS
    )
    assert prosody.push_errors(node) == COUNTED_ITEM_NOT_FOUND and prosody.disabled_push_for(node)
    assert dead_answers() == 1
    assert list(fake_apns.deliveries) == [] and list(fake_fcm.deliveries) == []


@pytest.mark.parametrize("dispatch", [SHORT_DEADLINE])
async def test_provider_trouble_past_the_deadline_is_wait_and_the_registration_survives(
    component: XmppComponent,
    prosody: Prosody,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    dispatch: dict[str, Any],
) -> None:
    """reference/xep0357.md §5: FCM answering 503 UNAVAILABLE for longer than the dispatch deadline is
    wait/remote-server-timeout, which Prosody does not count, however often; once FCM is back, the next
    message is pushed within 2 s."""
    alice, bob = fresh_user(), fresh_user()
    phone, node, secret = await registered(phones, alice)
    await phone.enable(COMPONENT_JID, node, {"secret": secret})
    await phone.offline()
    fake_fcm.answer(FCM_TOKEN, "UNAVAILABLE")
    messages = PUSH_MAX_ERRORS + 1
    assert await publishes_after_messages(component, phones, bob, alice, messages) == messages
    errors = await logged_errors(prosody, node, messages)
    assert errors == [("wait", "remote-server-timeout", False)] * messages
    assert fake_fcm.answers["503 UNAVAILABLE"] > messages  # retried within each deadline
    fake_fcm.faults.clear()
    (await phones(bob).online()).say(alice, "FCM is back")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    assert delivery.token == FCM_TOKEN and json.dumps(delivery.message).count("account") == 1


@pytest.mark.parametrize("xmpp_overrides", [{"rate_interval": 2.0}])
async def test_rate_limited_push_is_answered_wait_and_the_registration_survives(
    component: XmppComponent,
    prosody: Prosody,
    fake_fcm: FakeFcm,
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
    burst = PUSH_MAX_ERRORS + 3  # more refusals than Prosody would tolerate if it counted them
    for i in range(burst):
        sender.say(alice, f"burst {i}")
    assert len(await arrivals(fake_fcm.deliveries, 2, within=4.0)) == 2
    errors = await logged_errors(prosody, node, burst - 2)
    assert errors == [("wait", "resource-constraint", False)] * (burst - 2)
    await asyncio.sleep(2.0)
    sender.say(alice, "after the window")
    assert len(await arrivals(fake_fcm.deliveries, 3)) == 3


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
