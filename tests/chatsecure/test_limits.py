"""Abuse limits: knock rate per token, account attempts per IP (issue 4; SRV had none, §5.1)."""

from __future__ import annotations

from tests.chatsecure.conftest import Harness, SettingsFactory, start


async def test_knocks_past_the_burst_are_throttled_with_drfs_message(cs_settings: SettingsFactory) -> None:
    """DRF Throttled: 429, `Request was throttled. Expected available in N seconds.`, Retry-After."""
    runtime, http = await start(cs_settings(knock_burst=3, knock_rate=0.5))
    try:
        alice = await Harness(runtime, http).account()
        token = await alice.token(await alice.device())
        answers = [
            (await http.post("/api/v1/messages/", json={"token": token})).status_code for _ in range(4)
        ]
        assert answers == [202, 202, 202, 429]
        throttled = await http.post("/api/v1/messages/", json={"token": token})
        assert throttled.json() == {"detail": "Request was throttled. Expected available in 2 seconds."}
        assert throttled.headers["retry-after"] == "2"
        other = await alice.token(await alice.device())
        assert (await http.post("/api/v1/messages/", json={"token": other})).status_code == 202
        metrics = (await http.get("/metrics")).text
        assert 'pushrelay_chatsecure_throttled_total{limit="knock"} 2.0' in metrics
    finally:
        await http.aclose()
        await runtime.stop()


async def test_login_attempts_per_ip_are_throttled(cs_settings: SettingsFactory) -> None:
    """reference §5.1: POST accounts/ doubles as login and could be brute-forced."""
    runtime, http = await start(cs_settings(account_burst=2, account_rate=0.01))
    try:
        await Harness(runtime, http).account(username="target", password="right")
        guess = await http.post("/api/v1/accounts/", json={"username": "target", "password": "guess"})
        assert guess.status_code == 401
        blocked = await http.post("/api/v1/accounts/", json={"username": "target", "password": "right"})
        assert blocked.status_code == 429 and blocked.json()["detail"].startswith("Request was throttled.")
        assert (
            'pushrelay_chatsecure_throttled_total{limit="account"} 1.0' in (await http.get("/metrics")).text
        )
    finally:
        await http.aclose()
        await runtime.stop()


async def test_refused_knocks_are_counted(cs: Harness) -> None:
    """Issue 4: refusals show in /metrics by reason."""
    await cs.http.post("/api/v1/messages/", json={"token": "e" * 40})
    metrics = (await cs.http.get("/metrics")).text
    assert 'pushrelay_refusals_total{protocol="chatsecure",reason="unknown"} 1.0' in metrics
