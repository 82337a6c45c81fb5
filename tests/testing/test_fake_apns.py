"""The fake APNs answers like the real service: validation order, auth, limits, faults, control API.

Rules: reference/status-gorush-sygnal.md §4.1 (Apple's provider API) and §5 (Pushy's
ValidatingPushNotificationHandler and TokenAuthenticationValidatingPushNotificationHandler).
The client is httpx, so the fake is checked against an HTTP/2 stack that is not ours.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import jwt
import pytest

from pushrelay.providers.h2connection import H2ClientConnection
from pushrelay.testing.fake_apns import FakeApns

TOKEN = "ab12" * 16
TOPIC = "org.example.chat"
TEAM_ID = "TEAM123456"
KEY_ID = "KEY1234567"
PAYLOAD = b'{"aps":{"alert":"hi"}}'


class Apns:
    """A fake APNs with one registered key, and an httpx HTTP/2 client for it."""

    def __init__(self, fake: FakeApns, client: httpx.AsyncClient, key_pem: bytes) -> None:
        self.fake = fake
        self.client = client
        self.key_pem = key_pem

    def bearer(self, issued_at: float | None = None, key_pem: bytes | None = None, **claims: object) -> str:
        issued = int(time.time() if issued_at is None else issued_at)
        token = jwt.encode(
            {"iss": TEAM_ID, "iat": issued, **claims},
            key_pem or self.key_pem,
            "ES256",
            headers={"kid": KEY_ID},
        )
        return f"bearer {token}"

    def headers(self, **overrides: str | None) -> dict[str, str]:
        headers: dict[str, str | None] = {
            "authorization": self.bearer(),
            "apns-topic": TOPIC,
            "apns-push-type": "alert",
            "apns-id": str(uuid.uuid4()),
        }
        headers.update(overrides)
        return {name: value for name, value in headers.items() if value is not None}

    async def push(
        self, token: str = TOKEN, body: bytes = PAYLOAD, method: str = "POST", **headers: str | None
    ) -> tuple[int, str]:
        response = await self.client.request(
            method, f"{self.fake.url}/3/device/{token}", content=body, headers=self.headers(**headers)
        )
        return response.status_code, response.json()["reason"] if response.content else ""


@pytest.fixture
async def apns() -> AsyncIterator[Apns]:
    async with FakeApns(control_port=0) as fake:
        key_pem = fake.new_signing_key(KEY_ID, TEAM_ID, topics=[TOPIC, TOPIC + ".voip"])
        async with httpx.AsyncClient(http2=True, verify=fake.authority.client_ssl_context()) as client:
            yield Apns(fake, client, key_pem)


async def test_valid_push_is_accepted_and_recorded(apns: Apns) -> None:
    """§4.1: 200 with the request's apns-id; the delivery keeps token, topic, headers and payload."""
    apns_id = str(uuid.uuid4())
    response = await apns.client.post(
        f"{apns.fake.url}/3/device/{TOKEN}", content=PAYLOAD, headers=apns.headers(**{"apns-id": apns_id})
    )
    assert (response.status_code, response.headers["apns-id"], response.content) == (200, apns_id, b"")
    [delivery] = apns.fake.deliveries
    assert (delivery.token, delivery.topic, delivery.apns_id, delivery.payload) == (
        TOKEN,
        TOPIC,
        apns_id,
        {"aps": {"alert": "hi"}},
    )
    assert "authorization" not in delivery.headers


async def test_missing_apns_id_is_generated(apns: Apns) -> None:
    """§4.1: APNs generates an apns-id when the request has none and returns it."""
    response = await apns.client.post(
        f"{apns.fake.url}/3/device/{TOKEN}", content=PAYLOAD, headers=apns.headers(**{"apns-id": None})
    )
    assert uuid.UUID(response.headers["apns-id"])


Change = Callable[[Apns], dict[str, object]]

