"""R12: what the Status adapter logs never holds a device token, an access token or a key."""

from __future__ import annotations

from structlog.testing import capture_logs

from pushrelay.domain import Rejected, RejectReason
from pushrelay.protocols.status import crypto
from pushrelay.protocols.status.server import StatusServer
from tests.status.client import ACCESS_TOKEN, Notification, StatusClient
from tests.status.memory import RecordingPusher


async def test_logs_hold_no_token_or_key(server: StatusServer, pusher: RecordingPusher) -> None:
    """DESIGN principle 1 / R12: registrations, rejections and dead tokens are logged without secrets."""
    alice = StatusClient()
    with capture_logs() as logs:
        await server.handle(alice.register(server.identity.public_key, device_token="SECRET-DEVICE-TOKEN"))
        await server.handle(alice.register(server.identity.public_key, device_token="SECRET-DEVICE-TOKEN"))
        pusher.outcome = Rejected(RejectReason.UNREGISTERED)
        await server.handle(StatusClient().notify(b"m" * 32, Notification(alice.public_key)))
    text = repr(logs)
    assert logs  # the version mismatch and the dead token were logged
    for secret in (
        "SECRET-DEVICE-TOKEN",
        ACCESS_TOKEN,
        crypto.hash_public_key(alice.public_key).hex(),
        alice.public_key.hex(),
    ):
        assert secret not in text
