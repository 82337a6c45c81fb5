"""The benchmark: fakes, one relay process and a separate load generator, all on loopback.

    python -m bench                    # every scenario
    python -m bench apns fcm           # some of them
    python -m bench --list

Each scenario writes `bench/results/<scenario>.json`; the run ends with a markdown table,
also written to `bench/results/summary.md`. Figures depend on the machine: the report
records its core count, and comparisons should be made as ratios on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import fakes, processes
from bench.loadgen import token_for
from pushrelay.config import LogSettings
from pushrelay.logs import configure_logging

RESULTS = Path(__file__).parent / "results"
TOPIC = "org.pushrelay.demo"

RELAY_CONFIG = """\
[server]
listen = "127.0.0.1:@PORT@"
[log]
level = "warning"
[store]
url = "sqlite+aiosqlite:///{workdir}/relay.db"
[secrets]
key_file = "{workdir}/server.key"
[dispatch]
deadline = {deadline}
[apps.bench.apns]
topic = "{topic}"
environment = "sandbox"
team_id = "{team_id}"
key_id = "{key_id}"
key_file = "{key_file}"
endpoint = "{apns_url}"
ca_file = "{apns_ca}"
[apps.bench.fcm]
service_account_file = "{service_account}"
endpoint = "{fcm_url}"
ca_file = "{fcm_ca}"
"""


class Control:
    """A fake's JSON control API."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(self.url + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def deliveries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(self.url + "/_fake/deliveries", timeout=120).json()[
            "deliveries"
        ]
        return found

    def reset(self) -> None:
        self.post("/_fake/reset", {})


@dataclass
class Bench:
    workdir: Path
    relay_url: str
    relay_pid: int
    apns: Control
    fcm: Control
    seconds: float
    apns_info: dict[str, Any]
    fcm_info: dict[str, Any]


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def sent_ns(value: Any) -> int | None:
    """The `sent_ns` the load generator put in a payload, wherever the provider format keeps it."""
    if isinstance(value, dict):
        if "sent_ns" in value:
            return int(value["sent_ns"])
        for child in value.values():
            found = sent_ns(child)
            if found is not None:
                return found
    if isinstance(value, str) and value.startswith("{") and "sent_ns" in value:
        return sent_ns(json.loads(value))
    return None


def token_of(delivery: dict[str, Any]) -> str:
    """APNs deliveries name their token; FCM ones carry it inside the message."""
    return str(delivery.get("token") or (delivery.get("message") or {}).get("token", ""))


def latencies_ms(deliveries: list[dict[str, Any]]) -> list[float]:
    out = []
    for delivery in deliveries:
        sent = sent_ns(delivery.get("payload") or delivery.get("message") or delivery)
        if sent is not None:
            out.append((float(delivery["received_at"]) - sent / 1e9) * 1000)
    return sorted(out)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return round(sorted_values[index], 2)


def loadgen_args(bench: Bench, *, rate: float, platform_id: int, seconds: float, **extra: Any) -> list[str]:
    args = [
        "--url",
        bench.relay_url,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--platform",
        str(platform_id),
    ]
    args += ["--topic", TOPIC]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def drive(bench: Bench, *loads: list[str], sampler: processes.MemorySampler) -> list[dict[str, Any]]:
    generators = [processes.loadgen(*args) for args in loads]
    return [processes.result_of(g, timeout=bench.seconds * 4 + 120) for g in generators]


def measure(
    bench: Bench,
    name: str,
    tallies: list[dict[str, Any]],
    sampler: processes.MemorySampler,
    fakes_read: list[Control] | None = None,
) -> dict[str, Any]:
    deliveries = [d for control in (fakes_read or [bench.apns, bench.fcm]) for d in control.deliveries()]
    lat = latencies_ms(deliveries)
    accepted = sum(t["accepted"] for t in tallies)
    live_deliveries = [d for d in deliveries if not token_of(d).startswith("dead")]
    first_sent = min((sent_ns(d.get("payload") or d) or 0) for d in deliveries) / 1e9 if deliveries else 0.0
    last_received = max((float(d["received_at"]) for d in deliveries), default=0.0)
    window = max(last_received - first_sent, 1e-9)
    return {
        "scenario": name,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "accepted": accepted,
        "delivered": len(live_deliveries),
        "delivered_per_second": round(len(live_deliveries) / window, 1) if deliveries else 0.0,
        "latency_ms": {
            "p50": percentile(lat, 0.50),
            "p99": percentile(lat, 0.99),
            "p99.9": percentile(lat, 0.999),
            "mean": round(statistics.fmean(lat), 2) if lat else None,
        },
        "lost": max(0, accepted - len(live_deliveries)),
        "failed_tokens": sum(t["failed_tokens"] for t in tallies),
        "failed_by_error": _merge(t["failed_by_error"] for t in tallies),
        "http_errors": _merge(t["http_errors"] for t in tallies),
        "relay_peak_rss_mb": round(sampler.peak_mb, 1),
        "loadgen": tallies,
    }


