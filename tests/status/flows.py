"""The client side of a full flow over the HTTP binding, as status-go's clients run it (§1.4-§1.6)."""

from __future__ import annotations

from tests.status import received, wire
from tests.status.client import (
    QUERY_RESPONSE,
    RESPONSE,
    Notification,
    StatusClient,
    new_installation_id,
    parse_reply,
    verify_grant,
)
from tests.status.conftest import STATUS_APN_TOPIC, StatusApp


async def register(app: StatusApp, client: StatusClient, **options: object) -> None:
    response = await app.post(client.register(await app.identity(), **options))
    assert wire.first_int(parse_reply(response.content).fields, 1) == 1, "registration refused"


async def query_token(app: StatusApp, target: StatusClient) -> tuple[str, str]:
    """What a sender's client does before notifying: query, verify the grant, take the token."""
    querier = StatusClient()  # status-go queries from an ephemeral key
    response = await app.post(querier.query(target.public_key))
    reply = parse_reply(response.content)
    assert reply.type == QUERY_RESPONSE
    (raw,) = wire.all_bytes(reply.fields, 1)
    info = wire.decode(raw)
    token = wire.first_bytes(info, 1).decode()
    assert verify_grant(target.public_key, reply.signer, token, wire.first_bytes(info, 5))
    return token, wire.first_bytes(info, 2).decode()


async def notify(app: StatusApp, *items: Notification) -> list[tuple[bool, int]]:
    sender = StatusClient()  # status-go notifies from an ephemeral key
    response = await app.post(sender.notify(b"m" * 32, *items))
    assert response.status_code == 200
    reply = parse_reply(response.content)
    assert reply.type == RESPONSE
    reports = [wire.decode(raw) for raw in wire.all_bytes(reply.fields, 2)]
    return [(bool(wire.first_int(r, 1)), wire.first_int(r, 2)) for r in reports]


async def register_query_notify(app: StatusApp, token_type: int, device_token: str) -> StatusClient:
    """§1.4-§1.6 as two status-go clients do it: Alice registers, a sender queries and notifies her
    once of each type (MESSAGE, MENTION in a chat she allows mentions from, REQUEST_TO_JOIN)."""
    alice, installation = StatusClient(), new_installation_id()
    await register(
        app,
        alice,
        token_type=token_type,
        device_token=device_token,
        installation_id=installation,
        apn_topic=STATUS_APN_TOPIC,
        mention_chats=received.MENTION_CHATS,
    )
    token, installation_seen = await query_token(app, alice)
    assert installation_seen == installation
    items = received.one_of_each_type(alice.public_key, access_token=token, installation_id=installation)
    assert await notify(app, *items) == [(True, 0)] * 3
    return alice
