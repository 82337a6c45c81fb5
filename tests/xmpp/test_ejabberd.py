"""ejabberd 23.01 mod_push as the user's server (reference/xep0357.md §3.3, §5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pushrelay.app import Runtime
from pushrelay.domain import AppId
from pushrelay.protocols.xmpp import XmppComponent

from .clients import Phone
from .conftest import deliveries
from .ejabberd import Ejabberd
from .servers import COMPONENT_JID, XmppServer
from .test_prosody_errors import publishes_after_messages


@pytest.fixture
def server(ejabberd: Ejabberd) -> XmppServer:
    return ejabberd


async def enabled(phones: Callable[..., Phone], user: str, secret: str | None = None) -> Phone:
    phone = await phones(user).online()
    answer = await phone.command(
        COMPONENT_JID, "register-push-fcm", {"token": f"tok-{user}", "device-id": "d"}
    )
    form = answer.form()
    assert (
        await phone.enable(COMPONENT_JID, form["node"][0], {"secret": secret or form["secret"][0]})
    ).type == "result"
    return phone


async def test_ejabberd_offline_message_is_pushed(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """ejabberd publishes from its domain with publish-options copied from the enable; the push arrives."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice)).offline()
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await deliveries(runtime, "conversations", 1)
    assert delivery.token == f"tok-{alice}"


async def test_ejabberd_drops_the_registration_at_the_first_cancel(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §5: any non-wait error makes ejabberd delete the push session at once."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice, secret="wrong")).offline()
    assert await publishes_after_messages(component, phones, bob, alice, 3) == 1


@pytest.mark.parametrize("xmpp_overrides", [{"rate_interval": 3.0}])
async def test_ejabberd_keeps_the_registration_after_wait(
    component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    xmpp_overrides: dict[str, Any],
) -> None:
    """reference/xep0357.md §5: a wait error (rate limit) is logged by ejabberd and the session kept."""
    alice, bob = fresh_user(), fresh_user()
    await (await enabled(phones, alice)).offline()
    published = await publishes_after_messages(component, phones, bob, alice, 4)
    assert published == 4
    assert len(runtime.relay.sandbox(AppId("conversations")).deliveries) <= 2
