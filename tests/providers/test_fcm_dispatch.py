"""The FCM provider behind the relay's Dispatcher, against the fake FCM over real sockets.

Rules: DESIGN.md (the Dispatcher owns retries and backoff; providers make one attempt
and classify) and reference/status-gorush-sygnal.md §4.2: a retryable FCM answer is
retried by the Dispatcher honouring Retry-After; UNREGISTERED comes back to the caller
and marks the token dead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushrelay.app import Runtime
from pushrelay.domain import AppId, Delivered, Message, Platform, Rejected, RejectReason
from pushrelay.providers.fcm import build
from pushrelay.testing.fake_fcm import FakeFcm
from tests.conftest import SettingsFactory
from tests.providers.fcm_support import OTHER_TOKEN, TOKEN, fcm_settings

APP = AppId("default")


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
async def runtime(
    fake_fcm: FakeFcm, settings_factory: SettingsFactory, tmp_path: Path
) -> AsyncIterator[Runtime]:
    fcm = fcm_settings(fake_fcm, tmp_path).model_dump(mode="json", exclude_none=True)
    settings = settings_factory(
        apps={"default": {"fcm": fcm}},
        dispatch={"backoff_base": 0.01, "backoff_max": 0.05, "deadline": 5.0},
    )
    provider = build(APP, settings.apps["default"])
    runtime = Runtime(settings, providers={(APP, Platform.FCM): provider})
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
        await provider.aclose()


async def test_unavailable_is_retried_by_the_dispatcher(fake_fcm: FakeFcm, runtime: Runtime) -> None:
    """§4.2: 503 UNAVAILABLE is retried with backoff (by the Dispatcher, not the provider)."""
    fake_fcm.answer(TOKEN, "UNAVAILABLE", times=2, retry_after=0)
    [outcome] = await runtime.relay.push_to_tokens(APP, Platform.FCM, [TOKEN], Message(title="Hi"))
    assert isinstance(outcome, Delivered)
    assert (fake_fcm.answers["503 UNAVAILABLE"], len(fake_fcm.deliveries)) == (2, 1)


async def test_unregistered_token_comes_back_to_the_caller(fake_fcm: FakeFcm, runtime: Runtime) -> None:
    """§4.2: UNREGISTERED is final: not retried, reported, the other token still delivered."""
    fake_fcm.unregister(TOKEN)
    outcomes = await runtime.relay.push_to_tokens(APP, Platform.FCM, [TOKEN, OTHER_TOKEN], Message(body="x"))
    assert outcomes[0] == Rejected(RejectReason.UNREGISTERED, "UNREGISTERED")
    assert isinstance(outcomes[1], Delivered)
    assert fake_fcm.answers["404 UNREGISTERED"] == 1
