"""A spec-faithful fake FCM: the HTTP v1 API and Google's OAuth token endpoint on 127.0.0.1.

One HTTP/2-over-TLS server (reference/status-gorush-sygnal.md §4.2, §5) serves

* `POST /token`: the OAuth 2.0 JWT-bearer grant of `fake_fcm_oauth`, which the service
  account files the fake writes point at (`token_uri`);
* `POST /v1/projects/{project}/messages:send`, checked in this order: the bearer access
  token (401 UNAUTHENTICATED: missing, unknown or expired), the project (403
  PERMISSION_DENIED), the body (`fake_fcm_schema`: 400 INVALID_ARGUMENT), injected faults,
  unregistered tokens (404 UNREGISTERED); then it answers `{"name":
  "projects/{project}/messages/{id}"}` and records the delivery. `validate_only` messages
  are checked and answered but not delivered.

Faults are injected per device token or for any push, a number of times or until
cleared: an FCM error by its `errorCode` (with `Retry-After` if asked), latency, a stall,
a GOAWAY or a dropped connection; the token endpoint can fail or stall, and issue
short-lived access tokens. `deliveries` lists what was accepted. Use it in-process
(`async with FakeFcm() as fcm`) or standalone through `main()`, which also serves the
JSON control API of `fake_fcm_control` on a plain-HTTP port.

Each connection announces 100 concurrent streams (`FCM_MAX_CONCURRENT_STREAMS`).
Capacity on the project's 2-core machine, one process: about 7,000 sends/s from h2load
(`-c 4 -m 100`), 7,900/s from our provider; the checks add ~20 µs per request to the
`h2server` underneath (tests/providers/test_fcm_throughput.py has the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pushrelay.domain import JSON
from pushrelay.testing import fake_fcm_control
from pushrelay.testing.control_api import Route
from pushrelay.testing.fake_fcm_control import DEFAULT_PROJECT, FCM_MAX_CONCURRENT_STREAMS
from pushrelay.testing.fake_fcm_oauth import (
    TOKEN_PATH,
    OAuthServer,
    ServiceAccount,
    TokenEndpointFault,
    new_service_account,
)
from pushrelay.testing.fake_fcm_schema import ERROR_CODES, FcmRefusal, SendRequest, parse_send_request
from pushrelay.testing.fake_service import FakeService
from pushrelay.testing.h2server import Drop, GoAway, H2Server, Reply, Request, Response, Stall
from pushrelay.testing.tls import CertificateAuthority

SEND_PREFIX = "/v1/projects/"
SEND_SUFFIX = "/messages:send"
_JSON_HEADERS: tuple[tuple[str, str], ...] = (("content-type", "application/json; charset=UTF-8"),)

FaultKind = Literal["error", "delay", "stall", "goaway", "drop"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted message, as FCM would hand it on."""

    project: str
    message_id: str
    message: dict[str, Any]
    """The `message` object as received."""
    received_at: float

    @property
    def token(self) -> str | None:
        token = self.message.get("token")
        return token if isinstance(token, str) else None

    @property
    def data(self) -> dict[str, str]:
        data: dict[str, str] = self.message.get("data") or {}
        return data

    def to_json(self) -> dict[str, JSON]:
        return {
            "project": self.project,
            "message_id": self.message_id,
            "message": self.message,
            "received_at": self.received_at,
        }


@dataclass(slots=True)
class Fault:
    """What to do instead of (or before) accepting a valid push to `token` (None: any push)."""

    kind: FaultKind
    token: str | None = None
    error_code: str = ""
    message: str | None = None
    retry_after: float | None = None
    latency: float = 0.0
    remaining: int | None = None
    """How many more pushes it applies to; None: until cleared."""


