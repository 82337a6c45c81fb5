"""Conversations (p2 dialect) through a real Prosody 0.12 with mod_cloud_notify, to the fake FCM and APNs.

Each test asserts on what the fake push service received over TLS and HTTP/2: the request a
phone's push service would hand to Conversations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from pushrelay.protocols.xmpp import XmppComponent
from pushrelay.protocols.xmpp.registration import p2_hash
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.conftest import FAKE_APNS_TOPIC

from .clients import Phone
from .conftest import arrivals
from .servers import COMPONENT_JID, DOMAIN

TOKEN = "fcm-token-" + "a" * 140
DEVICE = "92afd7a91cdba9a0"
APNS_TOKEN = "c0" * 32


@pytest.fixture
def apps(fake_apps: dict[str, Any]) -> dict[str, Any]:
    return fake_apps


def conversations_fcm_message(token: str, jid: str) -> dict[str, Any]:
    """reference/xep0357.md §4.1, §6: data-only `account` = sha1(bareJID + "\\0" + deviceId), collapse key
    = its first 6 characters; high priority because Prosody filled the summary body (important)."""
    account = p2_hash(jid, DEVICE)
    return {
        "token": token,
        "data": {"account": account},
        "android": {"priority": "high", "collapse_key": account[:6]},
    }


async def register_conversations(
    phone: Phone, action: str | None, token: str = TOKEN, service: str = "fcm"
) -> dict[str, list[str]]:
    answer = await phone.command(
        COMPONENT_JID, f"register-push-{service}", {"token": token, "android-id": DEVICE}, action=action
    )
    assert answer.type == "result", answer
    command = answer.xml[0]
    assert command.get("status") == "completed"
    return answer.form()


async def enable_and_go_offline(phone: Phone, form: dict[str, list[str]]) -> None:
    answer = await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    assert answer.type == "result"
    await phone.offline()


async def test_conversations_execute_registration_gets_an_fcm_push_when_offline(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: register-push-fcm (action execute) → enable → offline message → within
    2 s FCM receives the data-only message Conversations reads."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute")
    assert form["jid"] == [COMPONENT_JID]
    await enable_and_go_offline(phone, form)
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    assert delivery.message == conversations_fcm_message(TOKEN, f"{alice}@{DOMAIN}")


async def test_conversations_complete_registration_gets_the_same_fcm_push(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: newer Conversations sends action="complete" and needs status="completed"
    with non-empty node and secret; the push then reaches FCM exactly as for execute."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "complete")
    assert form["node"][0] and form["secret"][0]
    await enable_and_go_offline(phone, form)
    (await phones(bob).online()).say(alice, "hi")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    assert delivery.message == conversations_fcm_message(TOKEN, f"{alice}@{DOMAIN}")


async def test_smacks_hibernation_gets_an_fcm_push(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §3.1: a stanza queued for a hibernated smacks session is pushed (after
    Prosody's 1 s batching timer), still within 2 s."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice, smacks=True).online()
    form = await register_conversations(phone, "execute")
    await phone.enable(COMPONENT_JID, form["node"][0], {"secret": form["secret"][0]})
    phone.drop_socket()
    sender = await phones(bob).online()
    sender.say(alice, "are you there?")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    assert delivery.message == conversations_fcm_message(TOKEN, f"{alice}@{DOMAIN}")


async def test_conversations_apns_registration_gets_an_alert_with_mutable_content(
    component: XmppComponent, fake_apns: FakeApns, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1, §6: register-push-apns; an important message is an APNs alert (push type
    alert, priority 10) with a generic title and mutable-content, plus the account hash."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute", token=APNS_TOKEN, service="apns")
    await enable_and_go_offline(phone, form)
    (await phones(bob).online()).say(alice, "hello")
    (delivery,) = await arrivals(fake_apns.deliveries, 1)
    assert delivery.token == APNS_TOKEN and delivery.topic == FAKE_APNS_TOPIC
    assert delivery.payload == {
        "aps": {"alert": {"title": "New message"}, "sound": "default", "mutable-content": 1},
        "account": p2_hash(f"{alice}@{DOMAIN}", DEVICE),
    }
    assert (delivery.headers["apns-push-type"], delivery.headers["apns-priority"]) == ("alert", "10")


async def test_registration_without_action_is_accepted(
    component: XmppComponent, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """reference/xep0357.md §4.1: accept execute, complete and an absent action."""
    phone = await phones(fresh_user()).online()
    form = await register_conversations(phone, None)
    assert form["node"] and form["secret"]


async def test_reregistration_keeps_the_node_and_only_changes_the_token(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2 (reference/xep0357.md §4.1, §7): the node is stable on re-registration; the new token is pushed."""
    alice, bob = fresh_user(), fresh_user()
    refreshed = "refreshed-fcm-token-" + "b" * 60
    phone = await phones(alice).online()
    first = await register_conversations(phone, "execute")
    second = await register_conversations(phone, "execute", token=refreshed)
    assert (first["node"], first["secret"]) == (second["node"], second["secret"])
    await enable_and_go_offline(phone, first)
    (await phones(bob).online()).say(alice, "hi")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    assert delivery.token == refreshed


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
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """p2: unregister-push-fcm deletes the registration; a later publish gets cancel/item-not-found and
    nothing reaches FCM."""
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
    await arrivals(fake_fcm.deliveries, 1, within=1.5)
    assert component.publishes == publishes + 1
    assert list(fake_fcm.deliveries) == []


async def test_message_body_is_not_forwarded_by_default(
    component: XmppComponent, fake_fcm: FakeFcm, phones: Callable[..., Phone], fresh_user: Callable[[], str]
) -> None:
    """Privacy (issue 5): the summary's body and sender reach the phone only if the app allows it."""
    alice, bob = fresh_user(), fresh_user()
    phone = await phones(alice).online()
    form = await register_conversations(phone, "execute")
    await enable_and_go_offline(phone, form)
    (await phones(bob).online()).say(alice, "secret words")
    (delivery,) = await arrivals(fake_fcm.deliveries, 1)
    sent = json.dumps(delivery.message)
    assert "secret words" not in sent and "New Message" not in sent and bob not in sent
    assert "notification" not in delivery.message


async def test_logs_hold_no_jid_token_secret_or_body(
    component: XmppComponent,
    fake_fcm: FakeFcm,
    phones: Callable[..., Phone],
    fresh_user: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """R12 and issue 5: tokens, JIDs, secrets and bodies never reach the logs, at any level, the real
    FCM provider's included."""
    alice, bob = fresh_user(), fresh_user()
    private_token = "PRIVATE-TOKEN-" + "p" * 40
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        phone = await phones(alice).online()
        form = await register_conversations(phone, "execute", token=private_token)
        await enable_and_go_offline(phone, form)
        (await phones(bob).online()).say(alice, "PRIVATE-BODY")
        assert len(await arrivals(fake_fcm.deliveries, 1)) == 1
    component_logs = repr(logs) + "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("pushrelay", "slixmpp"))
    )
    assert any(entry["event"] == "xmpp.published" for entry in logs)
    for secret in (private_token, "PRIVATE-BODY", form["secret"][0], f"{alice}@{DOMAIN}", form["node"][0]):
        assert secret not in component_logs
