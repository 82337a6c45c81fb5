"""The fakes' own capacity: the providers push as fast as they can to each standalone fake.

Shows that the fakes are not what limits the relay benchmark. The provider runs in this
process, the fake in its own, so each has a core as the relay benchmark's processes do.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pushrelay.config import ApnsSettings, AppSettings, FcmSettings
from pushrelay.domain import AppId, Delivered, Message, Platform, Provider, Push, Target, TokenRef
from pushrelay.providers import apns, fcm

PUSHES = 20_000
IN_FLIGHT = 400
APP = AppId("bench")


async def _push_all(provider: Provider, platform: Platform) -> dict[str, Any]:
    slots = asyncio.Semaphore(IN_FLIGHT)
    delivered = 0
    message = Message(body="You have a new message", data={"seq": "0"})

    async def one(n: int) -> None:
        nonlocal delivered
        token = f"{n:064x}" if platform is Platform.APNS else f"fcm-token-{n:016d}"
        async with slots:
            outcome = await provider.send(Push(Target(APP, platform, token, TokenRef(b"r")), message))
        delivered += isinstance(outcome, Delivered)

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(PUSHES)))
    seconds = time.monotonic() - started
    await provider.aclose()
    return {
        "pushes": PUSHES,
        "delivered": delivered,
        "seconds": round(seconds, 2),
        "per_second": round(PUSHES / seconds, 1),
    }


def capacity(
    apns_fake: dict[str, Any], apns_dir: Path, fcm_fake: dict[str, Any], fcm_dir: Path
) -> dict[str, Any]:
    apns_settings = ApnsSettings(
        topic=apns_fake["topics"][0],
        environment="sandbox",
        team_id=apns_fake["team_id"],
        key_id=apns_fake["key_id"],
        key_file=apns_dir / apns_fake["key_file"],
        endpoint=apns_fake["url"],
        ca_file=apns_dir / apns_fake["ca_file"],
    )
    fcm_settings = FcmSettings(
        service_account_file=fcm_dir / fcm_fake["service_account_file"],
        endpoint=fcm_fake["url"],
        ca_file=fcm_dir / fcm_fake["ca_file"],
    )
    return {
        "fake_apns": asyncio.run(_push_all(apns.build(APP, AppSettings(apns=apns_settings)), Platform.APNS)),
        "fake_fcm": asyncio.run(_push_all(fcm.build(APP, AppSettings(fcm=fcm_settings)), Platform.FCM)),
    }
