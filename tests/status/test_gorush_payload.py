"""The gorush forward provider: exactly the JSON status-go posts, and gorush's answers classified.

Expected bodies from status-go `gorush_test.go: TestPushNotificationRegistrationToGoRushRequest`
(reference/status-gorush-sygnal.md §1.8, §1.10), posted to a fake gorush on a loopback socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pushrelay.config import GorushForwardSettings, StatusSettings
from pushrelay.domain import (
    AppId,
    Delivered,
    Failed,
    Message,
    Outcome,
    Platform,
    Push,
    Rejected,
    RejectReason,
    Target,
    TokenRef,
)
from pushrelay.protocols.status.server import StatusServer, load_identity
from pushrelay.providers.gorush import GorushProvider, classify
from pushrelay.secrets import Keyring
from tests.status import wire
from tests.status.client import APN_TOKEN, FIREBASE_TOKEN, MENTION, MESSAGE, StatusClient, hashed_key
from tests.status.conftest import serve_asgi
from tests.status.memory import MemoryRepository


class FakeGorush:
    """Records `POST /api/push` bodies and answers with `status` and `answer`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.answer: dict[str, Any] = {"success": "ok", "counts": 1, "logs": []}
        self.app = Starlette(routes=[Route("/api/push", self._push, methods=["POST"])])

    async def _push(self, request: Request) -> Response:
        self.bodies.append(json.loads(await request.body()))
        return JSONResponse(self.answer, status_code=self.status)


@pytest.fixture
async def gorush() -> AsyncIterator[tuple[FakeGorush, GorushProvider]]:
    fake = FakeGorush()
    async with serve_asgi(fake.app) as url:
        provider = GorushProvider(AppId("status"), GorushForwardSettings(url=url))
        yield fake, provider
        await provider.aclose()


class ProviderPusher:
    """The core's pusher straight onto one provider (the Relay's lanes are tested elsewhere)."""

    def __init__(self, provider: GorushProvider) -> None:
        self.provider = provider

    async def push(self, platform: Platform, token: str, message: Message) -> Outcome:
        return await self.provider.send(
            Push(Target(AppId("status"), platform, token, TokenRef(b"")), message)
        )

    async def revive(self, platform: Platform, token: str) -> None:
        pass


async def test_status_requests_become_status_gos_gorush_notifications(
    gorush: tuple[FakeGorush, GorushProvider],
) -> None:
    """§1.10: the three notifications of status-go's test, field for field (topic "" included)."""
    fake, provider = gorush
    repository, keyring = MemoryRepository(), Keyring.generate()
    identity = await load_identity(repository, keyring)
    server = StatusServer(identity, repository, keyring, ProviderPusher(provider), StatusSettings())
    alice, bob = StatusClient(), StatusClient()
    installations = ["a6ae4fde-bb65-11ea-b3de-0242ac130004", "b7ae4fde-bb65-11ea-b3de-0242ac130004"]
    for client, installation, kind, token in [
        (alice, installations[0], APN_TOKEN, "token-1"),
        (alice, installations[1], FIREBASE_TOKEN, "token-2"),
        (bob, installations[0], FIREBASE_TOKEN, "token-3"),
    ]:
        fields = client.registration_fields(
            identity.public_key,
            installation_id=installation,
            token_type=kind,
            device_token=token,
            apn_topic="",
        )
        fields.append((14, b"\x11" * 64))  # bob allows mentions in the chat below
        await server.handle(
            client.envelope(
                client.registration_payload(identity.public_key, plaintext=wire.encode(fields)), 16
            )
        )

    def item(target: StatusClient, installation: str, kind: int, message: bytes) -> bytes:
        return wire.encode(
            [
                (1, "b6ae4fde-bb65-11ea-b3de-0242ac130004"),
                (2, b"\x11" * 64),
                (3, hashed_key(target.public_key)),
                (4, installation),
                (5, message),
                (6, kind),
            ]
        )

    request = wire.encode(
        [
            (1, item(alice, installations[0], MESSAGE, b"message-1")),
            (1, item(alice, installations[1], MESSAGE, b"message-2")),
            (1, item(bob, installations[0], MENTION, b"message-3")),
            (2, b"id"),
        ]
    )
    await server.handle(StatusClient().envelope(request, 20))

    chat = "0x" + "11" * 64
    expected = [
        (["token-1"], 1, "You have a new message", "0x" + b"message-1".hex(), hashed_key(alice.public_key)),
        (["token-2"], 2, "You have a new message", "0x" + b"message-2".hex(), hashed_key(alice.public_key)),
        (["token-3"], 2, "Someone mentioned you", "0x" + b"message-3".hex(), hashed_key(bob.public_key)),
    ]
    bodies = sorted((b["notifications"][0] for b in fake.bodies), key=lambda n: n["tokens"])
    assert bodies == [
        {
            "tokens": tokens,
            "platform": platform,
            "message": text,
            "topic": "",
            "data": {"encryptedMessage": encrypted, "chatId": chat, "publicKey": "0x" + key.hex()},
        }
        for tokens, platform, text, encrypted, key in expected
    ]


