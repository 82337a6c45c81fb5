"""ejabberd 23.01 mod_push as the user's server (reference/xep0357.md §3.3, §5), to the fake APNs and FCM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.registration import p2_hash
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm

from .clients import Phone
from .conftest import arrivals
from .ejabberd import Ejabberd
from .servers import COMPONENT_JID, DOMAIN, XmppServer
from .test_prosody_errors import SHORT_DEADLINE, declare_dead, publishes_after_messages

FCM_TOKEN = "fcm-token-errors-" + "e" * 40
APNS_TOKEN = "e1" * 32
TOKENS = {"fcm": FCM_TOKEN, "apns": APNS_TOKEN}


@pytest.fixture
def server(ejabberd: Ejabberd) -> XmppServer:
    return ejabberd


@pytest.fixture
def apps(fake_apps: dict[str, Any]) -> dict[str, Any]:
    return fake_apps


async def enabled(
    phones: Callable[..., Phone],
    user: str,
    service: str = "fcm",
    secret: str | None = None,
    node: str | None = None,
) -> Phone:
    """Register with the component and enable push with the node and secret it gave (or those given)."""
    phone = await phones(user).online()
    answer = await phone.command(
        COMPONENT_JID, f"register-push-{service}", {"token": TOKENS[service], "device-id": "d"}
    )
    form = answer.form()
    options = {"secret": secret or form["secret"][0]}
    assert (await phone.enable(COMPONENT_JID, node or form["node"][0], options)).type == "result"
    return phone


async def test_ejabberd_offline_message_reaches_fcm(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """ejabberd publishes from its domain with publish-options copied from the enable and the body
    "New message" in the summary: within 2 s FCM gets Conversations' high-priority data message."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice)).offline()
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    account = p2_hash(f"{alice}@{DOMAIN}", "d")
    assert delivery.message == {
        "token": FCM_TOKEN,
        "data": {"account": account},
        "android": {"priority": "high", "collapse_key": account[:6]},
    }


@pytest.mark.parametrize("enable", [{"secret": "wrong"}, {"node": "no-such-node"}], ids=["secret", "node"])
async def test_ejabberd_drops_the_registration_at_the_first_cancel(
    component: XmppComponent,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    enable: dict[str, str],
) -> None:
    """reference/xep0357.md §5: a wrong secret or an unknown node is cancel/item-not-found, and any
    non-wait error makes ejabberd delete the push session at once."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice, **enable)).offline()
    assert await publishes_after_messages(component, phones, bob, alice, 2) == 1


@pytest.mark.parametrize("service", ["fcm", "apns"])
async def test_ejabberd_drops_a_dead_token_at_once(
    component: XmppComponent,
    fake_apns: FakeApns,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    service: str,
) -> None:
    """reference/xep0357.md §5, §6: FCM 404 UNREGISTERED / APNs 410 Unregistered is cancel/item-not-found,
    and ejabberd deletes the push session at the first one: one publish, one request to the service."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice, service)).offline()
    dead_answers = declare_dead(service, fake_apns, fake_fcm)
    assert await publishes_after_messages(component, phones, bob, alice, 2) == 1
    assert dead_answers() == 1


@pytest.mark.parametrize("dispatch", [SHORT_DEADLINE])
async def test_ejabberd_keeps_the_registration_through_provider_trouble(
    component: XmppComponent,
    fake_apns: FakeApns,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    dispatch: dict[str, Any],
) -> None:
    """reference/xep0357.md §5: APNs answering 503 ServiceUnavailable past the dispatch deadline is
    wait/remote-server-timeout; ejabberd logs it and keeps the session, so once APNs is back the next
    message is pushed within 2 s."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice, "apns")).offline()
    fake_apns.answer(APNS_TOKEN, 503, "ServiceUnavailable")
    assert await publishes_after_messages(component, phones, bob, alice, 3) == 3
    assert fake_apns.answers["503 ServiceUnavailable"] > 3  # retried within each deadline
    fake_apns.faults.clear()
    (await phones(bob).online()).say(alice, "APNs is back")
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.token == APNS_TOKEN and delivery.headers["apns-push-type"] == "alert"


@pytest.mark.parametrize("xmpp_overrides", [{"rate_interval": 2.0}])
async def test_ejabberd_keeps_the_registration_after_wait(
    component: XmppComponent,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    xmpp_overrides: dict[str, Any],
) -> None:
    """reference/xep0357.md §5: a wait error (the throttle's) is logged by ejabberd and the session kept:
    of a burst, one push goes at once, one at the window's end, and the next window pushes again."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice)).offline()
    sender = await phones(bob).online()
    for i in range(4):
        sender.say(alice, f"burst {i}")
    assert len(await arrivals(fake_fcm.deliveries, 2, within=4.0)) == 2
    await asyncio.sleep(2.0)
    assert component.publishes == 4 and len(fake_fcm.deliveries) == 2
    sender.say(alice, "after the window")
    assert len(await arrivals(fake_fcm.deliveries, 3)) == 3
