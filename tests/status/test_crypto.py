"""The primitives against independent known answers and against the test client's own code."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.protocols.status import crypto
from tests.status.client import StatusClient, aes_decrypt, aes_encrypt

# web3.js documentation, `web3.eth.accounts.sign("Some data", privateKey)`.
WEB3_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
WEB3_ADDRESS = "2c7536e3605d9c16a7a3d7b1898e529396a65c23"
WEB3_MESSAGE_HASH = "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
WEB3_SIGNATURE_RSV27 = (
    "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
)


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
    ],
)
def test_keccak256_is_legacy_keccak_not_sha3(data: bytes, digest: str) -> None:
    """§1.3: Keccak256 is Ethereum's Keccak (known answers), not SHA3-256."""
    assert digest == crypto.keccak256(data).hex()
    assert hashlib.sha3_256(data).hexdigest() != digest


def test_shake256_gives_64_bytes() -> None:
    """§1.3: SHAKE-256 with 64 bytes of output (NIST known answer for the empty input)."""
    assert crypto.shake256(b"").hex() == (
        "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
        "d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be"
    )


def test_fixed_key_derives_the_known_address() -> None:
    """secp256k1 public key derivation and Keccak agree with Ethereum's known address."""
    identity = crypto.Identity(WEB3_KEY)
    assert crypto.keccak256(identity.uncompressed[1:])[-20:].hex() == WEB3_ADDRESS


def test_signature_is_r_s_v_with_v_0_or_1() -> None:
    """§1.3: 65-byte R||S||V, V in {0,1} (web3's known answer carries V+27)."""
    digest = crypto.keccak256(b"\x19Ethereum Signed Message:\n9Some data")
    assert digest.hex() == WEB3_MESSAGE_HASH
    signature = crypto.Identity(WEB3_KEY).sign(digest)
    expected = bytes.fromhex(WEB3_SIGNATURE_RSV27)
    assert expected[:64] + bytes([expected[64] - 27]) == signature


def test_signature_recovers_the_signer() -> None:
    """§1.3: verification is recover-and-compare."""
    identity = crypto.Identity(WEB3_KEY)
    digest = crypto.keccak256(b"payload")
    assert identity.public_key == crypto.recover(digest, identity.sign(digest))
    assert crypto.is_signed_by(digest, identity.sign(digest), identity.uncompressed)
    assert not crypto.is_signed_by(crypto.keccak256(b"other"), identity.sign(digest), identity.public_key)


def test_v_of_27_does_not_recover() -> None:
    """§1.3: geth's recover refuses V = 27/28, so the server does too."""
    identity = crypto.Identity(WEB3_KEY)
    digest = crypto.keccak256(b"payload")
    signature = identity.sign(digest)
    with pytest.raises(crypto.CryptoError):
        crypto.recover(digest, signature[:64] + bytes([signature[64] + 27]))


def test_ecdh_is_the_raw_x_coordinate_both_ways() -> None:
    """§1.3: the shared key is X of d·P; coincurve (server) and cryptography (client) agree."""
    server = crypto.Identity.generate()
    client = StatusClient()
    assert client.shared_key(server.public_key) == server.shared_key(client.public_key)
    assert len(server.shared_key(client.uncompressed)) == 32


def test_aes_gcm_layout_is_nonce_ciphertext_tag() -> None:
    """§1.3: nonce(12) || ciphertext || tag(16), no AAD: each side opens the other's."""
    key = bytes(range(32))
    sealed = crypto.encrypt(key, b"hello")
    assert len(sealed) == 12 + 5 + 16
    assert aes_decrypt(key, sealed) == b"hello"
    assert crypto.decrypt(key, aes_encrypt(key, b"hello")) == b"hello"


def test_too_short_ciphertext_is_refused() -> None:
    """§1.3: status-go's Decrypt refuses fewer than 12 bytes."""
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(bytes(32), b"too short")


def test_hash_public_key_is_shake_of_the_compressed_key() -> None:
    """§1.3: HashPublicKey = SHAKE256(compress(pk)), whichever encoding comes in."""
    identity = crypto.Identity(WEB3_KEY)
    expected = hashlib.shake_256(identity.public_key).digest(64)
    assert (
        expected
        == crypto.hash_public_key(identity.uncompressed)
        == crypto.hash_public_key(identity.public_key)
    )


def test_public_query_key_uses_65356_iterations() -> None:
    """§1.7: PBKDF2-HMAC-SHA256 of the chat name, empty salt, 65356 iterations, 32 bytes."""
    assert hashlib.pbkdf2_hmac("sha256", b"abcd", b"", 65356, 32) == crypto.public_query_key("abcd")


def test_grant_made_by_the_client_verifies_on_the_server() -> None:
    """§1.4 step 4: Sign(Keccak256(compress(client) || compress(server) || token))."""
    server, client = crypto.Identity.generate(), StatusClient()
    grant = client.grant(server.public_key, "token")
    digest = crypto.grant_digest(client.uncompressed, server.public_key, "token")
    assert crypto.is_signed_by(digest, grant, client.public_key)


@given(st.binary(max_size=200))
def test_any_bytes_decrypt_or_raise_crypto_error(data: bytes) -> None:
    """Hostile ciphertexts never escape as anything but CryptoError."""
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(bytes(range(32)), data)
