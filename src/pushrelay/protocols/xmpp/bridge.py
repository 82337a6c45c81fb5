"""The ChatSecure bridge (RubDub's role, reference/chatsecure.md §4).

ChatSecure enables XEP-0357 with publish-options `token` (a whitelist token) and `endpoint`
(the ChatSecure Push messages URL). A publish carrying both is a knock: when the endpoint
is this relay's own `public_url` + `/api/v1/messages/`, it goes through the ChatSecure API's
own knock path (the `Knock` app.py hands over), so it pushes exactly what `POST messages/`
would; another host only if it is on `[xmpp]
bridge_endpoints`, POSTed as multipart `token` + `priority` like RubDub. Never an open
forwarder. Priority as RubDub derives it; low-priority knocks are dropped as RubDub does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias

import httpx
import structlog

from pushrelay.domain import Outcome
from pushrelay.errors import Overloaded, Refused

from .stanza import Publish, first
from .verdict import (
    ACCEPTED,
    PROVIDER_TROUBLE,
    RATE_LIMITED,
    UNKNOWN_NODE,
    Refusal,
    Verdict,
    verdict_for_all,
    verdict_for_error,
)

log = structlog.get_logger(__name__)

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


Knock: TypeAlias = Callable[[str, str], Awaitable[list[Outcome]]]
"""Deliver a knock with (whitelist token, priority); raises Refused for a token that is not live."""


class ChatSecureBridge:
    def __init__(
        self, public_url: str, allowed_endpoints: list[str], http: httpx.AsyncClient, knock: Knock | None
    ) -> None:
        self._own = _normal(public_url + MESSAGES_PATH)
        self._allowed = {_normal(url) for url in allowed_endpoints}
        self._http = http
        self._knock = knock

    async def knock(self, publish: Publish) -> Verdict:
        token = first(publish.options, "token") or ""
        endpoint = _normal(first(publish.options, "endpoint") or "")
        priority = rubdub_priority(publish)
        if endpoint == self._own and self._knock is not None:
            return await self._knock_here(self._knock, token, priority)
        if endpoint in self._allowed:
            return await self._forward(endpoint, token, priority)
        log.info("xmpp.bridge_refused", reason="endpoint not allowed")
        return NOT_ALLOWED

    async def _knock_here(self, knock: Knock, token: str, priority: str) -> Verdict:
        """Through the ChatSecure API's own knock path. RubDub never forwarded low-priority knocks."""
        if priority != "high":
            return ACCEPTED
        try:
            return verdict_for_all(await knock(token, priority))
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
