"""The Status push notification server (spec 71 as status-go implements it); see docs/status.md.

`build(relay)` returns the service the app's lifespan starts and stops (identity, pruning,
the Waku binding when `[status.waku] enabled`); `router(service)` is its HTTP binding, whose
busy `POST /status/v1/messages` app.py also serves directly (`MessagesEndpoint`).
"""

from __future__ import annotations

from pushrelay.relay import Relay
from pushrelay.store.status import StatusStore

from .http import MessagesEndpoint, router
from .service import StatusService

__all__ = ["MessagesEndpoint", "StatusService", "build", "router"]


def build(relay: Relay) -> StatusService:
    """The service, wired to the Relay and the Status tables, with `[status]` settings."""
    return StatusService(relay, StatusStore(relay.store.database), relay.settings.status)
