"""What a copied database or the logs could reveal (DESIGN principle 1), and the knock's 503."""

from __future__ import annotations

from pathlib import Path

import structlog
from tests.chatsecure.conftest import Harness, SettingsFactory, start

from pushrelay.domain import Failed, Outcome, Platform, Push


async def test_a_copied_database_holds_no_secret_in_the_clear(cs: Harness, tmp_path: Path) -> None:
    """DESIGN principle 1: no token, device token, password, API key, username, email or name in the file."""
    username, password, email = "plain-username-4711", "plain-password-4711", "plain@example.org"
    created = await cs.http.post(
        "/api/v1/accounts/", json={"username": username, "password": password, "email": email}
    )
    api_key = created.json()["token"]
    headers = {"Authorization": f"Token {api_key}"}
    apns = "9f" * 32
    device = await cs.http.post(
        "/api/v1/device/apns/",
        json={"registration_id": apns, "name": "Plain Device Name", "device_id": "plain-ident"},
        headers=headers,
    )
    gcm = await cs.http.post(
        "/api/v1/device/gcm/", data={"registration_id": "plain-gcm-id-4711"}, headers=headers
    )
    minted = await cs.http.post(
        "/api/v1/tokens/", json={"apns_device": device.json()["id"], "name": "Plain Buddy"}, headers=headers
    )
    whitelist = minted.json()["token"]
    await cs.http.post("/api/v1/messages/", json={"token": whitelist, "priority": "high"})
    assert gcm.status_code == 201
    await cs.runtime.database.engine.dispose()  # flush the WAL into the file we copy
    raw = _database_bytes(tmp_path)
    for secret in (
        username,
        password,
        email,
        api_key,
        apns,
        "plain-gcm-id-4711",
        whitelist,
        "Plain Device Name",
        "plain-ident",
        "Plain Buddy",
    ):
        assert secret.encode() not in raw, secret
        assert bytes.fromhex(secret) not in raw if _is_hex(secret) else True


async def test_tokens_never_reach_the_logs(cs: Harness) -> None:
    """STYLE R12: no whitelist token, device token, API key or password in any log event."""
    with structlog.testing.capture_logs() as logs:
        alice = await cs.account(password="log-password-4711")
        token = await alice.token(await alice.device("apns", "7e" * 32))
        await cs.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
        await cs.http.post("/api/v1/messages/", json={"token": "a" * 40})
        await alice.request("DELETE", f"/api/v1/tokens/{token}/")
    text = repr(logs)
    assert logs
    for secret in (token, "7e" * 32, alice.body["token"], "log-password-4711", alice.body["username"]):
        assert secret not in text


def _database_bytes(folder: Path) -> bytes:
    """The SQLite file as a thief would copy it (plus its WAL), read directly."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("pushrelay.db*")))


def _is_hex(value: str) -> bool:
    return len(value) % 2 == 0 and all(c in "0123456789abcdef" for c in value)


class DownProvider:
    """An in-memory Provider whose service is down: every attempt fails, retryably."""

    name = "down-fake"

    async def send(self, push: Push) -> Outcome:
        return Failed(retryable=True, detail="503 from the service", retry_after=2.0)

    async def aclose(self) -> None:
        pass


async def test_a_knock_whose_pushes_all_failed_is_503_with_retry_after(
    settings_factory: SettingsFactory,
) -> None:
    """DESIGN principle 2: the sender learns that nothing went out, and when to try again."""
    from tests.chatsecure.conftest import FAST_KDF

    settings = settings_factory(chatsecure=FAST_KDF, dispatch={"deadline": 0.3, "backoff_base": 0.05})
    runtime, http = await start(settings, {Platform.APNS: DownProvider()})
    try:
        alice = await Harness(runtime, http).account()
        token = await alice.token(await alice.device("apns"))
        response = await http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
        assert response.status_code == 503 and "detail" in response.json()
        assert int(response.headers["retry-after"]) >= 1
    finally:
        await http.aclose()
        await runtime.stop()
