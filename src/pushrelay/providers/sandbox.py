"""The sandbox provider: records deliveries in memory instead of calling APNs or FCM.

It lets a newcomer see a push go through with no credentials (`GET /sandbox/deliveries`)
and gives tests a provider with no network. The ring is bounded: the oldest entries go.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from pushrelay.domain import AppId, Delivered, Message, Outcome, Platform, Push
from pushrelay.logs import short_ref


@dataclass(frozen=True, slots=True)
class SandboxDelivery:
    app: AppId
    platform: Platform
    token: str = field(repr=False)
    token_ref: str
    message: Message
    push_id: str
    at: float


class SandboxProvider:
    name = "sandbox"

    def __init__(self, app: AppId, capacity: int = 1000) -> None:
        self.app = app
        self._deliveries: deque[SandboxDelivery] = deque(maxlen=capacity)

    @property
    def deliveries(self) -> list[SandboxDelivery]:
        return list(self._deliveries)

    def clear(self) -> None:
        self._deliveries.clear()

    async def send(self, push: Push) -> Outcome:
        target = push.target
        self._deliveries.append(
            SandboxDelivery(
                app=target.app,
                platform=target.platform,
                token=target.token,
                token_ref=short_ref(target.ref),
                message=push.message,
                push_id=push.id,
                at=time.time(),
            )
        )
        return Delivered(provider_id=push.id)

    async def aclose(self) -> None:
        self._deliveries.clear()