INVALID_REQUESTS: list[tuple[str, Change, int, str]] = [
    ("apns-id not a UUID", lambda a: {"apns-id": "nope"}, 400, "BadMessageId"),
    ("GET", lambda a: {"method": "GET", "body": b""}, 405, "MethodNotAllowed"),
    ("no topic", lambda a: {"apns-topic": None}, 400, "MissingTopic"),
    ("collapse id of 65 bytes", lambda a: {"apns-collapse-id": "x" * 65}, 400, "BadCollapseId"),
    ("priority 7", lambda a: {"apns-priority": "7"}, 400, "BadPriority"),
    ("push type 'loud'", lambda a: {"apns-push-type": "loud"}, 400, "InvalidPushType"),
    (
        "background at 10",
        lambda a: {"apns-push-type": "background", "apns-priority": "10"},
        400,
        "BadPriority",
    ),
    ("expiration not a number", lambda a: {"apns-expiration": "tomorrow"}, 400, "BadExpirationDate"),
    ("empty token", lambda a: {"token": ""}, 400, "MissingDeviceToken"),
    ("token not hex", lambda a: {"token": "zz" * 32}, 400, "BadDeviceToken"),
    ("token too short", lambda a: {"token": "ab" * 8}, 400, "BadDeviceToken"),
    ("no token", lambda a: {"authorization": None}, 403, "MissingProviderToken"),
    ("not a bearer token", lambda a: {"authorization": "basic abc"}, 403, "MissingProviderToken"),
    ("garbage token", lambda a: {"authorization": "bearer abc.def.ghi"}, 403, "InvalidProviderToken"),
    (
        "token signed by another key",
        lambda a: {"authorization": a.bearer(key_pem=FakeApns().new_signing_key())},
        403,
        "InvalidProviderToken",
    ),
    (
        "token of another team",
        lambda a: {"authorization": a.bearer(iss="TEAM999999")},
        403,
        "InvalidProviderToken",
    ),
    (
        "token over an hour old",
        lambda a: {"authorization": a.bearer(time.time() - 3601)},
        403,
        "ExpiredProviderToken",
    ),
    ("topic the key may not use", lambda a: {"apns-topic": "org.example.other"}, 400, "TopicDisallowed"),
    ("empty payload", lambda a: {"body": b""}, 400, "PayloadEmpty"),
    ("4097-byte payload", lambda a: {"body": b"x" * 4097}, 413, "PayloadTooLarge"),
    (
        "5121-byte VoIP payload",
        lambda a: {"body": b"x" * 5121, "apns-push-type": "voip", "apns-topic": TOPIC + ".voip"},
        413,
        "PayloadTooLarge",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "status", "reason"), INVALID_REQUESTS, ids=[c[0] for c in INVALID_REQUESTS]
)
async def test_invalid_request_is_refused_with_apples_reason(
    apns: Apns, case: str, change: Change, status: int, reason: str
) -> None:
    """§5: Pushy's validating handlers, and Apple's reason table (§4.1)."""
    changes = change(apns)
    token = str(changes.pop("token", TOKEN))
    body = changes.pop("body", PAYLOAD)
    method = str(changes.pop("method", "POST"))
    assert isinstance(body, bytes)
    assert await apns.push(
        token, body, method, **{k: v for k, v in changes.items() if isinstance(v, str | None)}
    ) == (
        status,
        reason,
    )
    assert not apns.fake.deliveries


async def test_path_outside_device_is_bad_path(apns: Apns) -> None:
    """§4.1: 404 BadPath for anything but /3/device/<token>."""
    response = await apns.client.post(
        f"{apns.fake.url}/2/device/{TOKEN}", content=PAYLOAD, headers=apns.headers()
    )
    assert (response.status_code, response.json()) == (404, {"reason": "BadPath"})


async def test_voip_payload_of_5120_bytes_is_accepted(apns: Apns) -> None:
    """§4.1: VoIP payloads may be 5120 bytes."""
    status = await apns.push(body=b"x" * 5120, **{"apns-push-type": "voip", "apns-topic": TOPIC + ".voip"})
    assert status == (200, "")


async def test_unregistered_token_answers_410_with_its_timestamp(apns: Apns) -> None:
    """§4.1: 410 Unregistered carries when the token became invalid, in ms since the epoch."""
    apns.fake.unregister(TOKEN, since=1_700_000_000.5)
    response = await apns.client.post(
        f"{apns.fake.url}/3/device/{TOKEN}", content=PAYLOAD, headers=apns.headers()
    )
    assert (response.status_code, response.json()) == (
        410,
        {"reason": "Unregistered", "timestamp": 1_700_000_000_500},
    )


async def test_token_registered_for_another_topic_is_refused(apns: Apns) -> None:
    """§5: DeviceTokenNotForTopic when the token belongs to another app."""
    apns.fake.register(TOKEN, "org.example.other")
    assert await apns.push() == (400, "DeviceTokenNotForTopic")


async def test_new_token_within_20_minutes_is_too_many_updates(apns: Apns) -> None:
    """§4.1: updating the provider token more often than every 20 minutes is 429."""
    now = time.time()
    assert await apns.push(authorization=apns.bearer(now - 600)) == (200, "")
    assert await apns.push(authorization=apns.bearer(now)) == (429, "TooManyProviderTokenUpdates")
    assert await apns.push(authorization=apns.bearer(now - 600)) == (200, "")


async def test_connection_allows_one_stream_until_a_valid_token(apns: Apns) -> None:
    """§4.1: one stream until a request with a valid token, then what APNs announces (1000)."""
    connection = await H2ClientConnection.open(
        "127.0.0.1", apns.fake.port, apns.fake.authority.client_ssl_context()
    )
    try:
        assert connection.max_streams == 1
        headers = [(k.encode(), v.encode()) for k, v in apns.headers(authorization="bearer x").items()]
        assert (await connection.request("POST", f"/3/device/{TOKEN}", headers, PAYLOAD)).status == 403
        assert connection.max_streams == 1
        headers = [(k.encode(), v.encode()) for k, v in apns.headers().items()]
        assert (await connection.request("POST", f"/3/device/{TOKEN}", headers, PAYLOAD)).status == 200
        await asyncio.sleep(0.05)
        assert connection.max_streams == 1000
    finally:
        connection.close()


