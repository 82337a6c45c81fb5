"""How many pushes per second the APNs provider sends to the fake APNs running in its own process.

The brief (issue 3) asks for at least 5,000 requests/s on this project's 2-core machine.
This test prints the figure and asserts only a floor far below it, because the machine
is shared and CI must not fail on a busy neighbour. Measured at the time of writing:
about 100 µs of provider CPU per push (10,000 pushes per CPU-second); 8,000 to 8,300
pushes/s wall-clock when the machine was otherwise idle, 4,200 to 5,800 while other
benchmarks shared the two cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushrelay.config import ApnsSettings
from pushrelay.domain import Delivered
from pushrelay.providers.apns import ApnsProvider
from pushrelay.providers.apns_token import ProviderTokens
from tests.providers.apns_support import KEY_ID, TEAM_ID, TOPIC, push_to

PUSHES = 20_000
CONCURRENCY = 500
FLOOR = 1_000


@pytest.fixture
def standalone_fake(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`pushrelay fake-apns` in its own process, so it has its own core."""
    code = "import sys; from pushrelay.testing.fake_apns import main; sys.exit(main(sys.argv[1:]))"
    args = ["--port", "0", "--control-port", "0", "--ca-file", str(tmp_path / "ca.pem")]
    args += [
        "--write-key",
        str(tmp_path / "key.p8"),
        "--team-id",
        TEAM_ID,
        "--key-id",
        KEY_ID,
        "--topic",
        TOPIC,
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
async def test_provider_pushes_thousands_per_second(standalone_fake: dict[str, str]) -> None:
    """Issue 3: the provider alone pushes ≥ 5,000 requests/s to the fake (asserted: a floor)."""
    settings = ApnsSettings(
        topic=TOPIC,
        team_id=TEAM_ID,
        key_id=KEY_ID,
        key_file=Path(standalone_fake["key_file"]),
        endpoint=standalone_fake["url"],
        ca_file=Path(standalone_fake["ca_file"]),
    )
    provider = ApnsProvider(settings, tokens=ProviderTokens())
    pushes = iter([push_to(os.urandom(32).hex(), data={"chatId": "0x1234"}) for _ in range(PUSHES)])
    outcomes: Counter[str] = Counter()

    async def worker() -> None:
        for push in pushes:
            outcome = await provider.send(push)
            outcomes["delivered" if isinstance(outcome, Delivered) else repr(outcome)] += 1

    try:
        await provider.send(push_to())
        started, cpu = time.perf_counter(), time.process_time()
        async with asyncio.timeout(60):
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await provider.aclose()
    rate = PUSHES / elapsed
    print(
        f"\nAPNs provider: {rate:,.0f} pushes/s, {cpu / PUSHES * 1e6:.0f} µs CPU per push ({PUSHES:,} pushes)"
    )
    assert outcomes == {"delivered": PUSHES}
    assert rate >= FLOOR
