"""The operational HTTP endpoints every deployment relies on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from pushrelay.app import Runtime, create_app
from pushrelay.domain import AppId, Message, Platform
from tests.conftest import SettingsFactory


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    runtime: Runtime = client.app_runtime  # type: ignore[attr-defined]
    return runtime


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_answers_ok_while_the_store_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_answers_503_when_the_store_is_unreachable(settings_factory: SettingsFactory) -> None:
    settings = settings_factory(store={"url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"})
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


async def test_a_sandbox_delivery_is_listed_without_its_token(client: httpx.AsyncClient) -> None:
    relay = runtime_of(client).relay
    await relay.push_to_tokens(AppId("default"), Platform.APNS, ["f" * 64], Message(title="Hi", body="there"))
    body = (await client.get("/sandbox/deliveries")).json()
    (delivery,) = body["deliveries"]
    assert delivery["platform"] == "apns" and delivery["message"]["title"] == "Hi"
    assert "f" * 64 not in str(body)


async def test_metrics_count_requests_by_route_and_pushes_by_outcome(client: httpx.AsyncClient) -> None:
    relay = runtime_of(client).relay
    await relay.push_to_tokens(AppId("default"), Platform.FCM, ["tok"], Message(body="x"))
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'pushrelay_http_requests_total{route="/healthz",status="200"} 1.0' in text
    assert (
        'pushrelay_pushes_total{app="default",outcome="delivered",provider="sandbox",reason=""} 1.0' in text
    )
    assert "pushrelay_push_seconds_bucket" in text
    assert 'pushrelay_lane_waiting{app="default",provider="sandbox"} 0.0' in text


async def test_an_oversized_body_is_refused_with_413(client: httpx.AsyncClient) -> None:
    limit = runtime_of(client).settings.server.max_body_bytes
    response = await client.post("/healthz", content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


async def test_an_oversized_streamed_body_is_refused_with_413(settings_factory: SettingsFactory) -> None:
    """Without Content-Length the limit is enforced while reading (chunked uploads)."""
    app = create_app(settings_factory(server={"max_body_bytes": 100}))

    @app.post("/echo")
    async def echo_length(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 30

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/echo", content=b"x" * 100)).text == "100"
        response = await http.post("/echo", content=chunks())
    assert response.status_code == 413