async def test_apns_topic_is_sent_and_fcm_topic_is_not(gorush: tuple[FakeGorush, GorushProvider]) -> None:
    """§1.8: the registration's apn_topic goes to gorush for APNs; FCM gets "" (no topic send)."""
    fake, provider = gorush
    message = Message(body="You have a new message", data={}, topic="im.status.ethereum")
    for platform in (Platform.APNS, Platform.FCM):
        await provider.send(Push(Target(AppId("a"), platform, "t", TokenRef(b"")), message))
    assert [b["notifications"][0]["topic"] for b in fake.bodies] == ["im.status.ethereum", ""]


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (200, {"success": "ok", "counts": 1, "logs": []}, Delivered()),
        (
            200,
            {"logs": [{"type": "failed-push", "platform": "ios", "token": "*****", "error": "Unregistered"}]},
            Rejected(RejectReason.UNREGISTERED, detail="Unregistered"),
        ),
        (
            200,
            {"logs": [{"type": "failed-push", "platform": "ios", "error": "BadDeviceToken"}]},
            Rejected(RejectReason.BAD_TOKEN, detail="BadDeviceToken"),
        ),
        (
            200,
            {"logs": [{"type": "failed-push", "platform": "android", "error": "UNREGISTERED"}]},
            Rejected(RejectReason.UNREGISTERED, detail="UNREGISTERED"),
        ),
        (
            200,
            {"logs": [{"type": "failed-push", "error": "max capacity reached"}]},
            Failed(retryable=False, detail="max capacity reached"),
        ),
        (
            400,
            {"code": 400, "message": "Notifications field is empty."},
            Rejected(RejectReason.BAD_REQUEST, detail="Notifications field is empty."),
        ),
        (500, {}, Failed(retryable=True, detail="gorush 500")),
        (429, {}, Failed(retryable=True, detail="gorush 429")),
    ],
)
def test_gorush_answer_is_classified(status: int, answer: dict[str, Any], expected: Outcome) -> None:
    """R3/R15: gorush's status and sync-mode logs (§2.1) as outcomes, one row per case."""
    assert classify(status, answer, None) == expected


async def test_unreachable_gorush_is_a_retryable_failure() -> None:
    """R3: a connection error is retryable (the Dispatcher retries, status-go would not answer)."""
    provider = GorushProvider(AppId("a"), GorushForwardSettings(url="http://127.0.0.1:9", timeout=2))
    outcome = await provider.send(
        Push(Target(AppId("a"), Platform.APNS, "t", TokenRef(b"")), Message(body="x"))
    )
    await provider.aclose()
    assert isinstance(outcome, Failed) and outcome.retryable
