"""Conversations (p2 dialect) through a real Prosody 0.12 with mod_cloud_notify."""

from __future__ import annotations

from collections.abc import Callable

from pushrelay.app import Runtime
from pushrelay.domain import Platform
from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.registration import p2_hash

from .clients import Phone
from .conftest import deliveries
from .servers import COMPONENT_JID, DOMAIN

TOKEN = "fcm-token-" + "a" * 140
DEVICE = "92afd7a91cdba9a0"


async def register_conversations(phone: Phone, action: str | None, token: str = TOKEN) -> dict[str, list[str]]:
    answer = await phone.command(
        COMPONENT_JID, "register-push-fcm", {"token": token, "android-id": DEVICE}, action=action
    )
    assert answer.type == "result", answer
    command = answer.xml[0]
    assert command.get("status") == "completed"
    return answer.form()


async def test_conversations_execute_registration_gets_a_push_when_offline(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: register-push-fcm (action execute) → enable → offline message → FCM push
    carrying `account = sha1(bareJID + "\\0" + deviceId)`."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute")
    assert form["jid"] == [COMPONENT_JID]
    answer = await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    assert answer.type == "result"
    await phone.offline()
    sender = await phones(bob).online()
    sender.say(alice, "hello")
    (delivery,) = await deliveries(runtime, "conversations", 1)
    assert delivery.platform is Platform.FCM
    assert delivery.token == TOKEN
    assert dict(delivery.message.data) == {"account": p2_hash(f"{alice}@{DOMAIN}", DEVICE)}
