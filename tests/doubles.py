"""In-memory test doubles of our own Protocols (STYLE R14: fakes over mocks)."""

from __future__ import annotations

import asyncio
from collections import deque

from pushrelay.domain import Delivered, Outcome, Push

DELIVERED = Delivered()


class ScriptedProvider:
    """A provider that answers from a script, then with `default`; `gate` holds every send until set."""

    def __init__(self, name: str, *script: Outcome, default: Outcome = DELIVERED, delay: float = 0.0) -> None:
        self.name = name
        self.script: deque[Outcome] = deque(script)
        self.default = default
        self.delay = delay
        self.calls = 0
        self.sent: list[Push] = []
        self.gate: asyncio.Event | None = None

    async def send(self, push: Push) -> Outcome:
        self.calls += 1
        self.sent.append(push)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.script.popleft() if self.script else self.default

    async def aclose(self) -> None:
        pass