class FakeFcm(FakeService):
    """The fake FCM server; an async context manager serving on a free port. See the module docstring."""

    def __init__(
        self,
        *,
        authority: CertificateAuthority | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int | None = None,
        clock: Callable[[], float] = time.time,
        project_id: str = DEFAULT_PROJECT,
        max_concurrent_streams: int = FCM_MAX_CONCURRENT_STREAMS,
        capacity: int = 100_000,
    ) -> None:
        self.authority = authority or CertificateAuthority("pushrelay fake FCM CA")
        self.project_id = project_id
        self.latency = 0.0
        """Seconds added to every answer of `messages:send`."""
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=capacity)
        self.answers: collections.Counter[str] = collections.Counter()
        """How often each answer was given: "200", "404 UNREGISTERED", "401 UNAUTHENTICATED", "stall", …"""
        self.faults: list[Fault] = []
        self.oauth = OAuthServer(clock)
        self._clock = clock
        self._unregistered: set[str] = set()
        self._message_ids = itertools.count(1_700_000_000_000_001)
        self._accounts: list[ServiceAccount] = []
        self._server = H2Server(
            self._handle,
            self.authority.server_ssl_context(),
            host=host,
            port=port,
            max_concurrent_streams=max_concurrent_streams,
        )
        self._control_port = control_port

    def _control_routes(self) -> dict[tuple[str, str], Route]:
        return fake_fcm_control.routes(self)

    @property
    def token_uri(self) -> str:
        return self._server.url + TOKEN_PATH

    # credentials

    @property
    def service_account(self) -> ServiceAccount:
        """The default service account of the project, trusted by the token endpoint."""
        if not self._accounts:
            self._accounts.append(self.new_service_account())
        return self._accounts[0]

    def new_service_account(self, name: str = "pushrelay-fake", trusted: bool = True) -> ServiceAccount:
        """Another service account with its own key; `trusted=False`: the token endpoint does not know it."""
        fresh_key = bool(self._accounts) or not trusted  # the first one uses the process's cached key
        account = new_service_account(self.project_id, self.token_uri, name, fresh_key)
        if trusted:
            self.oauth.add_account(account)
        return account

    def write_service_account(self, path: Path, account: ServiceAccount | None = None) -> Path:
        """Write a service-account JSON file whose `token_uri` points at this fake."""
        return (account or self.service_account).write(path)

    def expire_access_tokens(self) -> int:
        """Every access token issued so far is expired from now on (FCM answers 401)."""
        return self.oauth.expire_access_tokens()

    def fail_token_requests(
        self,
        status: int = 503,
        error: str = "temporarily_unavailable",
        description: str = "",
        times: int | None = 1,
    ) -> None:
        """Answer token requests with `status` and an OAuth error; status 0 stalls them instead."""
        self.oauth.faults.append(TokenEndpointFault(status, error, description, remaining=times))

    # device tokens

    def unregister(self, token: str) -> None:
        """From now on answer pushes to `token` with 404 UNREGISTERED."""
        self._unregistered.add(token)

    # faults

    def answer(
        self,
        token: str | None,
        error_code: str,
        *,
        times: int | None = None,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Answer pushes to `token` (None: any) with the FCM error `error_code` instead of accepting them."""
        if error_code not in ERROR_CODES:
            raise ValueError(f"error_code: expected one of {', '.join(ERROR_CODES)}")
        self.faults.append(Fault("error", token, error_code, message, retry_after, remaining=times))

    def delay(self, seconds: float, token: str | None = None, times: int | None = None) -> None:
        self.faults.append(Fault("delay", token, latency=seconds, remaining=times))

    def stall(self, token: str | None = None, times: int | None = None) -> None:
        """Never answer pushes to `token`; the stream stays open."""
        self.faults.append(Fault("stall", token, remaining=times))

    def go_away(self, token: str | None = None, times: int | None = 1) -> None:
        """Answer a push with GOAWAY (leaving it unprocessed) and close the connection."""
        self.faults.append(Fault("goaway", token, remaining=times))

    def drop(self, token: str | None = None, times: int | None = 1) -> None:
        """Cut the connection a push arrives on, without answering."""
        self.faults.append(Fault("drop", token, remaining=times))

    def clear(self) -> None:
        """Forget faults (also the token endpoint's), deliveries, answer counts and unregistered tokens."""
        self.faults.clear()
        self.oauth.faults.clear()
        self.deliveries.clear()
        self.answers.clear()
        self._unregistered.clear()

    def deliveries_to(self, token: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.token == token]

    # the server

    def _handle(self, request: Request) -> Reply:
        path = request.path
        if path == TOKEN_PATH:
            return self._token_endpoint(request)
        if not (path.startswith(SEND_PREFIX) and path.endswith(SEND_SUFFIX)) or request.method != "POST":
            return self._refuse(FcmRefusal(404, "NOT_FOUND", f"Method not found: {request.method} {path}"))
        refusal = self.oauth.check_bearer(request.headers.get("authorization"))
        if refusal is not None:
            return self._refuse(refusal)
        project = path[len(SEND_PREFIX) : -len(SEND_SUFFIX)]
        if project != self.project_id:
            return self._refuse(_permission_denied(project))
        parsed = parse_send_request(request.body)
        if isinstance(parsed, FcmRefusal):
            return self._refuse(parsed)
        return self._answer(parsed, project)

    def _answer(self, parsed: SendRequest, project: str) -> Reply:
        token = parsed.token
        fault = self._fault_for(token)
        latency = self.latency + (fault.latency if fault else 0.0)
        if fault is not None and fault.kind != "delay":
            return self._act(fault, latency)
        if token is not None and token in self._unregistered:
            return self._refuse(FcmRefusal.of("UNREGISTERED"), latency)
        message_id = f"{next(self._message_ids)}"
        if not parsed.validate_only:
            self.deliveries.append(Delivery(project, message_id, parsed.message, self._clock()))
        self.answers["200"] += 1
        body = b'{"name":"projects/%s/messages/%s"}' % (project.encode(), message_id.encode())
        return Response(200, _JSON_HEADERS, body, latency)

    def _act(self, fault: Fault, latency: float) -> Reply:
        if fault.kind == "error":
            refusal = FcmRefusal.of(fault.error_code, fault.message, fault.retry_after)
            return self._refuse(refusal, latency)
        self.answers[fault.kind] += 1
        if fault.kind == "stall":
            return Stall()
        if fault.kind == "drop":
            return Drop()
        return GoAway()

    def _fault_for(self, token: str | None) -> Fault | None:
        for fault in self.faults:
            if fault.token is None or fault.token == token:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def _refuse(self, refusal: FcmRefusal, latency: float | None = None) -> Response:
        self.answers[refusal.label] += 1
        headers = _JSON_HEADERS
        if refusal.retry_after is not None:
            headers = (*headers, ("retry-after", f"{refusal.retry_after:g}"))
        return Response(refusal.status, headers, refusal.body(), self.latency if latency is None else latency)

    def _token_endpoint(self, request: Request) -> Reply:
        if request.method != "POST":
            return Response(405, _JSON_HEADERS, b'{"error":"invalid_request"}')
        fault = self.oauth.fault()
        if fault is not None:
            self.oauth.requests += 1
            self.answers[f"token {fault.status or 'stall'}"] += 1
            if fault.status == 0:
                return Stall()
            body = {"error": fault.error, "error_description": fault.description}
            return Response(fault.status, _JSON_HEADERS, json.dumps(body).encode())
        status, answer = self.oauth.grant(request.body, self.token_uri)
        self.answers[f"token {status}"] += 1
        return Response(status, _JSON_HEADERS, json.dumps(answer).encode())


def _permission_denied(project: str) -> FcmRefusal:
    return FcmRefusal(
        403,
        "PERMISSION_DENIED",
        f"Permission 'cloudmessaging.messages.create' denied on resource "
        f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist).",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the fake FCM standalone until SIGINT or SIGTERM (`pushrelay fake-fcm`)."""
    args = fake_fcm_control.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeFcm(
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        project_id=args.project,
        max_concurrent_streams=args.max_streams,
    )
    fake.latency = args.latency
    fake.oauth.access_token_lifetime = args.token_lifetime
    async with fake:
        print(json.dumps(fake_fcm_control.configure(fake, args)), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
