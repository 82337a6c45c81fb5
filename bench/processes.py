"""Starting and stopping the benchmark's processes: the fakes, the relay, the load generator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def fake(kind: str, workdir: Path, *extra: str) -> Iterator[dict[str, Any]]:
    """Run `pushrelay fake-apns|fake-fcm`; yield the JSON it prints (urls, files)."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        PYTHON,
        "-m",
        "pushrelay.cli",
        kind,
        "--port",
        str(free_port()),
        "--control-port",
        str(free_port()),
        *extra,
    ]
    process = subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{kind} did not start")
        yield json.loads(line)
    finally:
        stop(process)


@contextmanager
def relay(workdir: Path, config: str) -> Iterator[tuple[str, int]]:
    """Run `pushrelay serve` on a free port with `config`; yield (base url, pid) once /readyz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "pushrelay.toml").write_text(config.replace("@PORT@", str(port)))
    log = (workdir / "relay.log").open("w")
    env = {**os.environ, "PUSHRELAY_CONFIG": str(workdir / "pushrelay.toml")}
    process = subprocess.Popen([PYTHON, "-m", "pushrelay.cli", "serve"], cwd=workdir, env=env, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/readyz", process)
        yield url, process.pid
    finally:
        stop(process)
        log.close()


def wait_ready(url: str, process: subprocess.Popen[Any], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {within} s")


def loadgen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([PYTHON, "-m", "bench.loadgen", *args], stdout=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"load generator failed ({process.returncode})")
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MemorySampler:
    """Samples a process's resident set size; `peak_mb` is the kernel's high-water mark."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _field(self, name: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    @property
    def rss_mb(self) -> float:
        return self._field("VmRSS")

    @property
    def peak_mb(self) -> float:
        return self._field("VmHWM")
