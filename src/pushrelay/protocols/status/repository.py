"""The repository seam the Status server keeps its state through.

Rows (`pushrelay.store.status.StoredRegistration`) carry only keyed hashes and sealed blobs
(DESIGN principle 1); the server computes both with the relay's Keyring, so a repository
stores bytes and never sees a device token, an access token or a public key.
`pushrelay.store.status.StatusStore` implements this on SQL; tests use an in-memory one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pushrelay.store.status import StoredRegistration


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
