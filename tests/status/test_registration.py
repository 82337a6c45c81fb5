"""Registration (type 16): status-go's validation order, error mapping and versioning.

Cases ported from status-go `server_test.go: TestPushNotificationHandleRegistration`
(reference/status-gorush-sygnal.md §1.4, §1.10).
"""

from __future__ import annotations

import pytest

from pushrelay.domain import Platform
from pushrelay.protocols.status import crypto
from pushrelay.protocols.status.server import StatusServer
from pushrelay.secrets import Keyring
from pushrelay.store.status import REGISTRATION_LABEL
from tests.status import wire
from tests.status.client import (
    ACCESS_TOKEN,
    FIREBASE_TOKEN,
    MALFORMED,
    REGISTRATION,
    REGISTRATION_RESPONSE,
    UNKNOWN_TOKEN,
    VERSION_MISMATCH,
    StatusClient,
    aes_encrypt,
    parse_reply,
    shake256,
)
from tests.status.memory import MemoryRepository, RecordingPusher


async def register(server: StatusServer, client: StatusClient, **options: object) -> tuple[bool, int]:
    reply = await server.handle(client.register(server.identity.public_key, **options))
    assert reply is not None
    response = parse_reply(reply.message)
    assert response.type == REGISTRATION_RESPONSE
    return bool(wire.first_int(response.fields, 1)), wire.first_int(response.fields, 2)


async def send_payload(server: StatusServer, client: StatusClient, payload: bytes) -> tuple[bool, int]:
    reply = await server.handle(client.envelope(payload, REGISTRATION))
    assert reply is not None
    response = parse_reply(reply.message)
    return bool(wire.first_int(response.fields, 1)), wire.first_int(response.fields, 2)


async def test_valid_registration_succeeds(server: StatusServer, alice: StatusClient) -> None:
    """§1.4: a registration that validates is saved and answered with success."""
    assert await register(server, alice) == (True, 0)


async def test_response_is_signed_by_the_server_and_sent_to_the_sender(
    server: StatusServer, alice: StatusClient
) -> None:
    """§1.4: the type-17 reply goes to the sender, signed by the server's identity key."""
    reply = await server.handle(alice.register(server.identity.public_key))
    assert reply is not None
    assert alice.public_key == reply.recipient
    assert server.identity.public_key == parse_reply(reply.message).signer


async def test_request_id_is_shake256_of_the_encrypted_payload(
    server: StatusServer, alice: StatusClient
) -> None:
    """§1.4: request_id = SHAKE256(encrypted payload), what the client matches on."""
    payload = alice.registration_payload(server.identity.public_key)
    reply = await server.handle(alice.envelope(payload, REGISTRATION))
    assert reply is not None
    assert shake256(payload) == wire.first_bytes(parse_reply(reply.message).fields, 3)


async def test_request_id_is_set_on_failures_too(server: StatusServer, alice: StatusClient) -> None:
    """§1.4: request_id is always set."""
    reply = await server.handle(alice.envelope(b"too short", REGISTRATION))
    assert reply is not None
    assert shake256(b"too short") == wire.first_bytes(parse_reply(reply.message).fields, 3)


async def test_empty_payload_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 1 (`ErrEmptyPushNotificationRegistrationPayload`)."""
    assert await send_payload(server, alice, b"") == (False, MALFORMED)


async def test_too_short_ciphertext_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 2: fewer bytes than a nonce (status-go's "too short" case)."""
    assert await send_payload(server, alice, b"too short") == (False, MALFORMED)


async def test_ciphertext_under_the_wrong_key_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 2: status-go encrypts under a zero 32-byte key; decryption fails."""
    plaintext = wire.encode(alice.registration_fields(server.identity.public_key))
    assert await send_payload(server, alice, aes_encrypt(bytes(32), plaintext)) == (False, MALFORMED)


async def test_non_protobuf_plaintext_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 3 (`ErrCouldNotUnmarshalPushNotificationRegistration`)."""
    assert await register(server, alice, plaintext=b"\x0a\xff not protobuf") == (False, MALFORMED)


@pytest.mark.parametrize("installation_id", ["", "not-a-uuid", "c6ae4fde-bb65-11ea-b3de-0242ac13000"])
async def test_missing_or_malformed_installation_id_is_malformed(
    server: StatusServer, alice: StatusClient, installation_id: str
) -> None:
    """§1.4 step 5: the installation id must parse as a UUID."""
    assert await register(server, alice, installation_id=installation_id) == (False, MALFORMED)


