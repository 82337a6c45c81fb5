"""The component's connection: reconnecting with backoff when the server goes away (issue 5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pushrelay.app import Runtime
from pushrelay.protocols.xmpp import XmppComponent, build

from .clients import Phone
from .conftest import deliveries
from .prosody import Prosody
from .servers import COMPONENT_JID


async def enable_and_leave(phones: Callable[..., Phone], user: str) -> None:
    phone = await phones(user).online()
    form = (
        await phone.command(COMPONENT_JID, "register-push-fcm", {"token": f"t-{user}", "device-id": "d"})
    ).form()
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    await phone.offline()


async def test_component_restart_keeps_serving_registrations(
    runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """Registrations live in the store: a new component process serves nodes the old one handed out."""
    alice, bob = fresh_user(), fresh_user()
    first = build(runtime.relay)
    await first.start()
    await first.wait_connected(10)
    await enable_and_leave(phones, alice)
    await first.stop()
    second = build(runtime.relay)
    await second.start()
    try:
        await second.wait_connected(10)
        (await phones(bob).online()).say(alice, "after restart")
        assert len(await deliveries(runtime, "conversations", 1)) == 1
    finally:
        await second.stop()


async def test_component_reconnects_when_the_server_restarts(
    prosody: Prosody,
    component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
) -> None:
    """Issue 5: the component reconnects with backoff by itself and keeps serving."""
    alice, bob = fresh_user(), fresh_user()
    await enable_and_leave(phones, alice)
    await asyncio.to_thread(prosody.restart)
    async with asyncio.timeout(15):
        while component.connections < 2:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.05)
    await component.wait_connected(5)
    (await phones(bob).online()).say(alice, "after the server came back")
    assert len(await deliveries(runtime, "conversations", 1)) == 1


async def test_component_waits_for_a_server_that_is_not_up_yet(runtime: Runtime, prosody: Prosody) -> None:
    """A component started before its server (wrong port here) keeps retrying instead of failing start."""
    settings = runtime.relay.settings
    runtime.relay.settings = settings.model_copy(
        update={"xmpp": settings.xmpp.model_copy(update={"server": "127.0.0.1:9", "reconnect_max": 0.5})}
    )
    component = build(runtime.relay)
    await component.start()
    await asyncio.sleep(1.0)
    assert not component.is_connected
    await component.stop()
