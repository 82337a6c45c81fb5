"""The envelope every message arrives in: parsing, sender recovery, types the server ignores."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushrelay.errors import BadRequest
from pushrelay.protocols.status.envelope import unwrap
from pushrelay.protocols.status.server import StatusServer
from tests.status import wire
from tests.status.client import StatusClient


def test_sender_is_the_key_the_signature_recovers() -> None:
    """§1.1: the sender is recovered from the signature over Keccak256(payload)."""
    client = StatusClient()
    envelope = unwrap(client.envelope(b"payload", 18))
    assert (envelope.sender, envelope.type, envelope.payload) == (client.public_key, 18, b"payload")
    assert envelope.message_id == client.message_id(client.envelope(b"payload", 18))


def test_signature_over_another_payload_recovers_another_key() -> None:
    """§1.1: a tampered payload no longer recovers to the signer."""
    client = StatusClient()
    fields = wire.decode(client.envelope(b"payload", 18))
    forged = wire.encode([(1, wire.first_bytes(fields, 1)), (2, b"tampered"), (3, 18)])
    assert unwrap(forged).sender != client.public_key


@pytest.mark.parametrize("data", [b"", b"\xff\xff", wire.encode([(2, b"payload"), (3, 16)])])
def test_unsigned_or_unparsable_envelope_is_a_bad_request(data: bytes) -> None:
    """status-http.md: not an ApplicationMetadataMessage, or no recoverable signature → 400."""
    with pytest.raises(BadRequest):
        unwrap(data)


async def test_unknown_type_is_a_bad_request(server: StatusServer) -> None:
    """status-http.md: an unknown type is refused."""
    with pytest.raises(BadRequest):
        await server.handle(StatusClient().envelope(b"", 1))


@pytest.mark.parametrize("kind", [15, 17, 19, 21])
async def test_types_a_server_does_not_answer_get_no_reply(server: StatusServer, kind: int) -> None:
    """§1.1: advertisements and responses are not for the server; status-go sends nothing."""
    assert await server.handle(StatusClient().envelope(b"", kind)) is None


async def test_oversized_envelope_is_a_bad_request(server: StatusServer) -> None:
    """DESIGN principle 3: envelopes over `max_message_bytes` are refused."""
    with pytest.raises(BadRequest):
        await server.handle(StatusClient().envelope(b"x" * 70_000, 18))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_unwrap_or_raise_bad_request(data: bytes) -> None:
    """R15: hostile input never escapes as anything but BadRequest."""
    with contextlib.suppress(BadRequest):
        unwrap(data)
