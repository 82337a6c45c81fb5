"""The fake FCM run standalone: its command line and its JSON control API.

Control endpoints (plain HTTP on `--control-port`, JSON bodies, every field optional
unless starred), shaped like the fake APNs' (`fake_apns_control`):

    GET    /_fake/health                  {"ok": true, "url", "token_uri", "project_id"}
    GET    /_fake/deliveries?token=T      {"deliveries": [{project, message_id, message, received_at}]}
    DELETE /_fake/deliveries              forget them
    GET    /_fake/stats                   {"answers": {"200": n, "404 UNREGISTERED": n}, "token_requests", …}
    GET    /_fake/service-account         the service-account JSON file's content
    POST   /_fake/answer     {token, error_code*, times, retry_after, message}
    POST   /_fake/delay      {seconds*, token, times}
    POST   /_fake/stall      {token, times}
    POST   /_fake/goaway     {token, times} or {"now": true}
    POST   /_fake/drop       {token, times} or {"now": true}
    POST   /_fake/unregister {token*}            404 UNREGISTERED from now on
    POST   /_fake/latency    {seconds*}          added to every answer
    POST   /_fake/oauth/fail {status, error, description, times}   token requests fail (status 0: stall)
    POST   /_fake/oauth/lifetime {seconds*}      `expires_in` of access tokens issued from now on
    POST   /_fake/oauth/expire                   every access token issued so far expires now
    POST   /_fake/oauth/token                    issue an access token directly (curl, h2load)
    POST   /_fake/reset                          forget faults, deliveries, counts, tokens
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pushrelay.testing.control_api import Route, number_field, prepared, text_field
from pushrelay.testing.fake_fcm_oauth import DEFAULT_TOKEN_LIFETIME

if TYPE_CHECKING:
    from pushrelay.testing.fake_fcm import FakeFcm

DEFAULT_DIRECTORY = Path("var/fake-fcm")
DEFAULT_PORT = 2297
DEFAULT_CONTROL_PORT = 2298
DEFAULT_PROJECT = "pushrelay-fake"
FCM_MAX_CONCURRENT_STREAMS = 100
"""What Google's front ends announce [inference: widely observed, not in the reference]."""


def routes(fake: FakeFcm) -> dict[tuple[str, str], Route]:
    def health(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return {"ok": True, "url": fake.url, "token_uri": fake.token_uri, "project_id": fake.project_id}

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
            "token_requests": fake.oauth.requests,
            "access_tokens_issued": fake.oauth.issued_count,
        }

    def service_account(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return fake.service_account.to_json()

    def answer(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.answer(
            text_field(body, "token"),
            text_field(body, "error_code", required=True),
            times=number_field(body, "times", int),
            retry_after=number_field(body, "retry_after", float),
            message=text_field(body, "message"),
        )
        return {"faults": len(fake.faults)}

    def delay(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.delay(
            number_field(body, "seconds", float, required=True),
            text_field(body, "token"),
            number_field(body, "times", int),
        )
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
        fake.unregister(text_field(body, "token", required=True))
        return {"ok": True}

    def latency(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.latency = number_field(body, "seconds", float, required=True)
        return {"latency": fake.latency}

    def oauth_fail(query: Mapping[str, str], body: dict[str, Any]) -> object:
        status = number_field(body, "status", int)
        fake.fail_token_requests(
            503 if status is None else status,
            text_field(body, "error") or "temporarily_unavailable",
            text_field(body, "description") or "",
            times=number_field(body, "times", int),
        )
        return {"faults": len(fake.oauth.faults)}

    def oauth_lifetime(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.oauth.access_token_lifetime = number_field(body, "seconds", int, required=True)
        return {"seconds": fake.oauth.access_token_lifetime}

    def oauth_expire(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return {"expired": fake.expire_access_tokens()}

    def oauth_token(query: Mapping[str, str], body: dict[str, Any]) -> object:
        return fake.oauth.issue()

    def reset(query: Mapping[str, str], body: dict[str, Any]) -> object:
        fake.clear()
        return {"ok": True}

    return {
        ("GET", "/_fake/health"): health,
        ("GET", "/_fake/deliveries"): deliveries,
        ("DELETE", "/_fake/deliveries"): forget_deliveries,
        ("GET", "/_fake/stats"): stats,
        ("GET", "/_fake/service-account"): service_account,
        ("POST", "/_fake/answer"): answer,
        ("POST", "/_fake/delay"): delay,
        ("POST", "/_fake/stall"): stall,
        ("POST", "/_fake/goaway"): goaway,
        ("POST", "/_fake/drop"): drop,
        ("POST", "/_fake/unregister"): unregister,
        ("POST", "/_fake/latency"): latency,
        ("POST", "/_fake/oauth/fail"): oauth_fail,
        ("POST", "/_fake/oauth/lifetime"): oauth_lifetime,
        ("POST", "/_fake/oauth/expire"): oauth_expire,
        ("POST", "/_fake/oauth/token"): oauth_token,
        ("POST", "/_fake/reset"): reset,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pushrelay fake-fcm", description="Run a fake FCM for demos and tests."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP/2 over TLS (0: a free port)")
    parser.add_argument(
        "--control-port", type=int, default=DEFAULT_CONTROL_PORT, help="plain-HTTP JSON control API"
    )
    parser.add_argument(
        "--ca-file", type=Path, default=DEFAULT_DIRECTORY / "ca.pem", help="where to write the CA"
    )
    parser.add_argument(
        "--service-account",
        type=Path,
        default=DEFAULT_DIRECTORY / "service-account.json",
        help="where to write the service-account file (its token_uri points at this fake)",
    )
    parser.add_argument("--project", default=DEFAULT_PROJECT, help="the Firebase project id")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--token-lifetime", type=int, default=DEFAULT_TOKEN_LIFETIME, help="expires_in of access tokens"
    )
    parser.add_argument("--max-streams", type=int, default=FCM_MAX_CONCURRENT_STREAMS)
    return parser.parse_args(argv)


def configure(fake: FakeFcm, args: argparse.Namespace) -> dict[str, Any]:
    """Write the CA file and the service-account file; describe the result."""
    fake.write_ca_file(prepared(args.ca_file))
    fake.write_service_account(prepared(args.service_account))
    return {
        "url": fake.url,
        "control_url": fake.control_url,
        "token_uri": fake.token_uri,
        "project_id": fake.project_id,
        "ca_file": str(args.ca_file),
        "service_account_file": str(args.service_account),
    }
