"""The fake FCM, driven by an independent client (httpx over HTTP/2, JWTs made with PyJWT).

Rules: reference/status-gorush-sygnal.md §4.2 (FCM HTTP v1, the OAuth service-account
flow, FCM's error codes and body) and §5 (what a useful fake offers).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from pushrelay.testing.fake_fcm import FakeFcm
from pushrelay.testing.fake_fcm_oauth import FCM_SCOPE, JWT_BEARER_GRANT, ServiceAccount
from pushrelay.testing.fake_fcm_schema import BAD_TOKEN_MESSAGE, ERROR_CODES, FCM_ERROR_TYPE
from tests.providers.fcm_support import OTHER_TOKEN, TOKEN

SEND = "/v1/projects/pushrelay-fake/messages:send"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeFcm]:
    async with FakeFcm(clock=clock) as fake:
        yield fake


@pytest.fixture
async def client(fake: FakeFcm) -> AsyncIterator[httpx.AsyncClient]:
    context = fake.authority.client_ssl_context()
    async with httpx.AsyncClient(http2=True, verify=context, base_url=fake.url, timeout=2.0) as client:
        yield client


def assertion(account: ServiceAccount, now: float, **claims: Any) -> str:
    """A JWT-bearer assertion as Google documents it, made with PyJWT (not our provider's code)."""
    payload: dict[str, Any] = {
        "iss": account.client_email,
        "scope": FCM_SCOPE,
        "aud": account.token_uri,
        "iat": int(now),
        "exp": int(now) + 3600,
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    headers = {"kid": account.private_key_id}
    return jwt.encode(payload, account.private_key, algorithm="RS256", headers=headers)


async def token_request(
    client: httpx.AsyncClient, assertion: str, grant: str = JWT_BEARER_GRANT
) -> httpx.Response:
    return await client.post("/token", data={"grant_type": grant, "assertion": assertion})


async def access_token(client: httpx.AsyncClient, fake: FakeFcm, clock: Clock) -> str:
    response = await token_request(client, assertion(fake.service_account, clock()))
    token: str = response.json()["access_token"]
    return token


async def send(client: httpx.AsyncClient, token: str, body: object, path: str = SEND) -> httpx.Response:
    return await client.post(path, json=body, headers={"authorization": f"Bearer {token}"})


def fcm_error(response: httpx.Response) -> tuple[int, str, str | None]:
    """(code, status, FcmError errorCode) from Google's error body."""
    error = response.json()["error"]
    codes = [d["errorCode"] for d in error.get("details", []) if d["@type"] == FCM_ERROR_TYPE]
    assert error["code"] == response.status_code
    return error["code"], error["status"], codes[0] if codes else None


# the token endpoint


async def test_valid_assertion_gets_a_bearer_access_token(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: POST token_uri with the JWT-bearer grant → {access_token, expires_in, token_type: Bearer}."""
    response = await token_request(client, assertion(fake.service_account, clock()))
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"access_token", "expires_in", "token_type"}
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3599)


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"iss": "someone@else.iam.gserviceaccount.com"}, "invalid_grant"),
        ({"aud": "https://oauth2.googleapis.com/token"}, "invalid_grant"),
        ({"scope": "https://www.googleapis.com/auth/cloud-platform"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"exp": 3601}, "invalid_grant"),
        ({"iat": -7200, "exp": -3600}, "invalid_grant"),
        ({"iat": 600, "exp": 1200}, "invalid_grant"),
    ],
    ids=["unknown-iss", "aud-not-token-uri", "other-scope", "no-scope", "over-an-hour", "expired", "future"],
)
async def test_assertion_with_wrong_claims_is_refused(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock, claims: dict[str, Any], error: str
) -> None:
    """§4.2: iss = client_email, aud = token_uri, scope firebase.messaging, exp ≤ iat + 3600, current."""
    now, claims = int(clock()), dict(claims)
    times = {name: now + claims.pop(name) for name in ("iat", "exp") if name in claims}  # offsets from now
    response = await token_request(client, assertion(fake.service_account, now, **claims, **times))
    assert (response.status_code, response.json()["error"]) == (400, error)
    assert fake.oauth.issued_count == 0


async def test_assertion_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: the signature is checked against the service account's public key."""
    stranger = fake.new_service_account(trusted=False)
    forged = ServiceAccount(
        fake.project_id,
        fake.service_account.client_email,
        fake.service_account.private_key_id,
        stranger.private_key,
        fake.token_uri,
    )
    response = await token_request(client, assertion(forged, clock()))
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}


async def test_other_grant_types_are_refused(client: httpx.AsyncClient, fake: FakeFcm, clock: Clock) -> None:
    """RFC 7523: only grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer is accepted."""
    response = await token_request(
        client, assertion(fake.service_account, clock()), grant="client_credentials"
    )
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


async def test_token_endpoint_failures_can_be_injected(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§5: the token endpoint can fail on demand, a number of times."""
    fake.fail_token_requests(503, times=1)
    first = await token_request(client, assertion(fake.service_account, clock()))
    second = await token_request(client, assertion(fake.service_account, clock()))
    assert (first.status_code, first.json()["error"], second.status_code) == (
        503,
        "temporarily_unavailable",
        200,
    )


async def test_service_account_file_points_at_the_fake(fake: FakeFcm, tmp_path: Path) -> None:
    """§4.2: the file has project_id, client_email, private_key and token_uri (here: the fake's)."""
    info = json.loads(fake.write_service_account(tmp_path / "sa.json").read_text())
    assert info["type"] == "service_account"
    assert (info["project_id"], info["token_uri"]) == (fake.project_id, f"{fake.url}/token")
    assert info["client_email"].endswith(f"@{fake.project_id}.iam.gserviceaccount.com")
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


# authentication of messages:send


async def test_send_without_access_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    """§4.2: Authorization: Bearer <access token> is required; Google answers 401 UNAUTHENTICATED."""
    response = await client.post(SEND, json={"message": {"token": TOKEN}})
    assert fcm_error(response) == (401, "UNAUTHENTICATED", None)


async def test_expired_access_token_is_unauthenticated(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: an access token is good for `expires_in` seconds, then FCM answers 401."""
    token = await access_token(client, fake, clock)
    assert (await send(client, token, {"message": {"token": TOKEN}})).status_code == 200
    clock.now += 3600
    response = await send(client, token, {"message": {"token": TOKEN}})
    assert fcm_error(response) == (401, "UNAUTHENTICATED", None)
    assert response.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"


async def test_short_lived_access_tokens_can_be_issued(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§5: the fake can issue short-lived tokens, or expire every token at once."""
    fake.oauth.access_token_lifetime = 5
    response = await token_request(client, assertion(fake.service_account, clock()))
    assert response.json()["expires_in"] == 5
    token = response.json()["access_token"]
    assert fake.expire_access_tokens() == 1
    assert (await send(client, token, {"message": {"token": TOKEN}})).status_code == 401


async def test_send_to_another_project_is_permission_denied(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: the path names the service account's project."""
    token = await access_token(client, fake, clock)
    response = await send(client, token, {"message": {"token": TOKEN}}, "/v1/projects/other/messages:send")
    assert fcm_error(response) == (403, "PERMISSION_DENIED", None)


# the message schema

TOPIC_DATA = {f"k{i}": "v" * 100 for i in range(20)}  # about 2,100 bytes: over the topic limit only


@pytest.mark.parametrize(
    ("body", "status", "error_code", "field"),
    [
        ({"message": {"token": TOKEN, "topic": "news"}}, 400, None, "message"),
        ({"message": {"data": {"a": "b"}}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": TOKEN, "data": {"count": 3}}}, 400, None, "message.data[0].value"),
        ({"message": {"token": TOKEN, "data": {"from": "x"}}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": TOKEN, "data": {"google.x": "x"}}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": TOKEN}, "dry_run": True}, 400, None, ""),
        ({"message": {"token": TOKEN, "priority": "high"}}, 400, None, "message"),
        ({"message": {"token": TOKEN, "notification": {"sound": "x"}}}, 400, None, "message.notification"),
        (
            {"message": {"token": TOKEN, "android": {"priority": "urgent"}}},
            400,
            None,
            "message.android.priority",
        ),
        ({"message": {"token": TOKEN, "android": {"ttl": "3600"}}}, 400, None, "message.android.ttl"),
        ({"message": {"token": TOKEN, "android": {"ttl": 3600}}}, 400, None, "message.android.ttl"),
        ({"message": {"token": TOKEN, "android": {"ttl": "2419201s"}}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": TOKEN, "data": {"a": "x" * 4096}}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"topic": "news", "data": TOPIC_DATA}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": "not a token"}}, 400, "INVALID_ARGUMENT", None),
        ({"message": {"token": TOKEN, "data": TOPIC_DATA}}, 200, None, None),
        ({"message": {"token": TOKEN, "android": {"priority": "normal", "ttl": "0s"}}}, 200, None, None),
        ({"message": {"token": TOKEN, "android": {"ttl": "86400.5s", "collapse_key": "c"}}}, 200, None, None),
        (
            {"message": {"condition": "'a' in topics", "fcm_options": {"analytics_label": "x"}}},
            200,
            None,
            None,
        ),
    ],
    ids=[
        "two-targets",
        "no-target",
        "data-not-string",
        "reserved-data-key",
        "google-data-key",
        "unknown-top-level-key",
        "unknown-message-field",
        "unknown-notification-field",
        "bad-priority",
        "ttl-without-unit",
        "ttl-a-number",
        "ttl-over-28-days",
        "data-over-4096-bytes",
        "topic-data-over-2048-bytes",
        "malformed-token",
        "token-data-under-4096-bytes",
        "normal-priority-zero-ttl",
        "fractional-ttl-collapse-key",
        "condition",
    ],
)
async def test_message_is_validated_like_fcm(
    client: httpx.AsyncClient,
    fake: FakeFcm,
    clock: Clock,
    body: dict[str, Any],
    status: int,
    error_code: str | None,
    field: str | None,
) -> None:
    """§4.2: one target, string data, known fields, priority and ttl formats, 4096 (topics 2048) bytes."""
    response = await send(client, await access_token(client, fake, clock), body)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["name"].startswith("projects/pushrelay-fake/messages/")
        return
    assert fcm_error(response) == (400, "INVALID_ARGUMENT", error_code)
    violations = [d for d in response.json()["error"].get("details", []) if "fieldViolations" in d]
    assert [v["fieldViolations"][0]["field"] for v in violations] == ([] if field is None else [field])
    assert not fake.deliveries


async def test_accepted_message_is_delivered_as_sent(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: 200 {"name": "projects/<id>/messages/<id>"}; the fake lists what it delivered."""
    message = {"token": TOKEN, "data": {"a": "1"}, "notification": {"title": "t", "body": "b"}}
    response = await send(client, await access_token(client, fake, clock), {"message": message})
    [delivery] = fake.deliveries_to(TOKEN)
    assert response.json() == {"name": f"projects/pushrelay-fake/messages/{delivery.message_id}"}
    assert delivery.message == message
    assert fake.deliveries_to(OTHER_TOKEN) == []


async def test_validate_only_is_answered_but_not_delivered(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: validate_only: true is a dry run."""
    body = {"message": {"token": TOKEN}, "validate_only": True}
    response = await send(client, await access_token(client, fake, clock), body)
    assert response.status_code == 200
    assert not fake.deliveries


# faults


@pytest.mark.parametrize("error_code", sorted(ERROR_CODES))
async def test_injected_error_has_the_real_error_body(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock, error_code: str
) -> None:
    """§4.2: {"error": {code, message, status, details: [{@type: …FcmError, errorCode}]}}."""
    status, canonical, message = ERROR_CODES[error_code]
    fake.answer(TOKEN, error_code, times=1)
    token = await access_token(client, fake, clock)
    response = await send(client, token, {"message": {"token": TOKEN}})
    assert fcm_error(response) == (status, canonical, error_code)
    assert response.json()["error"]["message"] == message
    assert (await send(client, token, {"message": {"token": TOKEN}})).status_code == 200


async def test_injected_error_can_carry_retry_after_and_apply_to_one_token(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: QUOTA_EXCEEDED and 5xx may come with Retry-After; faults may target one token."""
    fake.answer(TOKEN, "QUOTA_EXCEEDED", retry_after=120)
    token = await access_token(client, fake, clock)
    refused = await send(client, token, {"message": {"token": TOKEN}})
    other = await send(client, token, {"message": {"token": OTHER_TOKEN}})
    assert (refused.status_code, refused.headers["retry-after"], other.status_code) == (429, "120", 200)


async def test_unregistered_token_is_answered_404_unregistered(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: UNREGISTERED (404) once the app instance is gone."""
    fake.unregister(TOKEN)
    response = await send(client, await access_token(client, fake, clock), {"message": {"token": TOKEN}})
    assert fcm_error(response) == (404, "NOT_FOUND", "UNREGISTERED")
    assert fake.answers["404 UNREGISTERED"] == 1


async def test_bad_token_message_names_the_registration_token(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§4.2: INVALID_ARGUMENT about a token says so in its message, as FCM's does."""
    fake.answer(TOKEN, "INVALID_ARGUMENT")
    response = await send(client, await access_token(client, fake, clock), {"message": {"token": TOKEN}})
    assert response.json()["error"]["message"] == BAD_TOKEN_MESSAGE


async def test_delay_holds_the_answer(client: httpx.AsyncClient, fake: FakeFcm, clock: Clock) -> None:
    """§5: latency can be injected per token."""
    token = await access_token(client, fake, clock)
    fake.delay(0.2, TOKEN, times=1)
    started = time.monotonic()
    assert (await send(client, token, {"message": {"token": TOKEN}})).status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_stall_never_answers(client: httpx.AsyncClient, fake: FakeFcm, clock: Clock) -> None:
    """§5: a stalled push gets no answer; the client has to give up."""
    token = await access_token(client, fake, clock)
    fake.stall(TOKEN, times=1)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            SEND,
            json={"message": {"token": TOKEN}},
            headers={"authorization": f"Bearer {token}"},
            timeout=0.2,
        )
    assert fake.answers["stall"] == 1


async def test_goaway_leaves_the_push_unprocessed(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§5: after GOAWAY the push was not processed, so a client may resend it (httpx does, at once)."""
    token = await access_token(client, fake, clock)
    fake.go_away(TOKEN)
    response = await send(client, token, {"message": {"token": TOKEN}})
    assert (response.status_code, fake.answers["goaway"], len(fake.deliveries)) == (200, 1, 1)


async def test_drop_cuts_the_connection_unanswered(
    client: httpx.AsyncClient, fake: FakeFcm, clock: Clock
) -> None:
    """§5: a dropped connection answers nothing."""
    token = await access_token(client, fake, clock)
    fake.drop(TOKEN)
    with pytest.raises(httpx.TransportError):
        await send(client, token, {"message": {"token": TOKEN}})
    assert not fake.deliveries


# standalone


async def test_control_api_injects_faults_and_lists_deliveries(fake: FakeFcm, tmp_path: Path) -> None:
    """§5: standalone, the fake is steered over a JSON control API (like the fake APNs')."""
    async with FakeFcm(control_port=0) as standalone:
        assert standalone.control_url is not None
        async with httpx.AsyncClient(base_url=standalone.control_url) as control:
            await control.post("/_fake/answer", json={"token": TOKEN, "error_code": "UNREGISTERED"})
            token = (await control.post("/_fake/oauth/token")).json()["access_token"]
            context = standalone.authority.client_ssl_context()
            async with httpx.AsyncClient(http2=True, verify=context, base_url=standalone.url) as client:
                refused = await send(client, token, {"message": {"token": TOKEN}})
                accepted = await send(client, token, {"message": {"token": OTHER_TOKEN}})
            deliveries = (await control.get("/_fake/deliveries")).json()["deliveries"]
            stats = (await control.get("/_fake/stats")).json()
            bad = await control.post("/_fake/answer", json={"error_code": "NOPE"})
    assert (refused.status_code, accepted.status_code) == (404, 200)
    assert [d["message"]["token"] for d in deliveries] == [OTHER_TOKEN]
    assert stats["answers"] == {"404 UNREGISTERED": 1, "200": 1}
    assert bad.status_code == 400


async def test_main_runs_standalone_until_terminated(tmp_path: Path) -> None:
    """`pushrelay fake-fcm`: prints where it listens, writes the CA and service account, stops on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from pushrelay.testing.fake_fcm import main; sys.exit(main(sys.argv[1:]))",
        *("--port", "0", "--control-port", "0", "--project", "demo"),
        *("--ca-file", str(tmp_path / "ca.pem"), "--service-account", str(tmp_path / "sa.json")),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        summary = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        async with httpx.AsyncClient() as control:
            health = (await control.get(summary["control_url"] + "/_fake/health")).json()
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), 10)
    assert (health["ok"], health["project_id"], code) == (True, "demo", 0)
    assert json.loads((tmp_path / "sa.json").read_text())["token_uri"] == summary["token_uri"]
    assert (tmp_path / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
