"""Shared pieces of the APNs tests: a device token, pushes, settings aimed at a fake APNs, a clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pushrelay.config import ApnsSettings
from pushrelay.domain import AppId, Message, Platform, Push, Target, TokenRef
from pushrelay.testing.fake_apns import FakeApns

TOKEN = "5f0c" * 16
OTHER_TOKEN = "a1b2" * 16
TOPIC = "org.example.chat"
TEAM_ID = "TEAM123456"
KEY_ID = "KEY1234567"


def push_to(token: str = TOKEN, **message: Any) -> Push:
    """A push of `Message(**message)` (default: a title and a body) to `token`."""
    fields: dict[str, Any] = {"title": "Alice", "body": "New message"}
    fields.update(message)
    return Push(Target(AppId("chat"), Platform.APNS, token, TokenRef(b"ref")), Message(**fields))


def token_settings(fake: FakeApns, directory: Path, **overrides: Any) -> ApnsSettings:
    """Token-auth settings for `fake`: a fresh key registered with it, its CA trusted."""
    key_file = directory / f"AuthKey_{KEY_ID}.p8"
    if not key_file.exists():
        key_file.write_bytes(fake.new_signing_key(KEY_ID, TEAM_ID, topics=[TOPIC, TOPIC + ".voip"]))
    values: dict[str, Any] = {
        "topic": TOPIC,
        "team_id": TEAM_ID,
        "key_id": KEY_ID,
        "key_file": key_file,
        "endpoint": fake.url,
        "ca_file": fake.write_ca_file(directory / "fake-apns-ca.pem"),
        "timeout": 2.0,
    }
    values.update(overrides)
    return ApnsSettings(**values)


class ManualClock:
    """Unix time that moves only when told to."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
