"""Passwords and API keys: argon2id, and a key that login can give back without storing it."""

from __future__ import annotations

import re

from pushrelay.protocols.chatsecure.credentials import KdfParams, PasswordHasher, PasswordRecord
from pushrelay.secrets import Keyring

FAST = KdfParams(time_cost=1, memory_kib=64, parallelism=1)


def _hasher(keyring: Keyring | None = None, params: KdfParams = FAST) -> PasswordHasher:
    return PasswordHasher(keyring or Keyring.generate(), params, concurrency=2)


async def test_an_api_key_is_forty_lowercase_hex_digits() -> None:
    """reference §1.3: DRF authtoken keys are `hexlify(os.urandom(20))`; APP #1022: plain 40-hex strings."""
    credentials = await _hasher().enroll("secret")
    assert re.fullmatch(r"[0-9a-f]{40}", credentials.api_key)


async def test_login_with_the_right_password_gives_the_same_api_key() -> None:
    """reference §1.3: a POST for an existing user answers with the same token as before."""
    hasher = _hasher()
    credentials = await hasher.enroll("secret")
    assert credentials.api_key == await hasher.check("secret", credentials.record.encode())


async def test_login_with_a_wrong_password_gives_nothing() -> None:
    """reference §1.3: wrong password → 401 Invalid credentials."""
    hasher = _hasher()
    credentials = await hasher.enroll("secret")
    assert await hasher.check("guess", credentials.record.encode()) is None


async def test_the_same_password_gives_different_keys_for_different_accounts() -> None:
    """Each account has its own salt: equal passwords do not mean equal keys."""
    hasher = _hasher()
    first, second = await hasher.enroll("secret"), await hasher.enroll("secret")
    assert first.api_key != second.api_key


async def test_the_api_key_needs_the_server_key() -> None:
    """DESIGN principle 1: a copied database plus the password, without the server key, yields no API key."""
    credentials = await _hasher().enroll("secret")
    other_server = _hasher(Keyring.generate())
    assert credentials.api_key != await other_server.check("secret", credentials.record.encode())


async def test_stored_parameters_are_used_after_retuning() -> None:
    """Raising the KDF cost later must not change existing accounts' API keys."""
    keyring = Keyring.generate()
    credentials = await _hasher(keyring).enroll("secret")
    retuned = _hasher(keyring, KdfParams(time_cost=2, memory_kib=128, parallelism=1))
    assert credentials.api_key == await retuned.check("secret", credentials.record.encode())


async def test_the_stored_record_holds_no_password_and_no_key() -> None:
    """DESIGN principle 1: the record is salt, costs and an argon2id verifier."""
    credentials = await _hasher().enroll("secret-password")
    stored = credentials.record.encode()
    assert "secret-password" not in stored and credentials.api_key not in stored
    assert credentials.record == PasswordRecord.decode(stored)