async def test_client_certificate_authenticates_its_own_topic(apns: Apns) -> None:
    """§5: certificate auth: the bundle id in the certificate's UID (and .voip) may be pushed to."""
    certificate = apns.fake.issue_client_certificate(TOPIC)
    context = apns.fake.authority.client_ssl_context(certificate)
    async with httpx.AsyncClient(http2=True, verify=context) as client:
        url = f"{apns.fake.url}/3/device/{TOKEN}"
        own = await client.post(url, content=PAYLOAD, headers={"apns-topic": TOPIC})
        implied = await client.post(url, content=PAYLOAD)
        other = await client.post(url, content=PAYLOAD, headers={"apns-topic": "org.example.other"})
    assert (own.status_code, implied.status_code) == (200, 200)
    assert (other.status_code, other.json()) == (400, {"reason": "BadTopic"})


async def test_injected_error_applies_the_given_number_of_times(apns: Apns) -> None:
    """Faults: an answer injected for a token, `times` times, with Retry-After."""
    apns.fake.answer(TOKEN, 503, "ServiceUnavailable", times=2, retry_after=5)
    response = await apns.client.post(
        f"{apns.fake.url}/3/device/{TOKEN}", content=PAYLOAD, headers=apns.headers()
    )
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert await apns.push() == (503, "ServiceUnavailable")
    assert await apns.push() == (200, "")
    assert apns.fake.answers == {"503 ServiceUnavailable": 2, "200": 1}


async def test_injected_error_for_one_token_spares_the_others(apns: Apns) -> None:
    """Faults are per token unless given for any token."""
    apns.fake.answer(TOKEN, 500, "InternalServerError")
    assert await apns.push("cd34" * 16) == (200, "")
    assert await apns.push(TOKEN) == (500, "InternalServerError")


async def test_delay_holds_the_answer(apns: Apns) -> None:
    """Faults: latency per answer."""
    apns.fake.delay(0.2, times=1)
    started = time.monotonic()
    assert await apns.push() == (200, "")
    assert time.monotonic() - started >= 0.2


async def test_stall_never_answers(apns: Apns) -> None:
    """Faults: a stalled push is never answered."""
    apns.fake.stall(TOKEN)
    with pytest.raises(httpx.ReadTimeout):
        await apns.client.post(
            f"{apns.fake.url}/3/device/{TOKEN}", content=PAYLOAD, headers=apns.headers(), timeout=0.2
        )


async def test_goaway_and_drop_end_the_connection(apns: Apns) -> None:
    """Faults: GOAWAY and a dropped connection both end it; the push is not delivered."""
    apns.fake.go_away(TOKEN)
    with pytest.raises(httpx.RemoteProtocolError):
        await apns.push()
    apns.fake.drop(TOKEN)
    with pytest.raises(httpx.RemoteProtocolError):
        await apns.push()
    assert not apns.fake.deliveries


async def test_control_api_injects_faults_and_lists_deliveries(apns: Apns) -> None:
    """Standalone mode: the same controls as JSON over plain HTTP."""
    control = apns.fake.control_url
    async with httpx.AsyncClient(base_url=str(control)) as admin:
        answer = await admin.post(
            "/_fake/answer", json={"token": TOKEN, "status": 410, "reason": "Unregistered"}
        )
        assert answer.status_code == 200
        assert await apns.push() == (410, "Unregistered")
        assert (await admin.post("/_fake/reset")).status_code == 200
        assert await apns.push() == (200, "")
        deliveries = (await admin.get("/_fake/deliveries", params={"token": TOKEN})).json()["deliveries"]
        stats = (await admin.get("/_fake/stats")).json()
    assert [d["payload"] for d in deliveries] == [{"aps": {"alert": "hi"}}]
    assert stats["answers"] == {"200": 1}


async def test_control_api_names_the_bad_field(apns: Apns) -> None:
    """A bad control request is a 400 naming the field; an unknown endpoint is a 404."""
    async with httpx.AsyncClient(base_url=str(apns.fake.control_url)) as admin:
        bad = await admin.post("/_fake/answer", json={"status": "five hundred", "reason": "x"})
        missing = await admin.get("/_fake/nothing")
    assert (bad.status_code, bad.json()) == (400, {"error": "status: expected a number"})
    assert missing.status_code == 404


def test_standalone_main_serves_until_sigterm(tmp_path: Path) -> None:
    """`main()` (pushrelay fake-apns) writes the CA and a .p8 key, says where it listens, stops on SIGTERM."""
    code = "import sys; from pushrelay.testing.fake_apns import main; sys.exit(main(sys.argv[1:]))"
    args = ["--port", "0", "--control-port", "0", "--ca-file", str(tmp_path / "ca.pem")]
    args += ["--write-key", str(tmp_path / "key.p8"), "--topic", TOPIC]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        summary = json.loads(process.stdout.readline())
        health = httpx.get(f"{summary['control_url']}/_fake/health", timeout=5).json()
        assert health == {"ok": True, "url": summary["url"]}
        assert (tmp_path / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
        assert summary["key_file"] == str(tmp_path / "key.p8")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
