"""What the Prosody and ejabberd harnesses share: free ports, waiting for a port, the process."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

USERS = [f"user{i}" for i in range(40)]
PASSWORD = "pw"
COMPONENT_JID = "push.localhost"
COMPONENT_SECRET = "s3cret"
DOMAIN = "localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}: {log.read_text(errors='replace')[-2000:]}")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/install-system-deps.sh installs it)")
    return path


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class XmppServer:
    """A running server: where clients and the component connect, and who may log in."""

    name = "server"
    c2s_port: int
    component_port: int
    push_max_errors: int | None
    users: list[str]
    log_file: Path

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")
