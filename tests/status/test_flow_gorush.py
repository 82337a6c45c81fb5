"""Status through the gorush forward provider: a relay's own `POST /api/push` plays the gorush.

Deployments that keep their gorush set `[apps.<id>.gorush] url` (docs/status.md): the Status
server then posts status-go's gorush request for each push. Here the gorush is a second relay,
in this process on a loopback socket, whose `/api/push` delivers to the fake APNs and FCM; the
phones must receive what they would from a real gorush (tests/status/received.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushrelay.app import Runtime, create_app
from pushrelay.config import Settings
from pushrelay.testing.fake_apns import FakeApns
from pushrelay.testing.fake_fcm import FakeFcm
from tests.status import received
from tests.status.client import APN_TOKEN, FIREBASE_TOKEN, NOT_REGISTERED, Notification, StatusClient
from tests.status.conftest import STATUS_APN_TOPIC, StatusApp, serve_asgi, serve_status, status_settings
from tests.status.flows import notify, register, register_query_notify

APNS_DEVICE = "d4" * 32
FCM_DEVICE = "fcm-registration-token-gorush-0001"


@pytest.fixture
async def gorush_url(tmp_path: Path, status_providers: dict[str, Any]) -> AsyncIterator[str]:
    """A relay acting as the gorush: its gorush API delivers to the fakes."""
    workdir = tmp_path / "gorush"
    workdir.mkdir()
    settings = Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{workdir}/pushrelay.db", "connect_timeout": 5},
            "secrets": {"key_file": str(workdir / "server.key")},
            "apps": {"default": status_providers},
            "status": {"enabled": False},
        }
    )
    async with serve_asgi(create_app(settings, Runtime(settings))) as url:
        yield url


@pytest.fixture
async def forwarding(tmp_path: Path, gorush_url: str) -> AsyncIterator[StatusApp]:
    """The Status server, its one app delivering through the gorush above."""
    async with serve_status(status_settings(tmp_path, app={"gorush": {"url": gorush_url}})) as app:
        yield app


async def test_forwarded_push_reaches_apns_with_the_gorush_payload(
    forwarding: StatusApp, fake_apns: FakeApns
) -> None:
    """§1.8 → §2.1: status-go's gorush request, rendered by a gorush API, is what the phone gets."""
    alice = await register_query_notify(forwarding, APN_TOKEN, APNS_DEVICE)
    assert received.apns_payloads(fake_apns, APNS_DEVICE) == received.expected_apns(alice.public_key)
    assert {d.topic for d in fake_apns.deliveries_to(APNS_DEVICE)} == {STATUS_APN_TOPIC}


async def test_forwarded_push_reaches_fcm_with_the_gorush_notification(
    forwarding: StatusApp, fake_fcm: FakeFcm
) -> None:
    """§2.1: `notification.body` and string data; the forward provider sends no topic for FCM."""
    alice = await register_query_notify(forwarding, FIREBASE_TOKEN, FCM_DEVICE)
    assert received.fcm_messages(fake_fcm, FCM_DEVICE) == received.expected_fcm(alice.public_key, FCM_DEVICE)


async def test_dead_token_behind_gorush_is_not_registered_now_and_on_the_next_request(
    forwarding: StatusApp, gorush_url: str, fake_apns: FakeApns
) -> None:
    """gorush's `failed-push` log `Unregistered` is a dead token to the Status server too: the report
    says NOT_REGISTERED and the next request is answered from the store, reaching neither hop."""
    fake_apns.unregister(APNS_DEVICE)
    alice = StatusClient()
    await register(forwarding, alice, token_type=APN_TOKEN, device_token=APNS_DEVICE)
    assert await notify(forwarding, Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    assert (await gorush_pushes(gorush_url), received.push_answers(fake_apns)) == (1, 1)
    assert await notify(forwarding, Notification(alice.public_key)) == [(False, NOT_REGISTERED)]
    assert (await gorush_pushes(gorush_url), received.push_answers(fake_apns)) == (1, 1)


async def gorush_pushes(url: str) -> int:
    """How many tokens the gorush was asked to push to (`GET /api/stat/app` `total_count`)."""
    async with httpx.AsyncClient(base_url=url) as http:
        count: int = (await http.get("/api/stat/app")).json()["total_count"]
        return count
