"""A spec-faithful fake APNs: the HTTP/2 provider API on 127.0.0.1, with faults on demand.

`POST /3/device/<token>` is validated like the real service and like Pushy's
`ValidatingPushNotificationHandler` (reference/status-gorush-sygnal.md §4.1, §5), in this
order: `apns-id` a UUID (BadMessageId), method POST (MethodNotAllowed), no repeated
`apns-*` header (DuplicateHeaders), `apns-topic` present with token auth (MissingTopic),
collapse id ≤ 64 bytes (BadCollapseId), priority 1/5/10 (BadPriority), push type known
(InvalidPushType), background pushes not at priority 10 (BadPriority), expiration an
integer (BadExpirationDate), path and token (404 BadPath, MissingDeviceToken,
BadDeviceToken), token not unregistered (410 Unregistered with a timestamp), token
registered for the topic (DeviceTokenNotForTopic), authentication (`fake_apns_auth`),
payload non-empty (PayloadEmpty) and ≤ 4096 bytes, 5120 for voip (413 PayloadTooLarge).

A connection allows one stream until its first authenticated request, then
`max_concurrent_streams` (1000, what APNs announces). Faults are injected per token or for
any token, after validation, a number of times or until cleared: an error answer (429,
500, 503, …), latency, a stall, a GOAWAY or a dropped connection. `deliveries` lists what
was accepted. Use it in-process (`async with FakeApns() as apns`) or standalone through
`main()`, which also serves the JSON control API of `fake_apns_control` on a plain-HTTP port.

Capacity, standalone on the 2-core machine: 6,000 to 6,400 token-authenticated pushes/s
from `h2load -n 60000 -c 4 -m 100` (which Huffman-codes and re-sends the JWT with every
request; start with `--initial-streams 1000`, as h2load opens streams before reading
SETTINGS); about 115 µs of CPU per push from pushrelay's own provider, which keeps up
with it at 8,000+ pushes/s.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hpack import NeverIndexedHeaderTuple

from pushrelay.domain import JSON
from pushrelay.testing import fake_apns_control
from pushrelay.testing.control_api import Route
from pushrelay.testing.fake_apns_auth import ProviderTokenVerifier, SigningKey, certificate_topics, topics_of
from pushrelay.testing.fake_apns_control import (
    APNS_MAX_CONCURRENT_STREAMS,
    DEFAULT_KEY_ID,
    DEFAULT_TEAM_ID,
)
from pushrelay.testing.fake_service import FakeService
from pushrelay.testing.h2server import Drop, GoAway, H2Server, Reply, Request, Response, Stall
from pushrelay.testing.tls import CertificateAuthority, IssuedCertificate

DEVICE_PATH = "/3/device/"
TOKEN_PATTERN = re.compile(r"[0-9a-fA-F]{64,200}")
PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
    }
)
PRIORITIES = frozenset({"1", "5", "10"})
MAX_PAYLOAD_BYTES = 4096
MAX_VOIP_PAYLOAD_BYTES = 5120
MAX_COLLAPSE_ID_BYTES = 64

FaultKind = Literal["error", "delay", "stall", "goaway", "drop"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted push, as the device would receive it."""

    token: str
    topic: str
    apns_id: str
    headers: Mapping[str, str]
    """The request's `apns-*` headers."""
    payload: JSON
    received_at: float

    def to_json(self) -> dict[str, JSON]:
        return {
            "token": self.token,
            "topic": self.topic,
            "apns_id": self.apns_id,
            "headers": dict(self.headers),
            "payload": self.payload,
            "received_at": self.received_at,
        }


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: int
    reason: str
    timestamp_ms: int | None = None


@dataclass(slots=True)
class Fault:
    """What to do instead of (or before) accepting a valid push to `token` (None: any token)."""

    kind: FaultKind
    token: str | None = None
    status: int = 0
    reason: str = ""
    timestamp_ms: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    remaining: int | None = None
    """How many more pushes it applies to; None: until cleared."""


