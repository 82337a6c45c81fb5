"""The `pushrelay` command, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pushrelay.app import Runtime
from pushrelay.config import load_settings
from pushrelay.domain import AppId, Message, Platform
from pushrelay.secrets import load_key_file

PUSHRELAY = [sys.executable, "-m", "pushrelay.cli"]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PUSHRELAY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_help_lists_every_command(tmp_path: Path) -> None:
    out = run(tmp_path, "--help").stdout
    commands = ("serve", "init", "check-config", "migrate", "rotate-key", "send", "fake-apns", "fake-fcm")
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()]
    assert listed == list(commands), "one line per command"


def test_init_writes_a_config_and_a_private_key(tmp_path: Path) -> None:
    result = run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pushrelay.toml").read_text().startswith("# pushrelay configuration")
    assert (tmp_path / "var/server.key").stat().st_mode & 0o777 == 0o600
    assert run(tmp_path, "init").returncode == 1, "never overwrites without --force"


def test_check_config_accepts_what_init_wrote(tmp_path: Path) -> None:
    run(tmp_path, "init")
    result = run(tmp_path, "check-config")
    assert result.returncode == 0 and "configuration ok: 1 app(s): default" in result.stdout


def test_check_config_names_the_bad_key_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pushrelay.toml").write_text(
        '[apps.chat.apns]\ntopic = "t"\nteam_id = "T"\nkey_id = "K"\nkey_file = "AuthKey.p8"\n'
    )
    result = run(tmp_path, "check-config")
    assert result.returncode == 2
    assert "config error: apps.chat.apns.key_file: no such file" in result.stderr


def test_environment_errors_exit_2_too(tmp_path: Path) -> None:
    result = run(tmp_path, "check-config", env={"PUSHRELAY_SERVER__LISTEN": "nowhere"})
    assert result.returncode == 2 and "server.listen" in result.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var/pushrelay.db").exists()


def test_serve_answers_healthz_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PUSHRELAY_SERVER__LISTEN": f"127.0.0.1:{port}", "PUSHRELAY_LOG__FORMAT": "json"}
    process = subprocess.Popen(
        [*PUSHRELAY, "serve"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 30 s"
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    events = [
        json.loads(line)["event"] for line in (process.stderr.read() if process.stderr else "").splitlines()
    ]
    assert "relay.started" in events and "relay.stopped" in events


def test_serve_reports_an_unreachable_store_and_fails(tmp_path: Path) -> None:
    port = free_port()
    result = run(
        tmp_path,
        "serve",
        env={
            "PUSHRELAY_SERVER__LISTEN": f"127.0.0.1:{free_port()}",
            "PUSHRELAY_STORE__URL": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none",
            "PUSHRELAY_STORE__CONNECT_TIMEOUT": "1",
        },
    )
    assert result.returncode == 3
    assert "store.unreachable" in result.stderr and "giving_up=True" in result.stderr


async def test_rotate_key_reseals_everything_and_keeps_it_readable(tmp_path: Path) -> None:
    run(tmp_path, "init")
    os.chdir(tmp_path)
    settings = load_settings(tmp_path / "pushrelay.toml", {})
    runtime = Runtime(settings)
    await runtime.start()
    device = await runtime.relay.register_device(AppId("default"), Platform.APNS, "e" * 64)
    await runtime.stop()
    old_ids = load_key_file(tmp_path / "var/server.key").key_ids

    result = run(tmp_path, "rotate-key")
    assert result.returncode == 0, result.stderr
    assert "re-sealed 1 value(s)" in result.stdout
    new_ids = load_key_file(tmp_path / "var/server.key").key_ids
    assert len(new_ids) == 1 and new_ids != old_ids

    runtime = Runtime(load_settings(tmp_path / "pushrelay.toml", {}))
    await runtime.start()
    try:
        await runtime.relay.push_to_device(device, Message(body="x"))
        assert runtime.relay.sandbox(AppId("default")).deliveries[0].token == "e" * 64
    finally:
        await runtime.stop()


@pytest.fixture(autouse=True)
def _restore_cwd() -> Iterator[None]:
    cwd = os.getcwd()
    yield
    os.chdir(cwd)
