"""The load generator: drives `POST /api/push` at a fixed rate from its own process.

Open loop: requests start on schedule whether or not earlier ones have finished, so a slow
relay shows up as latency and errors instead of silently lowering the offered load. Each
notification carries its send time (`data.sent_ns`) so the fakes' receipt times give the
latency from request to provider. Prints one JSON summary line on stdout.

    python -m bench.loadgen --url http://127.0.0.1:8080 --rate 3000 --seconds 10 --platform 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Tally:
    requests: int = 0
    accepted: int = 0
    failed_tokens: int = 0
    http_errors: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0
    in_flight_cap_hits: int = 0
    failed_by_error: dict[str, int] = field(default_factory=dict)

    def count_error(self, key: str) -> None:
        self.http_errors[key] = self.http_errors.get(key, 0) + 1


def token_for(platform: int, n: int, dead_every: int) -> str:
    dead = dead_every > 0 and n % dead_every == 0
    if platform == 1:
        return (f"dead{n % 97:060x}" if dead else f"{n:064x}")[:64]
    return f"dead-fcm-token-{n % 97:08d}" if dead else f"fcm-token-{n:016d}"


def notifications(
    start: int, batch: int, platform: int, dead_every: int, topic: str
) -> list[dict[str, object]]:
    now = str(time.time_ns())
    return [
        {
            "tokens": [token_for(platform, n, dead_every)],
            "platform": platform,
            "message": "You have a new message",
            "topic": topic,
            "data": {"sent_ns": now, "seq": str(n)},
        }
        for n in range(start, start + batch)
    ]


async def run(args: argparse.Namespace) -> Tally:
    tally = Tally()
    # aiohttp rather than httpx: httpx's pool spends CPU per queued request, so under load the
    # generator, not the relay, became the bottleneck (73 % of a core at 200 requests/s).
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    period = args.batch / args.rate
    in_flight: set[asyncio.Task[None]] = set()
    url = args.url.rstrip("/") + "/api/push"
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def post(start: int) -> None:
            batch = notifications(start, args.batch, args.platform, args.dead_every, args.topic)
            body = {"notifications": batch}
            try:
                async with http.post(url, json=body) as response:
                    status = response.status
                    answer = await response.json() if status == 200 else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.count_error(type(exc).__name__)
                return
            tally.requests += 1
            if answer is None:
                tally.count_error(str(status))
                return
            tally.accepted += answer["counts"] - len(answer["logs"])
            tally.failed_tokens += len(answer["logs"])
            for entry in answer["logs"]:
                tally.failed_by_error[entry["error"]] = tally.failed_by_error.get(entry["error"], 0) + 1

        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < args.seconds:
            due = started + (sent // args.batch) * period
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > period:
                tally.late_starts += 1
            if len(in_flight) >= args.max_in_flight:
                tally.in_flight_cap_hits += 1
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(post(args.offset + sent))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            sent += args.batch
        if in_flight:
            await asyncio.wait(in_flight)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="notifications per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--platform", type=int, choices=[1, 2], required=True)
    parser.add_argument("--batch", type=int, default=10, help="notifications per request")
    parser.add_argument("--dead-every", type=int, default=0, help="every Nth token is a dead one")
    parser.add_argument("--offset", type=int, default=0, help="first sequence number")
    parser.add_argument("--topic", default="org.pushrelay.demo")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-in-flight", type=int, default=2000)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    tally = asyncio.run(run(args))
    print(json.dumps({**tally.__dict__, "wall_seconds": time.monotonic() - started}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
