"""The ChatSecure bridge (RubDub's role, reference/chatsecure.md §4).

ChatSecure enables XEP-0357 with publish-options `token` (a whitelist token) and `endpoint`
(the ChatSecure Push messages URL). A publish carrying both is a knock: when the endpoint
is this relay's own `public_url` + `/api/v1/messages/`, it goes straight through the Relay
(capability kind `chatsecure.token`); another host only if it is on `[xmpp]
bridge_endpoints`, POSTed as multipart `token` + `priority` like RubDub. Never an open
forwarder. Priority as RubDub derives it; low-priority knocks are dropped as RubDub does.
"""

from __future__ import annotations

import json
from typing import Final

import httpx
import structlog

from pushrelay.domain import JSON, Message, Priority, PushType
from pushrelay.errors import Overloaded, Refused
from pushrelay.relay import Relay

from .stanza import Publish, first
from .verdict import (
    ACCEPTED,
    PROVIDER_TROUBLE,
    RATE_LIMITED,
    UNKNOWN_NODE,
    Refusal,
    Verdict,
    verdict_for,
    verdict_for_all,
    verdict_for_error,
)

log = structlog.get_logger(__name__)

CAPABILITY_KIND: Final = "chatsecure.token"
MESSAGES_PATH: Final = "/api/v1/messages/"
NOT_ALLOWED: Final = Refusal("cancel", "not-allowed", "this app server does not forward to that endpoint")
FORWARD_TIMEOUT: Final = 10.0


def is_knock(publish: Publish) -> bool:
    return first(publish.options, "token") is not None and first(publish.options, "endpoint") is not None


def rubdub_priority(publish: Publish) -> str:
    """`last-message-priority` if present, else high when the summary has a body, else low."""
    explicit = publish.summary.last_message_priority
    if explicit in ("high", "low"):
        return explicit
    return "high" if publish.summary.has_body else "low"


def knock_message(token: str) -> Message:
    """The push ChatSecure reads: `aps.alert.message.token` on iOS, data `message` on Android."""
    inner: dict[str, JSON] = {"data": None, "token": token}
    # Android's PushParser calls getAsString() on `data`, which throws on JSON null: send "".
    android = {"message": {"data": "", "token": token}}
    return Message(
        data={"message": json.dumps(android, separators=(",", ":"))},
        aps={"alert": {"message": inner}},
        sound="default",
        content_available=True,
        priority=Priority.HIGH,
        push_type=PushType.ALERT,
    )


class ChatSecureBridge:
    def __init__(self, relay: Relay, allowed_endpoints: list[str], http: httpx.AsyncClient) -> None:
        self._relay = relay
        self._own = _normal(relay.settings.server.public_url + MESSAGES_PATH)
        self._allowed = {_normal(url) for url in allowed_endpoints}
        self._http = http

    async def knock(self, publish: Publish) -> Verdict:
        token = first(publish.options, "token") or ""
        endpoint = _normal(first(publish.options, "endpoint") or "")
        priority = rubdub_priority(publish)
        if endpoint == self._own:
            return await self._knock_here(token, priority)
        if endpoint in self._allowed:
            return await self._forward(endpoint, token, priority)
        log.info("xmpp.bridge_refused", reason="endpoint not allowed")
        return NOT_ALLOWED

    async def _knock_here(self, token: str, priority: str) -> Verdict:
        try:
            capability = await self._relay.resolve_capability(CAPABILITY_KIND, token)
            if priority != "high":
                return ACCEPTED
            message = knock_message(token)
            if capability.account_id is not None:
                return verdict_for_all(await self._relay.push_to_account(capability.account_id, message))
            if capability.device_id is not None:
                return verdict_for(await self._relay.push_to_device(capability.device_id, message))
            return UNKNOWN_NODE
        except (Refused, Overloaded) as exc:
            return verdict_for_error(exc)

    async def _forward(self, endpoint: str, token: str, priority: str) -> Verdict:
        if priority != "high":
            return ACCEPTED
        files = {"token": (None, token), "priority": (None, priority)}
        try:
            response = await self._http.post(endpoint + "/", files=files, timeout=FORWARD_TIMEOUT)
        except httpx.HTTPError as exc:
            log.warning("xmpp.bridge_failed", error=type(exc).__name__)
            return PROVIDER_TROUBLE
        if response.is_success:
            return ACCEPTED
        if response.status_code == 429:
            return RATE_LIMITED
        if response.status_code in (400, 401, 403, 404):
            return UNKNOWN_NODE
        return PROVIDER_TROUBLE


def _normal(url: str) -> str:
    return url.strip().rstrip("/")
