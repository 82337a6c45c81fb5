"""A Status client for tests and benchmarks, written apart from the server's code.

It does what status-go's `pushnotificationclient/client.go` does (reference/status-gorush-sygnal.md
§1.4-§1.6) with its own primitives: ECDH through `cryptography` (the server uses coincurve's
point multiplication), its own protobuf encoding (`wire.py`), its own grant and token
encryption. Signing uses coincurve, the library status-go's libsecp256k1 also is.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field

import coincurve
from Crypto.Hash import keccak
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.status import wire

# ApplicationMetadataMessage.Type
REGISTRATION, REGISTRATION_RESPONSE, QUERY, QUERY_RESPONSE, REQUEST, RESPONSE = 16, 17, 18, 19, 20, 21
# PushNotificationRegistration.TokenType
UNKNOWN_TOKEN, APN_TOKEN, FIREBASE_TOKEN = 0, 1, 2
# PushNotification.PushNotificationType
UNKNOWN_TYPE, MESSAGE, MENTION, REQUEST_TO_JOIN = 0, 1, 2, 3
# PushNotificationRegistrationResponse.ErrorType
NO_ERROR, MALFORMED, VERSION_MISMATCH, UNSUPPORTED_TOKEN_TYPE, INTERNAL = 0, 1, 2, 3, 4
# PushNotificationReport.ErrorType
REPORT_UNKNOWN, WRONG_TOKEN, REPORT_INTERNAL, NOT_REGISTERED = 0, 1, 2, 3

ACCESS_TOKEN = "b6ae4fde-bb65-11ea-b3de-0242ac130004"  # status-go server_test.go
INSTALLATION_ID = "c6ae4fde-bb65-11ea-b3de-0242ac130004"


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def shake256(data: bytes) -> bytes:
    return hashlib.shake_256(data).digest(64)


def compressed(public_key: bytes) -> bytes:
    return coincurve.PublicKey(public_key).format(compressed=True)


def hashed_key(public_key: bytes) -> bytes:
    """status-go `HashPublicKey`."""
    return shake256(compressed(public_key))


def hashed_chat(chat_id: str) -> bytes:
    return shake256(chat_id.encode())


def aes_encrypt(key: bytes, plaintext: bytes, nonce: bytes | None = None) -> bytes:
    nonce = os.urandom(12) if nonce is None else nonce
    return nonce + AESGCM(key).encrypt(nonce, plaintext, None)


def aes_decrypt(key: bytes, data: bytes) -> bytes:
    return AESGCM(key).decrypt(data[:12], data[12:], None)


@dataclass
class Reply:
    type: int
    signer: bytes
    """The compressed key that signed the reply's envelope."""
    fields: dict[int, list[int | bytes]]


@dataclass
class Notification:
    """One `PushNotification` item of a request."""

    target: bytes
    """The compressed public key of the user to notify."""
    access_token: str = ACCESS_TOKEN
    installation_id: str = INSTALLATION_ID
    chat_id: str = "chat"
    type: int = MESSAGE
    author: bytes = b""
    message: bytes = b""
    extra: list[wire.Field] = field(default_factory=list)


