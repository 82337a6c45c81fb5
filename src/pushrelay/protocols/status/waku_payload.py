"""The Waku payload layers status-go wraps its messages in, and the topics it uses.

reference/status-gorush-sygnal.md §1.7, and go-waku's `waku/v2/payload/waku_payload.go` (payload
version 1) with go-ethereum's `crypto/ecies` that status-go vendors:

* the plaintext is `flags(1) || size(1-4, little endian) || data || padding [|| signature(65)]`;
  `flags & 3` is the width of the size field, `flags & 4` says signed; the signature is over
  Keccak-256 of everything before it; padding makes the unsigned part plus the signature a
  multiple of 256 bytes;
* symmetric (public chats): AES-256-GCM with the 12-byte nonce at the *end*, `ct || tag || nonce`;
* asymmetric (private): ECIES on secp256k1 with AES-128-CTR and HMAC-SHA-256, the keys from
  NIST SP 800-56 concatenation KDF over SHA-256: `R(65) || iv(16) || ct || tag(32)`.

A content topic is `/waku/1/0x<Keccak256(name)[:4]>/rfc26`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pushrelay.protocols.status import crypto

PADDING_BLOCK = 256
SIGNED_FLAG = 4
SIZE_MASK = 3
PARTITIONS = 5000
DISCOVERY = "contact-discovery"
_ECIES_OVERHEAD = 65 + 16 + 32


@dataclass(frozen=True, slots=True)
class Unwrapped:
    data: bytes
    signer: bytes | None
    """The compressed key that signed the payload, if it was signed."""


def content_topic(name: str) -> str:
    return "/waku/1/0x" + crypto.keccak256(name.encode())[:4].hex() + "/rfc26"


def personal_topic(public_key: bytes) -> str:
    """Where a client sends a registration: `contact-discovery-<hex(uncompressed key)>`."""
    return content_topic(f"{DISCOVERY}-{crypto.uncompress(public_key).hex()}")


def partitioned_topic(public_key: bytes) -> str:
    """Where private messages to a key go: `contact-discovery-<X mod 5000>`."""
    x = int.from_bytes(crypto.uncompress(public_key)[1:33], "big")
    return content_topic(f"{DISCOVERY}-{x % PARTITIONS}")


def query_chat_name(hashed_key: bytes) -> str:
    """The public chat queries for a key go to: lowercase hex of its hash, no `0x` (§1.7)."""
    return hashed_key.hex()


def wrap(data: bytes, signer: crypto.Identity | None) -> bytes:
    """The version-1 plaintext around `data`, signed if a signer is given."""
    size = len(data).to_bytes(4, "little").rstrip(b"\0") or b"\0"
    head = bytes([len(size)]) + size + data
    raw_size = len(head) + (crypto.SIGNATURE_BYTES if signer else 0)
    padded = head + os.urandom(PADDING_BLOCK - raw_size % PADDING_BLOCK)
    if signer is None:
        return padded
    flagged = bytes([padded[0] | SIGNED_FLAG]) + padded[1:]
    return flagged + signer.sign(crypto.keccak256(flagged))


def unwrap(plaintext: bytes) -> Unwrapped:
    """Reverse `wrap`: raises CryptoError on a malformed payload or a signature that does not recover."""
    if not plaintext:
        raise crypto.CryptoError("empty payload")
    end, signer = len(plaintext), None
    if plaintext[0] & SIGNED_FLAG:
        end -= crypto.SIGNATURE_BYTES
        if end <= 1:
            raise crypto.CryptoError("payload too short for its signature")
        signer = crypto.recover(crypto.keccak256(plaintext[:end]), plaintext[end:])
    width = plaintext[0] & SIZE_MASK
    if width == 0:
        return Unwrapped(b"", signer)
    if end < 1 + width:
        raise crypto.CryptoError("payload too short for its size field")
    size = int.from_bytes(plaintext[1 : 1 + width], "little")
    if 1 + width + size > end:
        raise crypto.CryptoError("payload shorter than its size field says")
    return Unwrapped(plaintext[1 + width : 1 + width + size], signer)


def encrypt_symmetric(key: bytes, plaintext: bytes) -> bytes:
    nonce = os.urandom(crypto.NONCE_BYTES)
    return AESGCM(key).encrypt(nonce, plaintext, None) + nonce


def decrypt_symmetric(key: bytes, payload: bytes) -> bytes:
    if len(payload) < crypto.NONCE_BYTES:
        raise crypto.CryptoError("symmetric payload shorter than its nonce")
    try:
        return AESGCM(key).decrypt(payload[-crypto.NONCE_BYTES :], payload[: -crypto.NONCE_BYTES], None)
    except InvalidTag as exc:
        raise crypto.CryptoError("symmetric payload does not authenticate") from exc


def encrypt_asymmetric(recipient: bytes, plaintext: bytes) -> bytes:
    ephemeral = crypto.Identity.generate()
    encryption_key, mac_key = _ecies_keys(ephemeral.shared_key(recipient))
    iv = os.urandom(16)
    body = iv + _aes_ctr(encryption_key, iv, plaintext)
    return ephemeral.uncompressed + body + hmac.new(mac_key, body, hashlib.sha256).digest()


def decrypt_asymmetric(identity: crypto.Identity, payload: bytes) -> bytes:
    if len(payload) < _ECIES_OVERHEAD or payload[0] != 4:
        raise crypto.CryptoError("not an ECIES message")
    encryption_key, mac_key = _ecies_keys(identity.shared_key(payload[:65]))
    body, tag = payload[65:-32], payload[-32:]
    if not hmac.compare_digest(tag, hmac.new(mac_key, body, hashlib.sha256).digest()):
        raise crypto.CryptoError("ECIES tag does not match")
    return _aes_ctr(encryption_key, body[:16], body[16:])


def _ecies_keys(shared_x: bytes) -> tuple[bytes, bytes]:
    """go-ethereum `deriveKeys` for ECIES_AES128_SHA256: concat KDF, then Km = SHA-256(Km)."""
    derived = hashlib.sha256(b"\0\0\0\1" + shared_x).digest()
    return derived[:16], hashlib.sha256(derived[16:32]).digest()


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    context = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return context.update(data) + context.finalize()
