"""The registration dialects: XEP-0050 ad-hoc commands, each answered as its clients expect.

* Conversations / p2 (reference/xep0357.md §4.1): `register-push-fcm`, `register-push-apns`
  and `unregister-push-*` with fields `token`, `device-id` (or `android-id`), and `muc` (a
  room JID) or `channel` (its hash). Action `execute`, `complete` or none. The reply is
  `status="completed"` with a form holding `jid`, `node` and `secret`. The account is
  identified by p2's hash `sha1(bareJID + "\\0" + deviceId)`, computed here from the
  command's sender and never stored with the JID.
* Siskin / Tigase (§4.4): `register-device` / `unregister-device` with `provider`,
  `device-token` and `device-second-token`; the reply holds `node`, `features` and
  `max-payload-size`. No secret: Siskin's `<enable/>` carries none.
"""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from slixmpp import JID

from pushrelay.config import XmppSettings
from pushrelay.domain import AppId, Platform

from .registry import Registry, Spec
from .stanza import Command, Form, FormField, Malformed, command_reply, first

CONVERSATIONS: Final = "conversations"
TIGASE: Final = "tigase"
MONAL: Final = "monal"

TIGASE_APNS_FEATURE: Final = "tigase:messenger:apns:1"
TIGASE_FEATURES: Final = ("tigase:push:encrypt:0", "tigase:push:encrypt:aes-128-gcm")
TIGASE_MAX_PAYLOAD: Final = "3000"
MAX_TOKEN_CHARS: Final = 1024
SERVICES: Final = {"fcm": Platform.FCM, "apns": Platform.APNS}


@dataclass(frozen=True, slots=True)
class CommandInfo:
    node: str
    name: str


