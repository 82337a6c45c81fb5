"""Account passwords and API keys, stored so that a copied database yields neither.

The ChatSecure account endpoint is create-or-login: a POST with an existing username and the
right password must answer with *the same* API key as at creation (reference §1.3), yet the key
is only kept as a keyed hash. So the key is derived, not drawn:

    argon2id(password, salt) -> 64 bytes = verifier (32) || seed (32)
    api key = HMAC(server lookup key, "chatsecure.api_key.seed" || seed)[:20] as 40 hex digits

The database keeps the salt, the KDF parameters and the verifier (to check a password) and
`Keyring.hash` of the API key (to authenticate requests). Getting the key from a copied
database needs both the server key and a password found by brute-forcing argon2id. The
parameters are stored with each account, so retuning them never changes an existing key.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from pushrelay.secrets import Keyring

SALT_BYTES = 16
VERIFIER_BYTES = 32
SEED_BYTES = 32
API_KEY_BYTES = 20
API_KEY_LABEL = "chatsecure.api_key"
_SEED_LABEL = "chatsecure.api_key.seed"
_SCHEME = "argon2id-split"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost: passes, memory in KiB, lanes."""

    time_cost: int
    memory_kib: int
    parallelism: int


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    """What is stored for a password: enough to check it, nothing to reverse it."""

    params: KdfParams
    salt: bytes
    verifier: bytes

    def encode(self) -> str:
        p = self.params
        salt = base64.b64encode(self.salt).decode()
        verifier = base64.b64encode(self.verifier).decode()
        return f"{_SCHEME}$t={p.time_cost},m={p.memory_kib},p={p.parallelism}${salt}${verifier}"

    @classmethod
    def decode(cls, text: str) -> PasswordRecord:
        scheme, costs, salt, verifier = text.split("$")
        if scheme != _SCHEME:
            raise ValueError(f"unknown password scheme {scheme!r}")
        values = dict(part.split("=") for part in costs.split(","))
        params = KdfParams(int(values["t"]), int(values["m"]), int(values["p"]))
        return cls(params, base64.b64decode(salt), base64.b64decode(verifier))


@dataclass(frozen=True, slots=True)
class Credentials:
    """The outcome of hashing a password: the record to store and the API key it yields."""

    record: PasswordRecord
    api_key: str


class PasswordHasher:
    """Runs argon2id off the event loop, a bounded number at a time (each takes `memory_kib`)."""

    def __init__(self, keyring: Keyring, params: KdfParams, concurrency: int) -> None:
        self._keyring = keyring
        self._params = params
        self._slots = asyncio.Semaphore(concurrency)

    async def enroll(self, password: str) -> Credentials:
        """Fresh salt: the record and API key for a new account."""
        return await self._derive(password, self._params, os.urandom(SALT_BYTES))

    async def check(self, password: str, stored: str) -> str | None:
        """The account's API key if `password` is right, else None."""
        record = PasswordRecord.decode(stored)
        derived = await self._derive(password, record.params, record.salt)
        if not hmac.compare_digest(derived.record.verifier, record.verifier):
            return None
        return derived.api_key

    def api_key_hash(self, api_key: str) -> bytes:
        return self._keyring.hash(API_KEY_LABEL, api_key)

    async def _derive(self, password: str, params: KdfParams, salt: bytes) -> Credentials:
        async with self._slots:
            output = await asyncio.to_thread(_argon2id, password.encode(), salt, params)
        verifier, seed = output[:VERIFIER_BYTES], output[VERIFIER_BYTES:]
        api_key = self._keyring.hash(_SEED_LABEL, seed)[:API_KEY_BYTES].hex()
        return Credentials(PasswordRecord(params, salt, verifier), api_key)


def _argon2id(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    return hash_secret_raw(
        secret,
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=VERIFIER_BYTES + SEED_BYTES,
        type=Type.ID,
    )
