"""The HTTP binding (reference/status-http.md) on a real socket, over the real store and relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushrelay.protocols.status import crypto
from tests.status import wire
from tests.status.client import REGISTRATION_RESPONSE, StatusClient, parse_reply
from tests.status.conftest import StatusApp, serve_status, status_settings


async def test_identity_is_the_compressed_key_in_0x_hex(status_app: StatusApp) -> None:
    """status-http.md: `GET /status/v1/identity` → `{"public_key": "0x02…"}`, 33 bytes."""
    response = await status_app.http.get("/status/v1/identity")
    assert response.status_code == 200
    value = response.json()["public_key"]
    assert value.startswith(("0x02", "0x03")) and len(value) == 2 + 66
    assert bytes.fromhex(value[2:]) == status_app.service.server.identity.public_key


async def test_identity_survives_a_restart(tmp_path: Path) -> None:
    """§1.9: the identity is generated once and stored (sealed); a restart keeps it."""
    settings = status_settings(tmp_path)
    async with serve_status(settings) as first:
        key = await first.identity()
    async with serve_status(settings) as second:
        assert await second.identity() == key


async def test_registration_answers_with_the_signed_response_envelope(status_app: StatusApp) -> None:
    """status-http.md: 200 octet-stream, the type-17 envelope signed by the server."""
    server_key = await status_app.identity()
    response = await status_app.post(StatusClient().register(server_key))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    reply = parse_reply(response.content)
    assert (reply.type, reply.signer) == (REGISTRATION_RESPONSE, server_key)
    assert wire.first_int(reply.fields, 1) == 1


async def test_nothing_to_send_is_204(status_app: StatusApp) -> None:
    """status-http.md: 204 where status-go sends nothing (a request without message_id)."""
    response = await status_app.post(StatusClient().notify(b""))
    assert response.status_code == 204


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"\x08\x01"])
async def test_not_an_envelope_is_400_with_json_error(status_app: StatusApp, body: bytes) -> None:
    """status-http.md: not an ApplicationMetadataMessage / signature does not recover → 400 JSON."""
    response = await status_app.post(body)
    assert response.status_code == 400
    assert "error" in response.json()


async def test_unknown_type_is_400(status_app: StatusApp) -> None:
    """status-http.md: unknown type → 400."""
    response = await status_app.post(StatusClient().envelope(b"", 2))
    assert response.status_code == 400


async def test_other_content_type_is_415(status_app: StatusApp) -> None:
    """status-http.md: 415 for another content type."""
    response = await status_app.http.post(
        "/status/v1/messages", content=b"x", headers={"content-type": "application/json"}
    )
    assert response.status_code == 415


async def test_oversized_body_is_413(status_app: StatusApp) -> None:
    """status-http.md: 413 over the size limit (`status.max_message_bytes`), by Content-Length."""
    response = await status_app.post(b"\0" * 70_000)
    assert (response.status_code, response.json()) == (413, {"error": "envelope over 65536 bytes"})


async def test_streamed_body_over_the_envelope_limit_is_413(tmp_path: Path) -> None:
    """status-http.md: 413 also for a body sent without a length that grows past the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"\0" * 400

    async with serve_status(status_settings(tmp_path, max_message_bytes=1000)) as app:
        response = await app.http.post(
            "/status/v1/messages", content=chunks(), headers={"content-type": "application/octet-stream"}
        )
        assert "content-length" not in response.request.headers
        assert (response.status_code, response.json()) == (413, {"error": "envelope over 1000 bytes"})


async def test_content_type_parameters_are_ignored(status_app: StatusApp) -> None:
    """status-http.md: the media type is what counts; `; charset=…` and case do not."""
    envelope = StatusClient().register(await status_app.identity())
    response = await status_app.http.post(
        "/status/v1/messages", content=envelope, headers={"content-type": "Application/Octet-Stream; x=y"}
    )
    assert response.status_code == 200


async def test_other_methods_are_405(status_app: StatusApp) -> None:
    """status-http.md: messages are POSTed."""
    assert (await status_app.http.get("/status/v1/messages")).status_code == 405


async def test_requests_are_counted_by_route_template(status_app: StatusApp) -> None:
    """operations: request metrics carry the route template, like every other route's."""
    await status_app.post(StatusClient().notify(b""))
    metrics = (await status_app.http.get("/metrics")).text
    assert 'pushrelay_http_requests_total{route="/status/v1/messages",status="204"} 1.0' in metrics


async def test_store_rows_hold_no_secret_in_the_clear(status_app: StatusApp) -> None:
    """DESIGN principle 1: the SQL rows carry no device token, access token, key hash or identity."""
    import sqlalchemy as sa

    server_key = await status_app.identity()
    client = StatusClient()
    await status_app.post(client.register(server_key, device_token="SECRET-DEVICE-TOKEN"))
    dump = b""
    async with status_app.runtime.database.engine.connect() as conn:
        for table in ("status_registrations", "status_identity"):
            for row in await conn.execute(sa.text(f"SELECT * FROM {table}")):
                dump += b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    assert b"SECRET-DEVICE-TOKEN" not in dump
    assert b"b6ae4fde-bb65-11ea-b3de-0242ac130004" not in dump
    assert crypto.hash_public_key(client.public_key) not in dump
    assert status_app.service.server.identity.secret not in dump