class Registration:
    """Answers the registration commands of every configured dialect."""

    def __init__(self, registry: Registry, settings: XmppSettings) -> None:
        self._registry = registry
        self._settings = settings
        self.commands: list[CommandInfo] = []
        for service, app in (("fcm", settings.fcm_app), ("apns", settings.apns_app)):
            if app is not None:
                self.commands.append(CommandInfo(f"register-push-{service}", f"Register for {service} push"))
                self.commands.append(CommandInfo(f"unregister-push-{service}", f"Unregister {service} push"))
        if settings.tigase_app is not None:
            self.commands.append(CommandInfo("register-device", "Register device"))
            self.commands.append(CommandInfo("unregister-device", "Unregister device"))

    @property
    def features(self) -> list[str]:
        """The dialect features disco#info lists (Siskin looks for its provider feature)."""
        return [TIGASE_APNS_FEATURE, *TIGASE_FEATURES] if self._settings.tigase_app is not None else []

    def knows(self, node: str) -> bool:
        return any(c.node == node for c in self.commands)

    async def handle(self, command: Command, sender: JID, component_jid: str) -> ET.Element:
        """The `<command/>` to answer with; raises Malformed for an error reply."""
        if command.action not in (None, "execute", "complete"):
            raise Malformed("only execute and complete are supported", "bad-request")
        if not self.knows(command.node):
            raise Malformed("no such command", "item-not-found", "cancel")
        if command.form is None:
            raise Malformed("the command needs a submitted form")
        sessionid = command.sessionid or str(time.time_ns() // 1_000_000)
        node = command.node
        if node.startswith("register-push-"):
            return await self._register_p2(command, sender, sessionid, component_jid)
        if node.startswith("unregister-push-"):
            return await self._unregister_p2(command, sender, sessionid)
        if node == "register-device":
            return await self._register_tigase(command, sender, sessionid)
        return await self._unregister_tigase(command, sender, sessionid)

    # Conversations / p2

    async def _register_p2(self, command: Command, sender: JID, sessionid: str, jid: str) -> ET.Element:
        service = command.node.removeprefix("register-push-")
        app, platform = self._p2_app(service), SERVICES[service]
        form = command.form or {}
        token = _bounded(first(form, "token"), "token")
        account, channel = _p2_account(form, sender)
        spec = Spec(
            app=app,
            dialect=CONVERSATIONS,
            platform=platform,
            token=token,
            domain=sender.domain,
            identity=f"{account}\0{channel or ''}",
            account=account,
            channel=channel,
        )
        node = await self._registry.register(spec)
        fields = [
            FormField("jid", (jid,), "jid-single"),
            FormField("node", (node,), "text-single"),
            FormField("secret", (self._registry.secret_for(node),), "text-single"),
        ]
        return command_reply(command.node, sessionid, fields)

    async def _unregister_p2(self, command: Command, sender: JID, sessionid: str) -> ET.Element:
        app = self._p2_app(command.node.removeprefix("unregister-push-"))
        account, channel = _p2_account(command.form or {}, sender)
        if not await self._registry.unregister(app, CONVERSATIONS, f"{account}\0{channel or ''}"):
            raise Malformed("no such registration", "item-not-found", "cancel")
        return command_reply(command.node, sessionid)

    def _p2_app(self, service: str) -> AppId:
        app = {"fcm": self._settings.fcm_app, "apns": self._settings.apns_app}.get(service)
        if app is None:
            raise Malformed("no such push service", "item-not-found", "cancel")
        return AppId(app)

    # Siskin / Tigase

    async def _register_tigase(self, command: Command, sender: JID, sessionid: str) -> ET.Element:
        provider, token = _tigase_device(command)
        spec = Spec(
            app=AppId(self._settings.tigase_app or ""),
            dialect=TIGASE,
            platform=_tigase_platform(provider),
            token=token,
            domain=sender.domain,
            identity=f"{provider}\0{token}",
        )
        node = await self._registry.register(spec)
        fields = [
            FormField("node", (node,), "text-single"),
            FormField("features", TIGASE_FEATURES, "list-multi"),
            FormField("max-payload-size", (TIGASE_MAX_PAYLOAD,), "text-single"),
        ]
        return command_reply(command.node, sessionid, fields, form_type="result")

    async def _unregister_tigase(self, command: Command, sender: JID, sessionid: str) -> ET.Element:
        provider, token = _tigase_device(command)
        app = AppId(self._settings.tigase_app or "")
        if not await self._registry.unregister(app, TIGASE, f"{provider}\0{token}"):
            raise Malformed("no such registration", "item-not-found", "cancel")
        return command_reply(command.node, sessionid)


def p2_hash(jid: str, device_id: str) -> str:
    """p2's account (or channel) hash: `sha1hex(jid + "\\0" + deviceId)`; what Conversations matches."""
    return hashlib.sha1(f"{jid}\0{device_id}".encode()).hexdigest()


def _p2_account(form: Form, sender: JID) -> tuple[str, str | None]:
    device = _bounded(first(form, "device-id") or first(form, "android-id"), "device-id")
    muc, channel = first(form, "muc"), first(form, "channel")
    if muc is not None:
        if "/" in muc or len(muc) > MAX_TOKEN_CHARS:
            raise Malformed("muc must be a bare JID")
        channel = p2_hash(muc, device)
    elif channel is not None:
        channel = _bounded(channel, "channel")
    return p2_hash(str(sender.bare), device), channel


def _tigase_device(command: Command) -> tuple[str, str]:
    form = command.form or {}
    return _bounded(first(form, "provider"), "provider"), _bounded(
        first(form, "device-token"), "device-token"
    )


def _tigase_platform(provider: str) -> Platform:
    if "apns" in provider:
        return Platform.APNS
    if "fcm" in provider or "gcm" in provider:
        return Platform.FCM
    raise Malformed("unknown provider")


def _bounded(value: str | None, name: str) -> str:
    if not value:
        raise Malformed(f"{name} is required")
    if len(value) > MAX_TOKEN_CHARS:
        raise Malformed(f"{name} is too long")
    return value
