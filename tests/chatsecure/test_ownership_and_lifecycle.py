"""Ownership, cascades, expiry and the prune (reference §1.4, §1.5, §3.4)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from tests.chatsecure.conftest import Harness, SettingsFactory, start

from pushrelay.store.chatsecure import chatsecure_tokens
from pushrelay.store.schema import capabilities


async def test_bob_cannot_see_alices_devices_or_tokens(cs: Harness) -> None:
    """SRV test_device_and_token_visibility: lists hold only the caller's own items."""
    alice, bob = await cs.account(), await cs.account()
    device = await alice.device()
    token = await alice.token(device)
    await bob.device("gcm")
    assert (await bob.request("GET", "/api/v1/device/apns/")).json()["results"] == []
    assert len((await bob.request("GET", "/api/v1/device/gcm/")).json()["results"]) == 1
    assert (await bob.request("GET", "/api/v1/tokens/")).json()["results"] == []
    assert (await bob.request("GET", f"/api/v1/device/apns/{device['id']}/")).status_code == 404
    assert (await bob.request("GET", f"/api/v1/tokens/{token}/")).status_code == 404


async def test_bob_cannot_change_or_delete_alices_devices_or_tokens(cs: Harness) -> None:
    """Ownership is enforced on every write, not only on reads (SRV's OwnerOnlyPermission did nothing)."""
    alice, bob = await cs.account(), await cs.account()
    device = await alice.device()
    token = await alice.token(device)
    path = f"/api/v1/device/apns/{device['id']}/"
    assert (await bob.request("PUT", path, json={"registration_id": "ff" * 32})).status_code == 404
    assert (await bob.request("DELETE", path)).status_code == 404
    assert (await bob.request("DELETE", f"/api/v1/tokens/{token}/")).status_code == 404
    assert (await bob.request("PATCH", f"/api/v1/tokens/{token}/", json={"name": "mine"})).status_code == 404
    assert (await alice.request("GET", f"/api/v1/tokens/{token}/")).json().get("name") is None


async def test_bob_cannot_mint_a_token_for_alices_device(cs: Harness) -> None:
    """reference §1.5: the device querysets are restricted to the caller's devices."""
    alice, bob = await cs.account(), await cs.account()
    device = await alice.device()
    response = await bob.request("POST", "/api/v1/tokens/", json={"apns_device": device["id"]})
    assert response.status_code == 400 and "apns_device" in response.json()


async def test_bob_cannot_read_or_delete_alices_account(cs: Harness) -> None:
    """GET/DELETE accounts/{username}/ of someone else: 404, and nothing is deleted."""
    alice, bob = await cs.account(username="alice-x"), await cs.account()
    assert (await bob.request("GET", "/api/v1/accounts/alice-x/")).status_code == 404
    assert (await bob.request("DELETE", "/api/v1/accounts/alice-x/")).status_code == 404
    assert (await alice.request("GET", "/api/v1/accounts/alice-x/")).status_code == 200


async def test_deleting_a_device_deletes_its_tokens(cs: Harness) -> None:
    """reference §1.4: DELETE device cascades to this device's tokens; their knocks get 404."""
    alice = await cs.account()
    phone, tablet = await alice.device(), await alice.device()
    doomed, kept = await alice.token(phone), await alice.token(tablet)
    assert (await alice.request("DELETE", f"/api/v1/device/apns/{phone['id']}/")).status_code == 204
    assert (await cs.http.post("/api/v1/messages/", json={"token": doomed})).status_code == 404
    assert (await cs.http.post("/api/v1/messages/", json={"token": kept})).status_code == 202
    assert [t["token"] for t in (await alice.request("GET", "/api/v1/tokens/")).json()["results"]] == [kept]


async def test_a_switched_off_device_gets_no_push(cs: Harness) -> None:
    """Issue 4: `active` is honoured (SRV ignored it when sending)."""
    alice = await cs.account()
    device = await alice.device("apns", "0a" * 32)
    token = await alice.token(device)
    patched = await alice.request("PATCH", f"/api/v1/device/apns/{device['id']}/", json={"active": False})
    assert patched.json()["active"] is False
    await cs.http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
    assert cs.deliveries() == []


async def test_an_expired_token_is_refused_at_send_time(cs_settings: SettingsFactory) -> None:
    """Issue 4: `date_expires` is enforced on the knock (SRV only deleted tokens in a daily job)."""
    runtime, http = await start(cs_settings(token_lifetime=0.05))
    try:
        alice = await Harness(runtime, http).account()
        token = await alice.token(await alice.device())
        await asyncio.sleep(0.1)
        response = await http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
        assert response.status_code == 404 and response.content == b""
    finally:
        await http.aclose()
        await runtime.stop()


async def test_the_prune_removes_expired_tokens(cs_settings: SettingsFactory) -> None:
    """reference §3.4: delete_expired_tokens, now a service the app lifespan runs."""
    from pushrelay.protocols.chatsecure import ExpiredTokenPruner

    runtime, http = await start(cs_settings(token_lifetime=0.05))
    try:
        alice = await Harness(runtime, http).account()
        await alice.token(await alice.device())
        await asyncio.sleep(0.1)
        assert await ExpiredTokenPruner(runtime.relay).prune_once() == 1
        async with runtime.database.engine.connect() as conn:
            assert (
                await conn.execute(sa.select(sa.func.count()).select_from(chatsecure_tokens))
            ).scalar() == 0
            assert (await conn.execute(sa.select(sa.func.count()).select_from(capabilities))).scalar() == 0
    finally:
        await http.aclose()
        await runtime.stop()


async def test_lists_are_paged_in_the_sdk_envelope(cs_settings: SettingsFactory) -> None:
    """IOS-SDK Deserializer.tokens needs `results`; DRF PageNumberPagination links."""
    runtime, http = await start(cs_settings(page_size=2))
    try:
        alice = await Harness(runtime, http).account()
        device = await alice.device()
        minted = [await alice.token(device) for _ in range(3)]
        first = (await alice.request("GET", "/api/v1/tokens/")).json()
        assert first["count"] == 3 and first["previous"] is None and first["next"].endswith("page=2")
        second = (await alice.request("GET", first["next"])).json()
        assert [t["token"] for t in first["results"] + second["results"]] == minted
        assert second["next"] is None and second["previous"] is not None
        assert (await alice.request("GET", "/api/v1/tokens/?page=9")).status_code == 404
    finally:
        await http.aclose()
        await runtime.stop()


async def test_a_token_can_be_renamed_or_moved_by_its_owner(cs: Harness) -> None:
    """reference §1.5: PUT/PATCH tokens/{token}/ update `name` or the device; PATCH may omit the device."""
    alice = await cs.account()
    phone, android = await alice.device("apns"), await alice.device("gcm")
    token = await alice.token(phone)
    renamed = await alice.request("PATCH", f"/api/v1/tokens/{token}/", json={"name": "bob"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "bob"
    assert renamed.json()["apns_device"] == phone["id"]
    moved = await alice.request("PUT", f"/api/v1/tokens/{token}/", json={"gcm_device": android["id"]})
    assert moved.json()["gcm_device"] == android["id"] and "apns_device" not in moved.json()
    bare_put = await alice.request("PUT", f"/api/v1/tokens/{token}/", json={"name": "x"})
    assert bare_put.status_code == 400