def _merge(counts: Any) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def scenario_apns(bench: Bench, rate: float) -> dict[str, Any]:
    sampler = processes.MemorySampler(bench.relay_pid)
    tallies = drive(
        bench, loadgen_args(bench, rate=rate, platform_id=1, seconds=bench.seconds), sampler=sampler
    )
    return measure(bench, "apns", tallies, sampler)


def scenario_fcm(bench: Bench, rate: float) -> dict[str, Any]:
    sampler = processes.MemorySampler(bench.relay_pid)
    tallies = drive(
        bench, loadgen_args(bench, rate=rate, platform_id=2, seconds=bench.seconds), sampler=sampler
    )
    return measure(bench, "fcm", tallies, sampler)


def scenario_mixed(bench: Bench, rate: float) -> dict[str, Any]:
    sampler = processes.MemorySampler(bench.relay_pid)
    half = rate / 2
    tallies = drive(
        bench,
        loadgen_args(bench, rate=half, platform_id=1, seconds=bench.seconds),
        loadgen_args(bench, rate=half, platform_id=2, seconds=bench.seconds, offset=10_000_000),
        sampler=sampler,
    )
    return measure(bench, "mixed", tallies, sampler)


def scenario_latency(bench: Bench, rate: float) -> dict[str, Any]:
    """The p99 target is stated at 1,000 notifications/s."""
    sampler = processes.MemorySampler(bench.relay_pid)
    tallies = drive(
        bench,
        loadgen_args(bench, rate=500, platform_id=1, seconds=bench.seconds, batch=5),
        loadgen_args(bench, rate=500, platform_id=2, seconds=bench.seconds, batch=5, offset=10_000_000),
        sampler=sampler,
    )
    return measure(bench, "latency-1000", tallies, sampler)


def scenario_dead_tokens(bench: Bench, rate: float) -> dict[str, Any]:
    """1 % of tokens are dead: the first push to each is rejected, later ones short-circuit."""
    for n in range(97):
        bench.apns.post("/_fake/unregister", {"token": token_for(1, n * 100, 100)})
        bench.fcm.post("/_fake/unregister", {"token": token_for(2, n * 100, 100)})
    sampler = processes.MemorySampler(bench.relay_pid)
    half = rate / 2
    tallies = drive(
        bench,
        loadgen_args(bench, rate=half, platform_id=1, seconds=bench.seconds, dead_every=100),
        loadgen_args(
            bench, rate=half, platform_id=2, seconds=bench.seconds, dead_every=100, offset=10_000_000
        ),
        sampler=sampler,
    )
    return measure(bench, "dead-tokens", tallies, sampler)


def scenario_apns_stalled(bench: Bench, rate: float) -> dict[str, Any]:
    """APNs stops answering with 10,000 pushes queued; FCM keeps flowing at 1,000/s and must not slow down."""
    bench.apns.post("/_fake/stall", {})
    sampler = processes.MemorySampler(bench.relay_pid)
    rss_idle = sampler.rss_mb
    stalled = processes.loadgen(
        *loadgen_args(
            bench, rate=5000, platform_id=1, seconds=2, batch=100, max_in_flight=200, request_timeout=120
        )
    )
    time.sleep(3)
    rss_with_queue = sampler.rss_mb
    flowing = processes.loadgen(
        *loadgen_args(bench, rate=1000, platform_id=2, seconds=bench.seconds, batch=5, offset=10_000_000)
    )
    fcm_tally = processes.result_of(flowing, timeout=bench.seconds * 4 + 120)
    peak = sampler.peak_mb
    bench.apns.post("/_fake/reset", {})
    apns_tally = processes.result_of(stalled, timeout=180)
    fcm_lat = latencies_ms(bench.fcm.deliveries())
    result = measure(bench, "apns-stalled", [fcm_tally], sampler, fakes_read=[bench.fcm])
    result.update(
        fcm_latency_ms={
            "p50": percentile(fcm_lat, 0.5),
            "p99": percentile(fcm_lat, 0.99),
            "p99.9": percentile(fcm_lat, 0.999),
        },
        queued_apns=10_000,
        relay_rss_mb_idle=round(rss_idle, 1),
        relay_rss_mb_with_apns_queue=round(rss_with_queue, 1),
        relay_peak_rss_mb=round(peak, 1),
        stalled_apns_outcome=apns_tally,
    )
    return result


