"""What the Status server keeps, and the repository seam it keeps it through.

Rows carry only keyed hashes and sealed blobs (DESIGN principle 1); the server computes
both with the relay's Keyring, so a repository stores bytes and never sees a device token,
an access token or a public key. `pushrelay.store.status.StatusStore` implements this on
SQL; tests use an in-memory one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

# Keyring labels: bound into each keyed hash and sealed blob, so one kind cannot pass for another.
KEY_LABEL: Final = "status.key"
TOKEN_LABEL: Final = "status.access_token"
REGISTRATION_LABEL: Final = "status.registration"
IDENTITY_LABEL: Final = "status.identity"


@dataclass(frozen=True, slots=True)
class StoredRegistration:
    """One (client key, installation) registration, as status-go's registrations table holds it."""

    key_ref: bytes
    """Keyed hash of the client's hashed public key (SHAKE-256 of the compressed key)."""
    installation_id: str
    version: int
    sealed_key: bytes
    """The hashed public key, sealed: the Waku binding re-joins query topics from it at start."""
    access_token_ref: bytes | None = None
    """Keyed hash of the access token; notification requests are checked against it."""
    sealed_registration: bytes | None = None
    """The registration protobuf, sealed; None once unregistered (the version is kept).
    For contacts-only registrations it holds no access token: only the hash above does."""


class StatusRepository(Protocol):
    async def load_identity(self) -> bytes | None:
        """The sealed secret of the server's identity key, if one was saved."""
        ...

    async def save_identity(self, sealed_secret: bytes) -> None:
        """Save the identity unless one exists already (the first start to save wins)."""
        ...

    async def registration_version(self, key_ref: bytes, installation_id: str) -> int:
        """The stored version for (key, installation), 0 if there is none."""
        ...

    async def save_registration(self, registration: StoredRegistration) -> bool:
        """Insert or replace, only if `registration.version` is above the stored one.

        Returns False when a concurrent registration already stored this version or a later one.
        """
        ...

    async def registration(self, key_ref: bytes, installation_id: str) -> StoredRegistration | None: ...

    async def registrations_for_keys(self, key_refs: Sequence[bytes]) -> list[StoredRegistration]:
        """Every active (not unregistered) registration of these keys."""
        ...

    async def registered_keys(self) -> list[bytes]:
        """The sealed hashed keys of every key with an active registration, each once."""
        ...

    async def drop_registration(self, key_ref: bytes, installation_id: str, version: int) -> bool:
        """Unregister (keeping the version) if the stored version is still `version`."""
        ...

    async def remember_message(self, message_id: bytes, now: datetime, expires_at: datetime) -> bool:
        """Record a message id; False if it was seen and has not expired (at-most-once)."""
        ...

    async def forget_messages(self, now: datetime) -> int:
        """Delete the message ids that expired before `now`; returns how many."""
        ...
