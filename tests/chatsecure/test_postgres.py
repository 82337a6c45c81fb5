"""The same flows on PostgreSQL, the production store (DESIGN principle 5)."""

from __future__ import annotations

import pytest
from tests.chatsecure.conftest import Harness, SettingsFactory, start

from pushrelay.protocols.chatsecure import ExpiredTokenPruner

pytestmark = pytest.mark.postgres


async def test_the_ios_flow_cascades_and_prune_work_on_postgresql(
    settings_factory: SettingsFactory, pg_url: str
) -> None:
    """Issue 4: accounts, devices, tokens, knock, cascade and prune on both backends."""
    from tests.chatsecure.conftest import FAST_KDF

    settings = settings_factory(store={"url": pg_url}, chatsecure={**FAST_KDF})
    runtime, http = await start(settings)
    try:
        cs = Harness(runtime, http)
        alice = await cs.account()
        device = await alice.device("apns", "5a" * 32)
        token = await alice.token(device)
        knock = await http.post("/api/v1/messages/", json={"token": token, "priority": "high"})
        assert knock.status_code == 202 and len(cs.deliveries()) == 1
        listed = await alice.request("GET", "/api/v1/tokens/")
        assert [t["token"] for t in listed.json()["results"]] == [token]
        assert (await alice.request("DELETE", f"/api/v1/device/apns/{device['id']}/")).status_code == 204
        assert (await http.post("/api/v1/messages/", json={"token": token})).status_code == 404
        await alice.request("DELETE", f"/api/v1/accounts/{alice.body['username']}/")
        assert await ExpiredTokenPruner(runtime.relay).prune_once() >= 0
    finally:
        await http.aclose()
        await runtime.stop()