def scenario_fakes(bench: Bench, rate: float) -> dict[str, Any]:
    """The fakes' own capacity, driven by the providers without the relay (see bench/fakes.py)."""
    workdir = bench.workdir
    result = fakes.capacity(bench.apns_info, workdir / "apns", bench.fcm_info, workdir / "fcm")
    return {"scenario": "fakes", "machine": machine(), **result}


SCENARIOS: dict[str, Callable[[Bench, float], dict[str, Any]]] = {
    "apns": scenario_apns,
    "fcm": scenario_fcm,
    "mixed": scenario_mixed,
    "latency-1000": scenario_latency,
    "dead-tokens": scenario_dead_tokens,
    "apns-stalled": scenario_apns_stalled,
    "fakes": scenario_fakes,
}


def run_scenario(name: str, rate: float, seconds: float, root: Path) -> dict[str, Any]:
    workdir = root / name
    apns_dir, fcm_dir = workdir / "apns", workdir / "fcm"
    with (
        processes.fake("fake-apns", apns_dir, "--topic", TOPIC) as apns,
        processes.fake("fake-fcm", fcm_dir) as fcm,
    ):
        config = RELAY_CONFIG.format(
            workdir=workdir,
            deadline=30,
            topic=TOPIC,
            team_id=apns["team_id"],
            key_id=apns["key_id"],
            key_file=apns_dir / apns["key_file"],
            apns_url=apns["url"],
            apns_ca=apns_dir / apns["ca_file"],
            service_account=fcm_dir / fcm["service_account_file"],
            fcm_url=fcm["url"],
            fcm_ca=fcm_dir / fcm["ca_file"],
        )
        with processes.relay(workdir / "relay", config) as (url, pid):
            controls = Control(apns["control_url"]), Control(fcm["control_url"])
            bench = Bench(workdir, url, pid, *controls, seconds, apns, fcm)
            return SCENARIOS[name](bench, rate)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}",
        "",
        "| scenario | accepted | delivered/s | p50 ms | p99 ms | p99.9 ms | lost | failed | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r["scenario"] == "fakes":
            continue
        lat = r.get("fcm_latency_ms", r["latency_ms"])
        cells = [r["scenario"], r["accepted"], r["delivered_per_second"], lat["p50"], lat["p99"]]
        cells += [lat["p99.9"], r["lost"], r["failed_tokens"], r["relay_peak_rss_mb"]]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    stalled = next((r for r in results if r["scenario"] == "apns-stalled"), None)
    if stalled is not None:
        lines += [
            "",
            f"apns-stalled: relay RSS {stalled['relay_rss_mb_with_apns_queue']} MB while APNs holds "
            f"{stalled['queued_apns']} queued pushes (idle {stalled['relay_rss_mb_idle']} MB); the latencies "
            "in its row are the FCM flow's, which must not move.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--rate", type=float, default=3000, help="offered notifications per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--report", action="store_true", help="rebuild summary.md from the saved results")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    configure_logging(LogSettings(level="warning"))
    names = args.scenarios or list(SCENARIOS)
    if args.report:
        saved = [
            json.loads((RESULTS / f"{n}.json").read_text()) for n in names if (RESULTS / f"{n}.json").exists()
        ]
        return _write_summary(saved)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    RESULTS.mkdir(exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="pushrelay-bench-") as root:
        for name in names:
            print(f"running {name} …", file=sys.stderr, flush=True)
            result = run_scenario(name, args.rate, args.seconds, Path(root))
            (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
            results.append(result)
    return _write_summary(results)


def _write_summary(results: list[dict[str, Any]]) -> int:
    summary = table(results)
    capacity = next((r for r in results if r["scenario"] == "fakes"), None)
    if capacity is not None:
        summary += (
            f"\nFakes' own capacity (provider → standalone fake, {fakes.PUSHES} pushes, "
            f"{fakes.IN_FLIGHT} in flight): APNs {capacity['fake_apns']['per_second']}/s, "
            f"FCM {capacity['fake_fcm']['per_second']}/s\n"
        )
    (RESULTS / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
