"""Query (type 18): what a server reveals about a registered key, and how a client checks it.

reference/status-gorush-sygnal.md §1.5, §1.7; status-go `buildPushNotificationQueryResponse`
and `TestPushNotificationHandleQuery*` (a query for an unknown and a known key returns one info).
"""

from __future__ import annotations

import pytest

from pushrelay.errors import BadRequest
from pushrelay.protocols.status.server import StatusServer
from tests.status import wire
from tests.status.client import (
    ACCESS_TOKEN,
    INSTALLATION_ID,
    QUERY,
    QUERY_RESPONSE,
    Reply,
    StatusClient,
    hashed_key,
    parse_reply,
    verify_grant,
)


async def registered(server: StatusServer, client: StatusClient, **options: object) -> None:
    reply = await server.handle(client.register(server.identity.public_key, **options))
    assert reply is not None
    assert wire.first_int(parse_reply(reply.message).fields, 1) == 1


async def ask(server: StatusServer, querier: StatusClient, envelope: bytes) -> Reply:
    reply = await server.handle(envelope)
    assert reply is not None
    assert reply.recipient == querier.public_key
    response = parse_reply(reply.message)
    assert response.type == QUERY_RESPONSE
    return response


async def test_query_for_unknown_and_known_keys_returns_one_info(
    server: StatusServer, alice: StatusClient, bob: StatusClient
) -> None:
    """§1.10: `["non-existing", hashedPK]` returns the one registration, with success."""
    await registered(server, alice, version=3)
    envelope = bob.envelope(wire.encode([(1, b"non-existing"), (1, hashed_key(alice.public_key))]), QUERY)
    response = await ask(server, bob, envelope)
    assert wire.first_int(response.fields, 3) == 1
    (info,) = [wire.decode(raw) for raw in wire.all_bytes(response.fields, 1)]
    assert wire.first_bytes(info, 1).decode() == ACCESS_TOKEN
    assert wire.first_bytes(info, 2).decode() == INSTALLATION_ID
    assert wire.first_bytes(info, 3) == hashed_key(alice.public_key)
    assert wire.first_int(info, 6) == 3
    assert wire.first_bytes(info, 7) == b""  # status-go's server never fills server_public_key


async def test_query_response_echoes_the_query_message_id(server: StatusServer, bob: StatusClient) -> None:
    """§1.7: message_id = Keccak256(uncompressed sender || envelope) of the query."""
    envelope = bob.query(StatusClient().public_key)
    response = await ask(server, bob, envelope)
    assert wire.first_bytes(response.fields, 2) == bob.message_id(envelope)


async def test_query_for_unknown_keys_succeeds_with_no_info(server: StatusServer, bob: StatusClient) -> None:
    """§1.7: success means the lookup worked, even with zero matches."""
    response = await ask(server, bob, bob.query(StatusClient().public_key))
    assert wire.first_int(response.fields, 3) == 1
    assert wire.all_bytes(response.fields, 1) == []


async def test_empty_query_is_answered_without_success(server: StatusServer, bob: StatusClient) -> None:
    """§1.7: an empty query gets `success = false`, still sent."""
    response = await ask(server, bob, bob.envelope(b"", QUERY))
    assert wire.first_int(response.fields, 3) == 0


async def test_grant_lets_the_querying_client_verify_the_server(
    server: StatusServer, alice: StatusClient, bob: StatusClient
) -> None:
    """§1.5: the client checks the grant against the responding server's key."""
    await registered(server, alice)
    response = await ask(server, bob, bob.query(alice.public_key))
    (info,) = [wire.decode(raw) for raw in wire.all_bytes(response.fields, 1)]
    token, grant = wire.first_bytes(info, 1).decode(), wire.first_bytes(info, 5)
    assert verify_grant(alice.public_key, response.signer, token, grant)
    assert response.signer == server.identity.public_key


async def test_contacts_only_query_returns_the_allowed_key_list_and_no_token(
    server: StatusServer, alice: StatusClient, bob: StatusClient
) -> None:
    """§1.5: contacts-only registrations answer with the opaque list; a contact decrypts its entry."""
    await registered(server, alice, contacts=[StatusClient().public_key, bob.public_key])
    response = await ask(server, bob, bob.query(alice.public_key))
    (info,) = [wire.decode(raw) for raw in wire.all_bytes(response.fields, 1)]
    assert wire.first_bytes(info, 1) == b""
    entries = wire.all_bytes(info, 4)
    assert len(entries) == 2
    assert bob.token_from_allowed_keys(alice.public_key, entries) == ACCESS_TOKEN
    assert StatusClient().token_from_allowed_keys(alice.public_key, entries) is None


async def test_unregistered_keys_are_not_returned(
    server: StatusServer, alice: StatusClient, bob: StatusClient
) -> None:
    """§1.7: only rows with a non-NULL registration are answered."""
    await registered(server, alice, version=1)
    await registered(server, alice, version=2, unregister=True, access_token="", grant=b"")
    response = await ask(server, bob, bob.query(alice.public_key))
    assert wire.all_bytes(response.fields, 1) == []


async def test_query_that_is_not_protobuf_is_a_bad_request(server: StatusServer, bob: StatusClient) -> None:
    """§1.7: an unparsable query is dropped by status-go; the core raises BadRequest."""
    with pytest.raises(BadRequest):
        await server.handle(bob.envelope(b"\x0a\xff", QUERY))
