"""The fake APNs run standalone: its command line and its JSON control API.

Control endpoints (plain HTTP on `--control-port`, JSON bodies, every field optional
unless named):

    GET    /_fake/health                  {"ok": true, "url": ...}
    GET    /_fake/deliveries?token=T      {"deliveries": [{token, topic, apns_id, headers, payload, ...}]}
    DELETE /_fake/deliveries              forget them
    GET    /_fake/stats                   {"answers": {"200": n, "410 Unregistered": n}, "connections": n}
    POST   /_fake/answer     {token, status*, reason*, times, timestamp, retry_after}
    POST   /_fake/delay      {seconds*, token, times}
    POST   /_fake/stall      {token, times}
    POST   /_fake/goaway     {token, times} or {"now": true}
    POST   /_fake/drop       {token, times} or {"now": true}
    POST   /_fake/unregister {token*, since}     410 Unregistered from now on
    POST   /_fake/register   {token*, topic*}    DeviceTokenNotForTopic for other topics
    POST   /_fake/latency    {seconds*}          added to every answer
    POST   /_fake/keys       {key_id*, public_key* (PEM), team_id, topics}
    POST   /_fake/reset                          forget faults, deliveries, counts, tokens
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushrelay.testing.control_api import Route, number_field, prepared, text_field

if TYPE_CHECKING:
    from pushrelay.testing.fake_apns import FakeApns

DEFAULT_DIRECTORY = Path("var/fake-apns")
DEFAULT_TEAM_ID = "TEAM000001"
DEFAULT_KEY_ID = "KEY0000001"
DEFAULT_TOPIC = "org.pushrelay.demo"
APNS_MAX_CONCURRENT_STREAMS = 1000
"""What APNs announced in 2021 (Pushy #878), once a connection has authenticated."""


def routes(fake: FakeApns) -> dict[tuple[str, str], Route]:
    def health(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return {"ok": True, "url": fake.url}

    def deliveries(query: Mapping[str, str], body: dict[str, Any]) -> object:
        found = fake.deliveries_to(query["token"]) if "token" in query else list(fake.deliveries)
        return {"deliveries": [delivery.to_json() for delivery in found]}

    def forget_deliveries(query: Mapping[str, str], body: dict[str, Any]) -> object:
        count = len(fake.deliveries)
        fake.deliveries.clear()
        return {"cleared": count}

    def stats(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return {
            "answers": dict(fake.answers),
            "deliveries": len(fake.deliveries),
            "connections": len(fake.server.connections),
            "protocol_errors": fake.server.protocol_errors,
            "faults": len(fake.faults),
        }

    def answer(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.answer(
            text_field(body, "token"),
            number_field(body, "status", int, required=True),
            text_field(body, "reason", required=True),
            times=number_field(body, "times", int),
            timestamp=number_field(body, "timestamp", float),
            retry_after=number_field(body, "retry_after", float),
        )
        return {"faults": len(fake.faults)}

    def delay(query: Mapping[str, str], body: dict[str, Any]) -> object:
        seconds = number_field(body, "seconds", float, required=True)
        fake.delay(seconds, text_field(body, "token"), number_field(body, "times", int))
        return {"faults": len(fake.faults)}

    def stall(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.stall(text_field(body, "token"), number_field(body, "times", int))
        return {"faults": len(fake.faults)}

    def goaway(query: Mapping[str, str], body: dict[str, Any]) -> object:
        if body.get("now"):
            fake.server.go_away()
        else:
            fake.go_away(text_field(body, "token"), number_field(body, "times", int) or 1)
        return {"faults": len(fake.faults)}

    def drop(query: Mapping[str, str], body: dict[str, Any]) -> object:
        if body.get("now"):
            fake.server.drop_connections()
        else:
            fake.drop(text_field(body, "token"), number_field(body, "times", int) or 1)
        return {"faults": len(fake.faults)}

    def unregister(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.unregister(text_field(body, "token", required=True), number_field(body, "since", float))
        return {"ok": True}

    def register(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.register(text_field(body, "token", required=True), text_field(body, "topic", required=True))
        return {"ok": True}

    def latency(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.latency = number_field(body, "seconds", float, required=True)
        return {"latency": fake.latency}

    def keys(query: Mapping[str, str], body: dict[str, Any]) -> object:
        public_key = load_public_key(text_field(body, "public_key", required=True).encode())
        topics = body.get("topics")
        if topics is not None and not (isinstance(topics, list) and all(isinstance(t, str) for t in topics)):
            raise ValueError("topics: expected a list of strings")
        team_id = text_field(body, "team_id") or DEFAULT_TEAM_ID
        fake.add_signing_key(text_field(body, "key_id", required=True), public_key, team_id, topics)
        return {"ok": True}

    def reset(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.clear()
        return {"ok": True}

    return {
        ("GET", "/_fake/health"): health,
        ("GET", "/_fake/deliveries"): deliveries,
        ("DELETE", "/_fake/deliveries"): forget_deliveries,
        ("GET", "/_fake/stats"): stats,
        ("POST", "/_fake/answer"): answer,
        ("POST", "/_fake/delay"): delay,
        ("POST", "/_fake/stall"): stall,
        ("POST", "/_fake/goaway"): goaway,
        ("POST", "/_fake/drop"): drop,
        ("POST", "/_fake/unregister"): unregister,
        ("POST", "/_fake/register"): register,
        ("POST", "/_fake/latency"): latency,
        ("POST", "/_fake/keys"): keys,
        ("POST", "/_fake/reset"): reset,
    }


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a public-key PEM or from a .p8 private key."""
    try:
        key: object = serialization.load_pem_public_key(pem)
    except ValueError:
        key = serialization.load_pem_private_key(pem, password=None).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("public_key: expected a P-256 (ES256) key")
    return key


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pushrelay fake-apns", description="Run a fake APNs for demos and tests."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2197, help="HTTP/2 over TLS (0: a free port)")
    parser.add_argument("--control-port", type=int, default=2198, help="plain-HTTP JSON control API")
    parser.add_argument(
        "--ca-file", type=Path, default=DEFAULT_DIRECTORY / "ca.pem", help="where to write the CA"
    )
    parser.add_argument("--team-id", default=DEFAULT_TEAM_ID)
    parser.add_argument("--key-id", default=DEFAULT_KEY_ID)
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--public-key", type=Path, help="the provider key to accept (public PEM or .p8)")
    keys.add_argument("--write-key", type=Path, help="generate a key pair and write the .p8 here")
    parser.add_argument(
        "--topic", action="append", help=f"a topic the key may push to (default {DEFAULT_TOPIC})"
    )
    parser.add_argument(
        "--client-cert", type=Path, help="also write a push certificate (PEM) for the first topic"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--max-streams", type=int, default=APNS_MAX_CONCURRENT_STREAMS, help="once authenticated"
    )
    parser.add_argument(
        "--initial-streams", type=int, default=1, help="before the first authenticated request (APNs: 1)"
    )
    return parser.parse_args(argv)


def configure(fake: FakeApns, args: argparse.Namespace) -> dict[str, Any]:
    """Write the CA file and the keys the command line asks for; describe the result."""
    topics: list[str] = args.topic or [DEFAULT_TOPIC]
    prepared(args.ca_file)
    fake.write_ca_file(args.ca_file)
    summary: dict[str, Any] = {
        "url": fake.url,
        "control_url": fake.control_url,
        "ca_file": str(args.ca_file),
        "team_id": args.team_id,
        "key_id": args.key_id,
        "topics": topics,
    }
    if args.public_key is not None:
        fake.add_signing_key(args.key_id, load_public_key(args.public_key.read_bytes()), args.team_id, topics)
    else:
        key_file = args.write_key or DEFAULT_DIRECTORY / f"AuthKey_{args.key_id}.p8"
        prepared(key_file).write_bytes(fake.new_signing_key(args.key_id, args.team_id, topics))
        summary["key_file"] = str(key_file)
    if args.client_cert is not None:
        fake.issue_client_certificate(topics[0]).write_pem(prepared(args.client_cert))
        summary["cert_file"] = str(args.client_cert)
    return summary
