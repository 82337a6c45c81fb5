"""The cryptographic primitives of the Status push notification protocol, exactly as status-go uses them.

reference/status-gorush-sygnal.md §1.3:

* keys are secp256k1; `compress` gives the 33-byte SEC1 form, `uncompress` the 65-byte one;
* Keccak-256 is Ethereum's legacy Keccak, not SHA3-256;
* signatures are 65 bytes `R || S || V` with V in {0, 1}, over a Keccak-256 digest, and are
  verified by recovering the signer's key and comparing it;
* the ECDH shared key is the raw X coordinate of the shared point (no KDF), 32 bytes, used
  as an AES-256-GCM key with the layout `nonce(12) || ciphertext || tag(16)` and no AAD;
* public keys and chat ids are identified by SHAKE-256 with 64 bytes of output;
* a grant is `Sign(Keccak256(compress(client) || compress(server) || access_token))`.
"""

from __future__ import annotations

import hashlib
import os

import coincurve
from Crypto.Hash import keccak
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pushrelay.errors import BadRequest

SIGNATURE_BYTES = 65
NONCE_BYTES = 12
TAG_BYTES = 16
HASH_BYTES = 64
PUBLIC_QUERY_ITERATIONS = 65356
"""status-go's PBKDF2 iteration count for public-chat keys (sic: 65356, not 65536)."""


class CryptoError(BadRequest):
    """A signature, key or ciphertext that does not verify or decode."""


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def shake256(data: bytes) -> bytes:
    """status-go's `Shake256`: 64 bytes of SHAKE-256 output."""
    return hashlib.shake_256(data).digest(HASH_BYTES)


def compress(public_key: bytes) -> bytes:
    """Any SEC1 encoding (33 or 65 bytes) to the 33-byte compressed one."""
    return _parse_public_key(public_key).format(compressed=True)


def uncompress(public_key: bytes) -> bytes:
    """Any SEC1 encoding to the 65-byte `0x04 || X || Y` form."""
    return _parse_public_key(public_key).format(compressed=False)


def hash_public_key(public_key: bytes) -> bytes:
    """status-go's `HashPublicKey`: SHAKE-256 (64 bytes) of the compressed key."""
    return shake256(compress(public_key))


def hash_chat_id(chat_id: str) -> bytes:
    """How clients hash chat ids into block, mute and mention lists (§1.4 step 3)."""
    return shake256(chat_id.encode())


def recover(digest: bytes, signature: bytes) -> bytes:
    """The compressed public key that made `signature` over the 32-byte `digest`."""
    return _recover(digest, signature).format(compressed=True)


def recover_both(digest: bytes, signature: bytes) -> tuple[bytes, bytes]:
    """`recover`, plus the same key uncompressed (65 bytes), without parsing it a second time."""
    key = _recover(digest, signature)
    return key.format(compressed=True), key.format(compressed=False)


def _recover(digest: bytes, signature: bytes) -> coincurve.PublicKey:
    """libsecp256k1's `secp256k1_ecdsa_recover` through coincurve, on the digest as given (no hasher)."""
    if len(signature) != SIGNATURE_BYTES or signature[64] > 1:
        raise CryptoError("a signature is 65 bytes R || S || V with V in {0, 1}")
    try:
        return coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except ValueError as exc:
        raise CryptoError("signature does not recover a public key") from exc


def is_signed_by(digest: bytes, signature: bytes, public_key: bytes) -> bool:
    """Recover-and-compare, as status-go verifies signatures."""
    try:
        return recover(digest, signature) == compress(public_key)
    except CryptoError:
        return False


def grant_digest(client_key: bytes, server_key: bytes, access_token: str) -> bytes:
    """What a grant signs: Keccak256(compress(client) || compress(server) || token)."""
    return keccak256(compress(client_key) + compress(server_key) + access_token.encode())


def encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-256-GCM, status-go's layout: `nonce(12) || ciphertext || tag(16)`."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, None)


def decrypt(key: bytes, data: bytes) -> bytes:
    if len(data) < NONCE_BYTES:
        raise CryptoError("ciphertext is shorter than its nonce")
    try:
        return AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
    except InvalidTag as exc:
        raise CryptoError("ciphertext does not authenticate under this key") from exc


def public_query_key(chat_name: str) -> bytes:
    """The symmetric Waku key of a public chat: PBKDF2-HMAC-SHA256(name, no salt, 65356, 32)."""
    return hashlib.pbkdf2_hmac("sha256", chat_name.encode(), b"", PUBLIC_QUERY_ITERATIONS, 32)


def _parse_public_key(public_key: bytes) -> coincurve.PublicKey:
    try:
        return coincurve.PublicKey(public_key)
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a secp256k1 public key") from exc


class Identity:
    """A secp256k1 key pair: the server's identity, or a client's in tests and benchmarks."""

    __slots__ = ("_key", "public_key", "uncompressed")

    def __init__(self, secret: bytes) -> None:
        try:
            self._key = coincurve.PrivateKey(secret)
        except ValueError as exc:
            raise CryptoError("not a secp256k1 private key") from exc
        self.public_key = self._key.public_key.format(compressed=True)
        self.uncompressed = self._key.public_key.format(compressed=False)

    def __repr__(self) -> str:
        return f"Identity(public_key=0x{self.public_key.hex()})"

    @classmethod
    def generate(cls) -> Identity:
        return cls(coincurve.PrivateKey().secret)

    @property
    def secret(self) -> bytes:
        return bytes(self._key.secret)

    def sign(self, digest: bytes) -> bytes:
        """65-byte `R || S || V` over a 32-byte digest (RFC 6979 nonces, so deterministic)."""
        return self._key.sign_recoverable(digest, hasher=None)

    def shared_key(self, peer_public_key: bytes) -> bytes:
        """ECDH as status-go's `GenerateShared(pub, 16, 16)`: the shared point's X, 32 bytes."""
        point = _parse_public_key(peer_public_key).multiply(self.secret)
        return point.format(compressed=False)[1:33]
