"""Shared pieces of the FCM tests: device tokens, pushes, settings aimed at a fake FCM, a clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pushrelay.config import FcmSettings
from pushrelay.domain import AppId, Message, Platform, Push, Target, TokenRef
from pushrelay.providers.fcm import FcmProvider
from pushrelay.testing.fake_fcm import FakeFcm

TOKEN = "dGVzdC1kZXZpY2U:APA91bH" + "x7Yq" * 35
"""Shaped like a real registration token: an instance id, a colon, an opaque base64url tail."""
OTHER_TOKEN = "b3RoZXItZGV2aWNl:APA91bG" + "k2Wp" * 35


def push_to(token: str = TOKEN, **message: Any) -> Push:
    """A push of `Message(**message)` (default: a title and a body) to `token`."""
    fields: dict[str, Any] = {"title": "Alice", "body": "New message"}
    fields.update(message)
    return Push(Target(AppId("chat"), Platform.FCM, token, TokenRef(b"ref")), Message(**fields))


def fcm_settings(fake: FakeFcm, directory: Path, **overrides: Any) -> FcmSettings:
    """Settings for `fake`: its service-account file (token_uri at the fake), its CA trusted."""
    values: dict[str, Any] = {
        "service_account_file": fake.write_service_account(directory / "service-account.json"),
        "endpoint": fake.url,
        "ca_file": fake.write_ca_file(directory / "fake-fcm-ca.pem"),
        "timeout": 2.0,
    }
    values.update(overrides)
    return FcmSettings(**values)


def fcm_provider(
    fake: FakeFcm, directory: Path, clock: ManualClock | None = None, **overrides: Any
) -> FcmProvider:
    """A provider for `fake`; with `clock`, token expiry runs on it instead of the monotonic clock."""
    settings = fcm_settings(fake, directory, **overrides)
    if clock is None:
        return FcmProvider(settings, token_retry_delay=0.2)
    return FcmProvider(settings, clock=clock, token_retry_delay=0.2)


class ManualClock:
    """Seconds that move only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
