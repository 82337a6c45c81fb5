"""Conversations (p2 dialect) through a real Prosody 0.12 with mod_cloud_notify."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import structlog

from pushrelay.app import Runtime
from pushrelay.domain import Platform
from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.registration import p2_hash

from .clients import Phone
from .conftest import deliveries
from .servers import COMPONENT_JID, DOMAIN

TOKEN = "fcm-token-" + "a" * 140
DEVICE = "92afd7a91cdba9a0"


async def register_conversations(
    phone: Phone, action: str | None, token: str = TOKEN
) -> dict[str, list[str]]:
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


async def test_conversations_complete_registration_is_answered_completed(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: newer Conversations sends action="complete" and needs status="completed"
    with non-empty node and secret; the push then arrives."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "complete")
    assert form["node"][0] and form["secret"][0]
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    await phone.offline()
    (await phones(bob).online()).say(alice, "hi")
    assert len(await deliveries(runtime, "conversations", 1)) == 1


async def test_registration_without_action_is_accepted(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: accept execute, complete and an absent action."""
    phone = await phones(fresh_user()).online()
    form = await register_conversations(phone, None)
    assert form["node"] and form["secret"]


async def test_reregistration_keeps_the_node_and_only_changes_the_token(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2 (reference/xep0357.md §4.1, §7): the node is stable on re-registration; the new token is pushed."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    first = await register_conversations(phone, "execute")
    second = await register_conversations(phone, "execute", token="refreshed-token")
    assert (first["node"], first["secret"]) == (second["node"], second["secret"])
    await phone.enable(COMPONENT_JID, first["node"][0], {"secret": first["secret"][0]})
    await phone.offline()
    (await phones(bob).online()).say(alice, "hi")
    (delivery,) = await deliveries(runtime, "conversations", 1)
    assert delivery.token == "refreshed-token"


async def test_muc_registration_carries_the_channel_hash(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2: a `muc` field makes a separate registration whose push carries `channel`; full JIDs are refused."""
    phone = await phones(fresh_user()).online()
    fields = {"token": TOKEN, "android-id": DEVICE}
    account = await phone.command(COMPONENT_JID, "register-push-fcm", fields)
    room = await phone.command(COMPONENT_JID, "register-push-fcm", {**fields, "muc": "room@muc.localhost"})
    assert account.form()["node"] != room.form()["node"]
    bad = await phone.command(
        COMPONENT_JID, "register-push-fcm", {**fields, "muc": "room@muc.localhost/nick"}
    )
    assert (bad.error_type, bad.condition) == ("modify", "bad-request")


async def test_registration_without_token_is_a_bad_request(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2: an empty token or device id is `bad-request`."""
    phone = await phones(fresh_user()).online()
    answer = await phone.command(COMPONENT_JID, "register-push-fcm", {"token": "", "android-id": DEVICE})
    assert answer.condition == "bad-request"


async def test_unregistered_node_is_refused_with_item_not_found(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2: unregister-push-fcm deletes the registration; a later publish gets cancel/item-not-found."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute")
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    gone = await phone.command(COMPONENT_JID, "unregister-push-fcm", {"android-id": DEVICE})
    assert gone.type == "result"
    again = await phone.command(COMPONENT_JID, "unregister-push-fcm", {"android-id": DEVICE})
    assert again.condition == "item-not-found"
    await phone.offline()
    publishes = component.publishes
    (await phones(bob).online()).say(alice, "hi")
    await deliveries(runtime, "conversations", 1, within=1.5)
    assert component.publishes == publishes + 1
    assert runtime.relay.sandbox(runtime.relay.app_ids()[0]).deliveries == []


async def test_smacks_hibernation_gets_a_push(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §3.1: a hibernated smacks session's queued stanza is pushed."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice, smacks=True).online()
    form = await register_conversations(phone, "execute")
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    phone.drop_socket()
    sender = await phones(bob).online()
    sender.say(alice, "are you there?")
    assert len(await deliveries(runtime, "conversations", 1, within=4.0)) == 1


async def test_message_body_is_not_forwarded_by_default(
    component: XmppComponent, runtime: Runtime, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """Privacy (issue 5): the summary's body and sender reach the phone only if the app allows it."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute")
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    await phone.offline()
    (await phones(bob).online()).say(alice, "secret words")
    (delivery,) = await deliveries(runtime, "conversations", 1)
    assert "body" not in delivery.message.data and delivery.message.body is None
    assert "secret words" not in repr(delivery.message) and "New Message" not in repr(delivery.message)


async def test_logs_hold_no_jid_token_secret_or_body(
    component: XmppComponent,
    runtime: Runtime,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """R12 and issue 5: tokens, JIDs, secrets and bodies never reach the logs, at any level."""
    alice, bob = fresh_user(), fresh_user()
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        phone = await phones(alice).online()
        form = await register_conversations(phone, "execute", token="PRIVATE-TOKEN")
        await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
        await phone.offline()
        (await phones(bob).online()).say(alice, "PRIVATE-BODY")
        await deliveries(runtime, "conversations", 1)
    component_logs = repr(logs) + "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("pushrelay", "slixmpp"))
    )
    assert any(entry["event"] == "xmpp.published" for entry in logs)
    for secret in ("PRIVATE-TOKEN", "PRIVATE-BODY", form["secret"][0], f"{alice}@{DOMAIN}", form["node"][0]):
        assert secret not in component_logs