class StatusClient:
    """One Status identity: registers, queries and notifies like status-go's client."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.key = coincurve.PrivateKey(secret) if secret else coincurve.PrivateKey()
        self.public_key = self.key.public_key.format(compressed=True)
        self.uncompressed = self.key.public_key.format(compressed=False)
        self._ecdh_key: ec.EllipticCurvePrivateKey | None = None

    def shared_key(self, peer_public_key: bytes) -> bytes:
        """ECDH, x coordinate only, through `cryptography` (§1.3)."""
        if (
            self._ecdh_key is None
        ):  # derived on first use: it costs a millisecond, and most keys never need it
            self._ecdh_key = ec.derive_private_key(int.from_bytes(self.key.secret, "big"), ec.SECP256K1())
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), peer_public_key)
        return self._ecdh_key.exchange(ec.ECDH(), peer)

    def sign(self, digest: bytes) -> bytes:
        return self.key.sign_recoverable(digest, hasher=None)

    def envelope(self, payload: bytes, message_type: int) -> bytes:
        signature = self.sign(keccak256(payload))
        return wire.encode([(1, signature), (2, payload), (3, message_type)])

    def message_id(self, envelope: bytes) -> bytes:
        return keccak256(self.uncompressed + envelope)

    def grant(self, server_key: bytes, access_token: str) -> bytes:
        material = compressed(self.public_key) + compressed(server_key) + access_token.encode()
        return self.sign(keccak256(material))

    def registration_payload(self, server_key: bytes, **options: object) -> bytes:
        """The encrypted registration payload; `options` override fields (see `registration_fields`)."""
        plaintext = options.pop("plaintext", None)
        if plaintext is None:
            plaintext = wire.encode(self.registration_fields(server_key, **options))
        assert isinstance(plaintext, bytes)
        return aes_encrypt(self.shared_key(server_key), plaintext)

    def registration_fields(
        self,
        server_key: bytes,
        *,
        version: int = 1,
        installation_id: str = INSTALLATION_ID,
        access_token: str = ACCESS_TOKEN,
        device_token: str = "device-token",
        token_type: int = APN_TOKEN,
        apn_topic: str = "im.status.ethereum",
        grant: bytes | None = None,
        unregister: bool = False,
        contacts: list[bytes] | None = None,
        blocked_chats: list[bytes] | None = None,
        muted_chats: list[bytes] | None = None,
        mention_chats: list[bytes] | None = None,
        block_mentions: bool = False,
    ) -> list[wire.Field]:
        grant = self.grant(server_key, access_token) if grant is None else grant
        fields: list[wire.Field] = [
            (1, token_type),
            (2, device_token),
            (3, installation_id),
            (4, access_token),
            (5, 1),
            (6, version),
            *[(7, self.encrypted_token(contact, access_token)) for contact in contacts or []],
            *[(8, chat) for chat in blocked_chats or []],
            (9, int(unregister)),
            (10, grant),
            (11, int(contacts is not None)),
            (12, apn_topic),
            (13, int(block_mentions)),
            *[(14, chat) for chat in mention_chats or []],
            *[(15, chat) for chat in muted_chats or []],
        ]
        return [(number, value) for number, value in fields if value not in (0, "", b"")]

    def register(self, server_key: bytes, **options: object) -> bytes:
        return self.envelope(self.registration_payload(server_key, **options), REGISTRATION)

    def encrypted_token(self, contact_key: bytes, access_token: str) -> bytes:
        """An `allowed_key_list` entry: the token under ECDH(self, contact) (§1.5)."""
        return aes_encrypt(self.shared_key(contact_key), access_token.encode())

    def token_from_allowed_keys(self, registering_key: bytes, entries: list[bytes]) -> str | None:
        key = self.shared_key(registering_key)
        for entry in entries:
            try:
                return aes_decrypt(key, entry).decode()
            except Exception:
                continue
        return None

    def query(self, *target_keys: bytes) -> bytes:
        payload = wire.encode([(1, hashed_key(key)) for key in target_keys])
        return self.envelope(payload, QUERY)

    def notify(self, message_id: bytes, *items: Notification) -> bytes:
        encoded = [(1, self.notification(item)) for item in items]
        fields: list[wire.Field] = [*encoded, (2, message_id)] if message_id else encoded
        return self.envelope(wire.encode(fields), REQUEST)

    def notification(self, item: Notification) -> bytes:
        fields: list[wire.Field] = [
            (1, item.access_token),
            (2, hashed_chat(item.chat_id)),
            (3, hashed_key(item.target)),
            (4, item.installation_id),
            (5, item.message),
            (6, item.type),
            (7, item.author),
            *item.extra,
        ]
        return wire.encode([(number, value) for number, value in fields if value not in (0, "", b"")])


def verify_grant(client_key: bytes, server_key: bytes, access_token: str, grant: bytes) -> bool:
    """status-go `handleGrant`: the grant recovers to the registering client's key."""
    digest = keccak256(compressed(client_key) + compressed(server_key) + access_token.encode())
    recovered = coincurve.PublicKey.from_signature_and_message(grant, digest, hasher=None)
    return recovered.format(compressed=True) == compressed(client_key)


def parse_reply(data: bytes) -> Reply:
    """Open a reply envelope and recover who signed it."""
    fields = wire.decode(data)
    signature, payload = wire.first_bytes(fields, 1), wire.first_bytes(fields, 2)
    signer = coincurve.PublicKey.from_signature_and_message(signature, keccak256(payload), hasher=None)
    return Reply(wire.first_int(fields, 3), signer.format(compressed=True), wire.decode(payload))


def new_installation_id() -> str:
    return str(uuid.uuid4())