class FakeApns(FakeService):
    """The fake APNs server; an async context manager serving on a free port. See the module docstring."""

    def __init__(
        self,
        *,
        authority: CertificateAuthority | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int | None = None,
        clock: Callable[[], float] = time.time,
        max_concurrent_streams: int = APNS_MAX_CONCURRENT_STREAMS,
        initial_max_concurrent_streams: int = 1,
        capacity: int = 100_000,
    ) -> None:
        self.authority = authority or CertificateAuthority("pushrelay fake APNs CA")
        self.max_concurrent_streams = max_concurrent_streams
        self.latency = 0.0
        """Seconds added to every answer."""
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=capacity)
        self.answers: collections.Counter[str] = collections.Counter()
        """How often each answer was given: "200", "410 Unregistered", "stall", …"""
        self.faults: list[Fault] = []
        self.peak_open_streams = 0
        """The most streams one connection had open at once, as requests completed."""
        self._clock = clock
        self._tokens = ProviderTokenVerifier(clock)
        self._unregistered: dict[str, int] = {}
        self._topic_of_token: dict[str, str] = {}
        self._server = H2Server(
            self._handle,
            self.authority.server_ssl_context(verify_clients=True),
            host=host,
            port=port,
            max_concurrent_streams=initial_max_concurrent_streams,
        )
        self._control_port = control_port

    def _control_routes(self) -> dict[tuple[str, str], Route]:
        return fake_apns_control.routes(self)

    # credentials

    def add_signing_key(
        self,
        key_id: str,
        public_key: ec.EllipticCurvePublicKey,
        team_id: str = DEFAULT_TEAM_ID,
        topics: Iterable[str] | None = None,
    ) -> None:
        """Register a provider key's public half; `topics` limits where it may push (None: anywhere)."""
        self._tokens.add_key(SigningKey(key_id, team_id, public_key, topics_of(topics)))

    def new_signing_key(
        self,
        key_id: str = DEFAULT_KEY_ID,
        team_id: str = DEFAULT_TEAM_ID,
        topics: Iterable[str] | None = None,
    ) -> bytes:
        """Make and register a key pair; return the private key as a .p8 file's PEM bytes."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        self.add_signing_key(key_id, private_key.public_key(), team_id, topics)
        return private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def issue_client_certificate(self, topic: str) -> IssuedCertificate:
        """An APNs push certificate for `topic` (certificate authentication)."""
        return self.authority.issue_client_certificate(f"Apple Push Services: {topic}", user_id=topic)

    # device tokens

    def unregister(self, token: str, since: float | None = None) -> None:
        """From now on answer 410 Unregistered, with `since` (unix seconds; default now) as timestamp."""
        self._unregistered[token.lower()] = int(1000 * (self._clock() if since is None else since))

    def register(self, token: str, topic: str) -> None:
        """Tie `token` to `topic`: pushes to it for another topic get DeviceTokenNotForTopic."""
        self._topic_of_token[token.lower()] = topic

    # faults

    def answer(
        self,
        token: str | None,
        status: int,
        reason: str,
        *,
        times: int | None = None,
        timestamp: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer pushes to `token` (None: any) with `status` and `reason` instead of accepting them."""
        timestamp_ms = None if timestamp is None else int(timestamp * 1000)
        self._inject(Fault("error", token, status, reason, timestamp_ms, retry_after, remaining=times))

    def delay(self, seconds: float, token: str | None = None, times: int | None = None) -> None:
        self._inject(Fault("delay", token, latency=seconds, remaining=times))

    def stall(self, token: str | None = None, times: int | None = None) -> None:
        """Never answer pushes to `token`; the stream stays open."""
        self._inject(Fault("stall", token, remaining=times))

    def go_away(self, token: str | None = None, times: int | None = 1) -> None:
        """Answer a push with GOAWAY (leaving it unprocessed) and close the connection."""
        self._inject(Fault("goaway", token, remaining=times))

    def drop(self, token: str | None = None, times: int | None = 1) -> None:
        """Cut the connection a push arrives on, without answering."""
        self._inject(Fault("drop", token, remaining=times))

    def clear(self) -> None:
        """Forget faults, deliveries, answer counts and unregistered tokens."""
        self.faults.clear()
        self.deliveries.clear()
        self.answers.clear()
        self.peak_open_streams = 0
        self._unregistered.clear()
        self._topic_of_token.clear()

    def _inject(self, fault: Fault) -> None:
        if fault.token is not None:
            fault.token = fault.token.lower()
        self.faults.append(fault)

    def deliveries_to(self, token: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.token == token.lower()]

    # the provider API

    def _handle(self, request: Request) -> Reply:
        self.peak_open_streams = max(self.peak_open_streams, request.open_streams)
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4())
        outcome = self._validate(request)
        if isinstance(outcome, _Refusal):
            return self._reject(apns_id, outcome.status, outcome.reason, outcome.timestamp_ms)
        token, topic = outcome
        fault = self._fault_for(token)
        latency = self.latency + (fault.latency if fault else 0.0)
        if fault is None or fault.kind == "delay":
            self._deliver(request, apns_id, token, topic)
            self.answers["200"] += 1
            return Response(200, [NeverIndexedHeaderTuple(b"apns-id", apns_id.encode())], delay=latency)
        if fault.kind == "error":
            extra = [("retry-after", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
            return self._reject(apns_id, fault.status, fault.reason, fault.timestamp_ms, extra, latency)
        self.answers[fault.kind] += 1
        if fault.kind == "stall":
            return Stall()
        if fault.kind == "drop":
            return Drop()
        return GoAway(debug_data=b'{"reason":"Shutdown"}')

    def _validate(self, request: Request) -> tuple[str, str] | _Refusal:
        """The (token, topic) of a valid push, else why it is refused."""
        headers = request.headers
        refusal = _check_headers(request)
        if refusal is not None:
            return refusal
        path = request.path
        if not path.startswith(DEVICE_PATH):
            return _Refusal(404, "BadPath")
        token = path[len(DEVICE_PATH) :].lower()
        if not token:
            return _Refusal(400, "MissingDeviceToken")
        if not TOKEN_PATTERN.fullmatch(token):
            return _Refusal(400, "BadDeviceToken")
        if token in self._unregistered:
            return _Refusal(410, "Unregistered", self._unregistered[token])
        certificate = request.connection.peer_certificate
        topic = headers.get("apns-topic")
        if topic is None and certificate is not None:
            topic = min(certificate_topics(certificate), key=len, default="")
        if topic is None:
            return _Refusal(400, "MissingTopic")
        if self._topic_of_token.get(token, topic) != topic:
            return _Refusal(400, "DeviceTokenNotForTopic")
        if certificate is None:
            rejection = self._tokens.check(headers.get("authorization"), topic, request.connection.state)
            if rejection is not None:
                return _Refusal(*rejection)
        elif topic not in certificate_topics(certificate):
            return _Refusal(400, "BadTopic")
        request.connection.set_max_concurrent_streams(self.max_concurrent_streams)
        limit = MAX_VOIP_PAYLOAD_BYTES if headers.get("apns-push-type") == "voip" else MAX_PAYLOAD_BYTES
        if not request.body:
            return _Refusal(400, "PayloadEmpty")
        if len(request.body) > limit:
            return _Refusal(413, "PayloadTooLarge")
        return token, topic

    def _fault_for(self, token: str) -> Fault | None:
        for fault in self.faults:
            if fault.token is None or fault.token == token:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def _deliver(self, request: Request, apns_id: str, token: str, topic: str) -> None:
        try:
            payload: JSON = json.loads(request.body)
        except ValueError:
            payload = request.body.decode(errors="replace")
        headers = {name: value for name, value in request.headers.items() if name.startswith("apns-")}
        self.deliveries.append(Delivery(token, topic, apns_id, headers, payload, self._clock()))

    def _reject(
        self,
        apns_id: str,
        status: int,
        reason: str,
        timestamp_ms: int | None,
        extra: list[tuple[str, str]] | None = None,
        latency: float | None = None,
    ) -> Response:
        self.answers[f"{status} {reason}"] += 1
        body: dict[str, JSON] = {"reason": reason}
        if timestamp_ms is not None:
            body["timestamp"] = timestamp_ms
        headers: list[tuple[str, str] | tuple[bytes, bytes]] = [
            NeverIndexedHeaderTuple(b"apns-id", apns_id.encode()),
            ("content-type", "application/json"),
            *(extra or []),
        ]
        return Response(
            status,
            headers,
            json.dumps(body, separators=(",", ":")).encode(),
            self.latency if latency is None else latency,
        )


def _check_headers(request: Request) -> _Refusal | None:
    headers = request.headers
    apns_id = headers.get("apns-id")
    if apns_id is not None and not _is_uuid(apns_id):
        return _Refusal(400, "BadMessageId")
    if request.method != "POST":
        return _Refusal(405, "MethodNotAllowed")
    apns_names = [name for name, _ in request.raw_headers if name.startswith("apns-")]
    if len(apns_names) != len(set(apns_names)):
        return _Refusal(400, "DuplicateHeaders")
    if "apns-topic" not in headers and request.connection.peer_certificate is None:
        return _Refusal(400, "MissingTopic")
    collapse_id = headers.get("apns-collapse-id")
    if collapse_id is not None and len(collapse_id.encode()) > MAX_COLLAPSE_ID_BYTES:
        return _Refusal(400, "BadCollapseId")
    priority = headers.get("apns-priority")
    if priority is not None and priority not in PRIORITIES:
        return _Refusal(400, "BadPriority")
    push_type = headers.get("apns-push-type")
    if push_type is not None and push_type not in PUSH_TYPES:
        return _Refusal(400, "InvalidPushType")
    if push_type == "background" and priority in (None, "10"):
        return _Refusal(400, "BadPriority")  # Apple: priority 10 is an error for background pushes
    expiration = headers.get("apns-expiration")
    if expiration is not None and not expiration.isdigit():
        return _Refusal(400, "BadExpirationDate")
    return None


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the fake APNs standalone until SIGINT or SIGTERM (`pushrelay fake-apns`)."""
    args = fake_apns_control.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeApns(
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        max_concurrent_streams=args.max_streams,
        initial_max_concurrent_streams=args.initial_streams,
    )
    fake.latency = args.latency
    async with fake:
        print(json.dumps(fake_apns_control.configure(fake, args)), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
