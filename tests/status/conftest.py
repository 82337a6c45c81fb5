"""Fixtures for the Status protocol core: a server on in-memory seams, and clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pushrelay.config import StatusSettings
from pushrelay.protocols.status.server import StatusServer, load_identity
from pushrelay.secrets import Keyring
from tests.status.client import StatusClient
from tests.status.memory import MemoryRepository, RecordingPusher


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def repository() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def pusher() -> RecordingPusher:
    return RecordingPusher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(
    repository: MemoryRepository, keyring: Keyring, pusher: RecordingPusher, clock: FakeClock
) -> StatusServer:
    identity = await load_identity(repository, keyring)
    return StatusServer(identity, repository, keyring, pusher, StatusSettings(), clock=clock)


@pytest.fixture
def alice() -> StatusClient:
    return StatusClient()


@pytest.fixture
def bob() -> StatusClient:
    return StatusClient()
