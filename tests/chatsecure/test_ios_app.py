"""Replays the ChatSecure iOS app's requests (reference §1.3-§1.6), request for request.

What a knock delivers to APNs is in test_delivery_to_fakes.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid

from tests.chatsecure.conftest import IOS_HEADERS, Harness

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


async def test_the_ios_app_registers_mints_a_pool_and_is_knocked(cs: Harness) -> None:
    """APP PushController: random account, POST then PUT device/apns/, 5 tokens at once, a knock."""
    username, password = str(uuid.uuid4())[:30], "x" * 100
    created = await cs.http.post(
        "/api/v1/accounts/", json={"username": username, "password": password}, headers=IOS_HEADERS
    )
    assert created.status_code == 200
    account = created.json()
    assert set(account) == {"username", "email", "id", "token"}
    assert all(isinstance(v, str) for v in account.values())  # IOS-SDK casts to [String: String]
    assert (
        account["email"] == ""
        and len(account["id"]) == 36
        and re.fullmatch(r"[0-9a-f]{40}", account["token"])
    )
    auth = {**IOS_HEADERS, "Authorization": f"Token {account['token']}"}

    apns_hex = "a1" * 32
    posted = await cs.http.post("/api/v1/device/apns/", json={"registration_id": apns_hex}, headers=auth)
    assert posted.status_code == 201
    device = posted.json()
    assert list(device) == ["name", "id", "active", "registration_id", "device_id", "date_created"]
    assert device["registration_id"] == apns_hex and device["active"] is True and device["name"] is None
    assert DATETIME.match(device["date_created"])

    put = await cs.http.put(
        f"/api/v1/device/apns/{device['id']}/",
        json={"registration_id": apns_hex, "name": "iPhone", "device_id": device["id"]},
        headers=auth,
    )
    assert put.status_code == 200
    assert put.json()["name"] == "iPhone" and put.json()["device_id"] == device["id"]

    pool = await asyncio.gather(
        *(cs.http.post("/api/v1/tokens/", json={"apns_device": device["id"]}, headers=auth) for _ in range(5))
    )
    assert [r.status_code for r in pool] == [201] * 5
    tokens = [r.json() for r in pool]
    assert len({t["token"] for t in tokens}) == 5
    for token in tokens:
        assert token["apns_device"] == device["id"] and "gcm_device" not in token and "name" not in token
        assert DATETIME.match(token["date_expires"])

    knock = await cs.http.post("/api/v1/messages/", json={"token": tokens[0]["token"]}, headers=IOS_HEADERS)
    assert knock.status_code == 202
    assert knock.json() == {"token": tokens[0]["token"], "data": None, "priority": None}
    assert cs.deliveries() == []  # no priority means low: SRV sent iOS nothing (commit 81a9b96)


async def test_login_returns_the_token_given_at_creation(cs: Harness) -> None:
    """reference §1.3: POST accounts/ with an existing username and its password is a login."""
    alice = await cs.account(username="alice", password="secret")
    again = await cs.http.post("/api/v1/accounts/", json={"username": "alice", "password": "secret"})
    assert again.status_code == 200 and again.json() == alice.body


async def test_the_account_token_authenticates(cs: Harness) -> None:
    """DRF TokenAuthentication: `Authorization: Token <40 hex>`."""
    alice = await cs.account(username="alice2")
    response = await alice.request("GET", "/api/v1/accounts/")
    assert response.status_code == 200
    assert response.json() == {"username": "alice2", "email": "", "id": alice.body["id"]}


async def test_paths_work_without_the_trailing_slash(cs: Harness) -> None:
    """reference §1.1: IOS-SDK TokenEndpoint.getRequest builds `tokens/<id>` with no slash."""
    alice = await cs.account()
    token = await alice.token(await alice.device())
    response = await alice.request("GET", f"/api/v1/tokens/{token}")
    assert response.status_code == 200 and response.json()["token"] == token


async def test_revoking_a_token_makes_its_knock_404_with_an_empty_body(cs: Harness) -> None:
    """IOS-SDK revokeToken: DELETE tokens/{token}/; senders learn it from a 404 (reference §3.4)."""
    alice = await cs.account()
    token = await alice.token(await alice.device())
    assert (await alice.request("DELETE", f"/api/v1/tokens/{token}/")).status_code == 204
    knock = await cs.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    assert knock.status_code == 404 and knock.content == b""


async def test_the_pubsub_endpoint_names_the_xep_0357_service(cs: Harness) -> None:
    """reference §1.7: `{"jid": ...}`, anonymous; IOS-SDK Deserializer.pubsub requires a string."""
    response = await cs.http.get("/api/v1/pubsub/", headers=IOS_HEADERS)
    assert response.status_code == 200 and response.json() == {"jid": "push.example.org"}


async def test_the_api_root_lists_every_prefix(cs: Harness) -> None:
    """reference §1.2: SRV APIRoot."""
    response = await cs.http.get("/api/v1/")
    assert set(response.json()) == {"device/apns", "device/gcm", "tokens", "messages", "accounts", "pubsub"}
    assert response.json()["messages"].endswith("/api/v1/messages/")


async def test_deleting_the_account_removes_everything(cs: Harness) -> None:
    """IOS-SDK unregister: DELETE accounts/<username>/ cascades to devices and tokens."""
    alice = await cs.account(username="leaving")
    token = await alice.token(await alice.device())
    assert (await alice.request("DELETE", "/api/v1/accounts/leaving/")).status_code == 204
    assert (await cs.http.post("/api/v1/messages/", json={"token": token})).status_code == 404
    assert (await alice.request("GET", "/api/v1/accounts/")).status_code == 401
