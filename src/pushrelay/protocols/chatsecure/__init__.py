"""The ChatSecure Push API v1: a drop-in server for the ChatSecure apps and SDKs (docs/chatsecure.md)."""

from __future__ import annotations

from fastapi import APIRouter

from pushrelay.domain import Outcome
from pushrelay.protocols.chatsecure import messages, routes
from pushrelay.protocols.chatsecure.context import Context
from pushrelay.protocols.chatsecure.pruner import ExpiredTokenPruner
from pushrelay.relay import Relay

__all__ = ["ChatSecure", "ExpiredTokenPruner"]


class ChatSecure:
    """The API on one relay: its HTTP routes, its daily prune, and knocks for the XEP-0357 bridge."""

    def __init__(self, relay: Relay) -> None:
        self.context = Context.build(relay, relay.store.database)

    def router(self) -> APIRouter:
        return routes.router(self.context)

    def pruner(self) -> ExpiredTokenPruner:
        return ExpiredTokenPruner(self.context.relay)

    async def knock(self, token: str, priority: str) -> list[Outcome]:
        """A knock as `POST messages/` would make it; Refused for an unknown, expired or revoked token."""
        return await messages.deliver_knock(self.context, token, None, urgent=priority == "high")
