"""XEP-0357 publish handling: turn a user's server's publish into one push.

reference/xep0357.md §2, §5, §7. A publish names a node and (for p2-style registrations)
carries the secret in its publish-options. The node is looked up (or opened, when
stateless), the publisher's domain must be the account's, the secret is compared in
constant time, the per-node throttle applies, and the push goes through the Relay. The
verdict is only known once the provider answered (or the Dispatcher's deadline passed).
Three publish shapes need no registration here: ChatSecure knocks (`bridge.py`) and
Monal/fpush-style token nodes, opt-in per `pushModule` (node = APNs token, no secret).
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog
from slixmpp import JID

from pushrelay.config import XmppSettings
from pushrelay.domain import AppId, Outcome, Platform
from pushrelay.errors import Overloaded, Refused
from pushrelay.relay import Relay
from pushrelay.secrets import constant_time_equals

from .bridge import ChatSecureBridge, is_knock
from .payload import message_for
from .registration import CONVERSATIONS, MONAL
from .registry import Registration, Registry
from .stanza import Publish, first
from .throttle import Throttle
from .verdict import RATE_LIMITED, UNKNOWN_NODE, Verdict, verdict_for, verdict_for_error

log = structlog.get_logger(__name__)

THROTTLE_LABEL: Final = "xmpp.throttle"
MIN_TOKEN_NODE: Final = 32
MAX_TOKEN_NODE: Final = 512


class PushService:
    """Answers publishes; the component renders the returned Verdict as the IQ reply."""

    def __init__(
        self,
        relay: Relay,
        registry: Registry,
        settings: XmppSettings,
        bridge: ChatSecureBridge,
        throttle: Throttle,
    ) -> None:
        self._relay = relay
        self._registry = registry
        self._settings = settings
        self._bridge = bridge
        self._throttle = throttle

    async def publish(self, publish: Publish, sender: JID) -> Verdict:
        if is_knock(publish):
            verdict = await self._bridge.knock(publish)
            self._log("chatsecure", verdict)
            return verdict
        module = first(publish.options, "pushModule")
        if module is not None:
            return await self._publish_to_token_node(publish, module)
        registration = await self._registry.find(publish.node)
        if (
            registration is None
            or registration.domain != sender.domain
            or not self._has_secret(publish, registration)
        ):
            self._log("unknown", UNKNOWN_NODE)
            return UNKNOWN_NODE
        verdict = await self._push(publish, registration)
        self._log(registration.dialect, verdict, registration.app)
        return verdict

    def _has_secret(self, publish: Publish, registration: Registration) -> bool:
        if registration.dialect != CONVERSATIONS:
            return True  # Siskin's <enable/> carries no secret: the unguessable node is the capability
        given = first(publish.options, "secret")
        return given is not None and constant_time_equals(given, self._registry.secret_for(publish.node))

    async def _push(self, publish: Publish, registration: Registration) -> Verdict:
        if not await self._take_turn(publish.node):
            return RATE_LIMITED
        message = message_for(
            publish,
            registration.platform,
            self._settings.app_settings(registration.app),
            account=registration.account,
            channel=registration.channel,
        )
        try:
            outcome: Outcome
            if registration.device is not None:
                outcome = await self._relay.push_to_device_row(registration.device, message)
            else:
                (outcome,) = await self._relay.push_to_tokens(
                    registration.app, registration.platform, [registration.token or ""], message
                )
        except (Refused, Overloaded) as exc:
            return verdict_for_error(exc)
        return verdict_for(outcome)

    async def _publish_to_token_node(self, publish: Publish, module: str) -> Verdict:
        app = self._settings.push_modules.get(module)
        if app is None or not MIN_TOKEN_NODE <= len(publish.node) <= MAX_TOKEN_NODE:
            self._log(MONAL, UNKNOWN_NODE)
            return UNKNOWN_NODE
        if not await self._take_turn(publish.node):
            self._log(MONAL, RATE_LIMITED, app)
            return RATE_LIMITED
        message = message_for(publish, Platform.APNS, self._settings.app_settings(app), always_alert=True)
        try:
            (outcome,) = await self._relay.push_to_tokens(AppId(app), Platform.APNS, [publish.node], message)
        except (Refused, Overloaded) as exc:
            return verdict_for_error(exc)
        verdict = verdict_for(outcome)
        self._log(MONAL, verdict, app)
        return verdict

    async def _take_turn(self, node: str) -> bool:
        """Wait for this node's turn under the throttle; False when the push must be refused."""
        delay = self._throttle.reserve(self._relay.keyring.hash(THROTTLE_LABEL, node))
        if delay is None:
            return False
        if delay > 0:
            await asyncio.sleep(delay)
        return True

    def _log(self, dialect: str, verdict: Verdict, app: str | None = None) -> None:
        condition = getattr(verdict, "condition", "ok")
        if condition != "ok":
            self._relay.metrics.refusals.labels(protocol="xmpp", reason=condition).inc()
        log.info("xmpp.published", dialect=dialect, app=app, result=condition)
