"""Benchmark: Status registrations/s and notification requests/s through the HTTP binding.

    python -m bench.status [--registrations 3000] [--requests 20000] [--connections 32]

Starts the relay (SQLite store, sandbox provider, Status service and router, uvicorn) in its
own process on a free loopback port, pre-builds every envelope with the test client
(`tests/status/client.py`: real ECDH, AES-GCM, grants, signatures, one key per registering
user and one ephemeral key per request, as status-go does), then drives the server closed-loop
over keep-alive HTTP/1.1 connections. Registrations first, then notification requests (one
item each, to a registered user, delivered to the sandbox). Every reply is checked afterwards
(signature, success flag, per-item report). Prints the figures and writes bench/results/status.json.
Targets (issue 6): ≥ 500 registrations/s and ≥ 2,000 notification requests/s per process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "status.json"
TARGETS = {"registrations_per_second": 500, "notification_requests_per_second": 2000}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="(internal) run the relay process")
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--registrations", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args.port, args.workdir)
    return run(args)


# --- the relay process


def serve(port: int, workdir: Path) -> int:
    """The relay as `pushrelay serve` runs it: app.py's app (which mounts the Status service and
    its HTTP binding) under pushrelay.server's uvicorn configuration."""
    from pushrelay import server
    from pushrelay.logs import configure_logging

    settings = _relay_settings(port, workdir)
    configure_logging(settings.log)
    return server.serve(settings)


def _relay_settings(port: int, workdir: Path) -> Any:
    from pushrelay.config import Settings

    return Settings.model_validate(
        {
            "server": {"listen": f"127.0.0.1:{port}"},
            "store": {"url": f"sqlite+aiosqlite:///{workdir}/pushrelay.db"},
            "secrets": {"key_file": str(workdir / "server.key")},
            "log": {"level": "warning"},
            "apps": {"default": {"sandbox": {"enabled": True, "capacity": 1000}}},
        }
    )


async def _core_in_process(workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    """The protocol core alone (same store, relay and sandbox; no HTTP), 32 concurrent callers:
    what the Status logic costs apart from the web stack, with the relay process stopped."""
    from tests.status.client import Notification, StatusClient

    from pushrelay.app import Runtime
    from pushrelay.protocols.status.service import StatusService
    from pushrelay.store.status import StatusStore

    settings = _relay_settings(_free_port(), workdir)
    runtime = Runtime(settings)
    service = StatusService(runtime.relay, StatusStore(runtime.database), settings.status)
    runtime.services.append(service)
    await runtime.start()
    try:
        key = service.server.identity.public_key
        users = [StatusClient() for _ in range(min(args.registrations, 2000))]
        registrations = [u.register(key) for u in users]
        rng = random.Random(7)
        requests = [
            StatusClient().notify(os.urandom(32), Notification(rng.choice(users).public_key))
            for _ in range(min(args.requests, 10_000))
        ]
        figures = {}
        for name, envelopes in (
            ("registrations_per_second", registrations),
            ("requests_per_second", requests),
        ):
            work = iter(envelopes)

            async def caller(work: Iterator[bytes] = work) -> None:
                for envelope in work:
                    await service.handle(envelope)

            started = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(32)))
            figures[name] = round(len(envelopes) / (time.perf_counter() - started), 1)
        return figures
    finally:
        await runtime.stop()


