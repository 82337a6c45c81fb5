"""The Waku layers as a Status client applies them, written apart from the server's `waku_payload`.

go-waku `payload/waku_payload.go` (version 1) and go-ethereum `crypto/ecies` (secp256k1,
AES-128-CTR, HMAC-SHA-256, concat KDF); topic names from status-go `transport/topic.go`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import coincurve
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.status.client import StatusClient, hashed_key, keccak256


def topic(name: str) -> str:
    return f"/waku/1/0x{keccak256(name.encode())[:4].hex()}/rfc26"


def personal_topic(public_key: bytes) -> str:
    uncompressed = coincurve.PublicKey(public_key).format(compressed=False)
    return topic("contact-discovery-" + uncompressed.hex())


def partitioned_topic(public_key: bytes) -> str:
    x = coincurve.PublicKey(public_key).format(compressed=False)[1:33]
    return topic(f"contact-discovery-{int(x.hex(), 16) % 5000}")


def query_chat(target_key: bytes) -> str:
    return hashed_key(target_key).hex()


def v1(data: bytes, signer: StatusClient | None) -> bytes:
    size = len(data)
    width = 1 if size < 256 else 2 if size < 65536 else 3 if size < 1 << 24 else 4
    body = bytes([width]) + size.to_bytes(width, "little") + data
    unpadded = len(body) + (65 if signer else 0)
    body += os.urandom(256 - unpadded % 256)
    if signer is None:
        return body
    body = bytes([body[0] | 4]) + body[1:]
    return body + signer.sign(keccak256(body))


def open_v1(plaintext: bytes) -> tuple[bytes, bytes | None]:
    """(data, compressed signer or None)."""
    signer = None
    end = len(plaintext)
    if plaintext[0] & 4:
        end -= 65
        key = coincurve.PublicKey.from_signature_and_message(
            plaintext[end:], keccak256(plaintext[:end]), hasher=None
        )
        signer = key.format(compressed=True)
    width = plaintext[0] & 3
    size = int.from_bytes(plaintext[1 : 1 + width], "little")
    return plaintext[1 + width : 1 + width + size], signer


def ecies_encrypt(recipient: bytes, plaintext: bytes) -> bytes:
    ephemeral = ec.generate_private_key(ec.SECP256K1())
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), recipient)
    ke, km = _keys(ephemeral.exchange(ec.ECDH(), peer))
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(ke), modes.CTR(iv)).encryptor()
    em = iv + encryptor.update(plaintext) + encryptor.finalize()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    r = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return r + em + hmac.new(km, em, hashlib.sha256).digest()


def ecies_decrypt(client: StatusClient, payload: bytes) -> bytes:
    ke, km = _keys(client.shared_key(payload[:65]))
    em, tag = payload[65:-32], payload[-32:]
    assert hmac.compare_digest(tag, hmac.new(km, em, hashlib.sha256).digest()), "ECIES tag mismatch"
    decryptor = Cipher(algorithms.AES(ke), modes.CTR(em[:16])).decryptor()
    return decryptor.update(em[16:]) + decryptor.finalize()


def symmetric_encrypt(chat_name: str, plaintext: bytes) -> bytes:
    key = hashlib.pbkdf2_hmac("sha256", chat_name.encode(), b"", 65356, 32)
    nonce = os.urandom(12)
    return AESGCM(key).encrypt(nonce, plaintext, None) + nonce


def message(content_topic: str, payload: bytes) -> dict[str, Any]:
    """A RelayWakuMessage as nwaku's REST API returns it."""
    return {
        "payload": base64.b64encode(payload).decode(),
        "contentTopic": content_topic,
        "version": 1,
        "timestamp": time.time_ns(),
    }


def private(sender: StatusClient, recipient: bytes, envelope: bytes, *, on: str) -> dict[str, Any]:
    """A private message as status-go sends it: v1 payload signed by the sender, ECIES to the recipient."""
    return message(on, ecies_encrypt(recipient, v1(envelope, sender)))


def _keys(shared_x: bytes) -> tuple[bytes, bytes]:
    derived = hashlib.sha256(b"\x00\x00\x00\x01" + shared_x).digest()
    return derived[:16], hashlib.sha256(derived[16:]).digest()