async def test_version_0_is_a_version_mismatch(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 4: versions start at 1; below is `ErrInvalid…Version` → VERSION_MISMATCH."""
    assert await register(server, alice, version=0) == (False, VERSION_MISMATCH)


async def test_version_not_increasing_is_a_version_mismatch(
    server: StatusServer, alice: StatusClient
) -> None:
    """§1.4 step 6: a version at or below the stored one is refused."""
    assert await register(server, alice, version=2) == (True, 0)
    assert await register(server, alice, version=2) == (False, VERSION_MISMATCH)
    assert await register(server, alice, version=1) == (False, VERSION_MISMATCH)
    assert await register(server, alice, version=3) == (True, 0)


async def test_versions_are_per_installation(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 6: the version is kept per (hashed key, installation id)."""
    assert await register(server, alice, version=5) == (True, 0)
    other = "d6ae4fde-bb65-11ea-b3de-0242ac130004"
    assert await register(server, alice, version=1, installation_id=other) == (True, 0)


async def test_version_check_comes_before_field_checks(server: StatusServer, alice: StatusClient) -> None:
    """§1.4: status-go checks the version (step 6) before the token and grant (step 8)."""
    assert await register(server, alice, version=2) == (True, 0)
    assert await register(server, alice, version=1, access_token="") == (False, VERSION_MISMATCH)


async def test_missing_access_token_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: the access token must parse as a UUID."""
    assert await register(server, alice, access_token="") == (False, MALFORMED)


async def test_missing_grant_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: a grant is required."""
    assert await register(server, alice, grant=b"") == (False, MALFORMED)


async def test_grant_for_another_server_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: the grant must be over this server's key."""
    grant = alice.grant(crypto.Identity.generate().public_key, ACCESS_TOKEN)
    assert await register(server, alice, grant=grant) == (False, MALFORMED)


async def test_grant_signed_by_someone_else_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: the grant must recover to the sender."""
    grant = StatusClient().grant(server.identity.public_key, ACCESS_TOKEN)
    assert await register(server, alice, grant=grant) == (False, MALFORMED)


async def test_missing_device_token_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: a device token is required."""
    assert await register(server, alice, device_token="") == (False, MALFORMED)


async def test_unknown_token_type_is_malformed(server: StatusServer, alice: StatusClient) -> None:
    """§1.4 step 8: status-go answers MALFORMED, never UNSUPPORTED_TOKEN_TYPE."""
    assert await register(server, alice, token_type=UNKNOWN_TOKEN) == (False, MALFORMED)


async def test_unregister_keeps_the_version(server: StatusServer, alice: StatusClient) -> None:
    """§1.4: an unregister needs no token or grant, saves no registration, and keeps its version."""
    assert await register(server, alice, version=1) == (True, 0)
    assert await register(server, alice, version=2, unregister=True, access_token="", grant=b"") == (True, 0)
    assert await register(server, alice, version=2) == (False, VERSION_MISMATCH)
    assert await server.registry.find_many([crypto.hash_public_key(alice.public_key)]) == []
    assert await register(server, alice, version=3) == (True, 0)


async def test_successful_registration_asks_to_listen_on_the_query_topic(
    server: StatusServer, alice: StatusClient
) -> None:
    """§1.4: on success the server joins the query topic of HashPublicKey(sender)."""
    reply = await server.handle(alice.register(server.identity.public_key))
    assert reply is not None
    assert crypto.hash_public_key(alice.public_key) == reply.listen_to


async def test_registered_device_token_is_revived_and_a_refused_or_unregister_one_is_not(
    server: StatusServer, alice: StatusClient, pusher: RecordingPusher
) -> None:
    """docs/status.md divergence 2: a token registered again is pushed again even if a provider
    called it dead; a replayed (refused) registration or an unregister revives nothing."""
    envelope = alice.register(server.identity.public_key, version=1, device_token="t1")
    assert (await server.handle(envelope)) is not None
    assert await register(server, alice, version=2, token_type=FIREBASE_TOKEN, device_token="t2") == (True, 0)
    await server.handle(envelope)  # replayed: VERSION_MISMATCH
    assert await register(server, alice, version=3, unregister=True, access_token="", grant=b"") == (True, 0)
    assert pusher.revived == [(Platform.APNS, "t1"), (Platform.FCM, "t2")]


async def test_stored_registration_holds_no_token_in_the_clear(
    server: StatusServer, alice: StatusClient, repository: MemoryRepository
) -> None:
    """DESIGN principle 1: device and access tokens, and the key, are sealed or hashed at rest."""
    await register(server, alice, device_token="DEVICE-TOKEN-123")
    stored = repr(repository.rows).encode()
    for secret in (b"DEVICE-TOKEN-123", ACCESS_TOKEN.encode(), crypto.hash_public_key(alice.public_key)):
        assert secret not in stored
        assert all(secret not in bytes(v) for row in repository.rows.values() for v in _blobs(row))


async def test_contacts_only_registration_keeps_only_the_token_hash(
    server: StatusServer,
    alice: StatusClient,
    bob: StatusClient,
    repository: MemoryRepository,
    keyring: Keyring,
) -> None:
    """§1.5 + DESIGN principle 1: a token never returned by queries is kept only as a keyed hash."""
    assert await register(server, alice, contacts=[bob.public_key]) == (True, 0)
    (row,) = repository.rows.values()
    assert row.sealed_registration is not None
    assert ACCESS_TOKEN.encode() not in keyring.open(REGISTRATION_LABEL, row.sealed_registration)
    assert row.access_token_ref is not None


async def test_identity_is_generated_once_and_stored_sealed(
    repository: MemoryRepository, keyring: Keyring
) -> None:
    """§1.9: the identity is generated on first start, then reused; sealed with the keyring."""
    from pushrelay.protocols.status.server import load_identity

    first = await load_identity(repository, keyring)
    assert repository.identity is not None and first.secret not in repository.identity
    assert first.public_key == (await load_identity(repository, keyring)).public_key


def _blobs(row: object) -> list[bytes]:
    return [value for value in vars_of(row) if isinstance(value, bytes)]


def vars_of(row: object) -> list[object]:
    return [getattr(row, name) for name in row.__slots__]  # type: ignore[attr-defined]