# --- the load generator (this process)


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    from pushrelay.config import LogSettings
    from pushrelay.logs import configure_logging

    configure_logging(LogSettings(level="warning"))
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.status", "serve", "--port", str(port), "--workdir", tmp], cwd=ROOT
        )
        try:
            reg, reg_ok, notify, notify_ok = asyncio.run(_over_http(port, server, args))
        finally:
            server.terminate()
            server.wait(timeout=30)
        core_dir = Path(tmp) / "core"
        core_dir.mkdir()
        core = asyncio.run(_core_in_process(core_dir, args))

    result = {
        "scenario": "status over HTTP: registrations, then notification requests (1 item each, sandbox)",
        "command": " ".join(["python -m bench.status", *sys.argv[1:]]),
        "connections": args.connections,
        "registrations": reg.summary(reg_ok),
        "notification_requests": notify.summary(notify_ok),
        "core_in_process": core,
        "targets": TARGETS,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return 1 if reg_ok != reg.count or notify_ok != notify.count else 0


async def _over_http(
    port: int, server: subprocess.Popen[bytes], args: argparse.Namespace
) -> tuple[Run, int, Run, int]:
    from tests.status.client import Notification, StatusClient

    server_key = await _wait_for_identity(port, server)
    print(f"relay pid {server.pid} on 127.0.0.1:{port}, identity 0x{server_key.hex()}")
    started = time.perf_counter()
    users = [StatusClient() for _ in range(args.registrations)]
    registrations = [u.register(server_key, device_token=f"{i:064x}") for i, u in enumerate(users)]
    print(f"built {len(registrations)} registrations in {time.perf_counter() - started:.1f}s")
    reg = await _drive(port, registrations, args.connections)
    reg_ok = sum(_registration_ok(body, server_key) for body in reg.bodies)

    started = time.perf_counter()
    rng = random.Random(7)
    requests = [
        StatusClient().notify(os.urandom(32), Notification(rng.choice(users).public_key))
        for _ in range(args.requests)
    ]
    print(f"built {len(requests)} notification requests in {time.perf_counter() - started:.1f}s")
    notify = await _drive(port, requests, args.connections)
    notify_ok = sum(_report_ok(body, server_key) for body in notify.bodies)
    return reg, reg_ok, notify, notify_ok


class Run:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.seconds = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def summary(self, ok: int) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "count": len(self.latencies),
            "ok": ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 3),
            "per_second": round(len(self.latencies) / self.seconds, 1),
            "latency_ms": {
                "p50": round(1000 * statistics.median(ordered), 2),
                "p99": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
                "max": round(1000 * ordered[-1], 2),
            },
        }


async def _drive(port: int, envelopes: list[bytes], connections: int) -> Run:
    """Closed loop: `connections` keep-alive HTTP/1.1 connections, each posting the next envelope."""
    run = Run()
    run.bodies = [b""] * len(envelopes)
    work = iter(enumerate(envelopes))
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, work, run) for _ in range(connections)))
    run.seconds = time.perf_counter() - started
    return run


async def _connection(port: int, work: Iterator[tuple[int, bytes]], run: Run) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, envelope in work:
            head = (
                "POST /status/v1/messages HTTP/1.1\r\nHost: bench\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {len(envelope)}\r\n\r\n"
            ).encode()
            sent = time.perf_counter()
            writer.write(head + envelope)
            status, body = await _read_response(reader)
            run.latencies.append(time.perf_counter() - sent)
            run.statuses[status] = run.statuses.get(status, 0) + 1
            run.bodies[index] = body
    finally:
        writer.close()
        await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _registration_ok(body: bytes, server_key: bytes) -> bool:
    from tests.status import wire
    from tests.status.client import parse_reply

    if not body:
        return False
    reply = parse_reply(body)
    return reply.signer == server_key and wire.first_int(reply.fields, 1) == 1


def _report_ok(body: bytes, server_key: bytes) -> bool:
    from tests.status import wire
    from tests.status.client import parse_reply

    if not body:
        return False
    reply = parse_reply(body)
    reports = [wire.decode(raw) for raw in wire.all_bytes(reply.fields, 2)]
    return reply.signer == server_key and len(reports) == 1 and wire.first_int(reports[0], 1) == 1


async def _wait_for_identity(port: int, server: subprocess.Popen[bytes]) -> bytes:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the relay process exited")
            try:
                response = await http.get("/status/v1/identity")
                if response.status_code == 200:
                    return bytes.fromhex(response.json()["public_key"][2:])
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the relay did not start within 30 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _print(result: dict[str, Any]) -> None:
    for name, target_key in (
        ("registrations", "registrations_per_second"),
        ("notification_requests", "notification_requests_per_second"),
    ):
        r = result[name]
        target = result["targets"][target_key]
        verdict = "meets" if r["per_second"] >= target else "BELOW"
        print(
            f"{name}: {r['per_second']}/s ({r['count']} in {r['seconds']}s, ok {r['ok']}), "
            f"p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms — {verdict} target {target}/s"
        )
    core = result["core_in_process"]
    print(
        f"protocol core in-process (no HTTP): {core['registrations_per_second']} registrations/s, "
        f"{core['requests_per_second']} notification requests/s"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    raise SystemExit(main())
