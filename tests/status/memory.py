"""In-memory fakes of the Status server's seams: its repository and the pusher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pushrelay.domain import Delivered, Message, Outcome, Platform
from pushrelay.store.status import StoredRegistration


class MemoryRepository:
    """`StatusRepository` on dicts, for unit tests of the protocol core."""

    def __init__(self) -> None:
        self.identity: bytes | None = None
        self.rows: dict[tuple[bytes, str], StoredRegistration] = {}
        self.seen: dict[bytes, datetime] = {}

    async def load_identity(self) -> bytes | None:
        return self.identity

    async def save_identity(self, sealed_secret: bytes) -> None:
        if self.identity is None:
            self.identity = sealed_secret

    async def registration_version(self, key_ref: bytes, installation_id: str) -> int:
        row = self.rows.get((key_ref, installation_id))
        return 0 if row is None else row.version

    async def save_registration(self, registration: StoredRegistration) -> bool:
        key = (registration.key_ref, registration.installation_id)
        if key in self.rows and self.rows[key].version >= registration.version:
            return False
        self.rows[key] = registration
        return True

    async def registration(self, key_ref: bytes, installation_id: str) -> StoredRegistration | None:
        return self.rows.get((key_ref, installation_id))

    async def registrations_for_keys(self, key_refs: Sequence[bytes]) -> list[StoredRegistration]:
        wanted = set(key_refs)
        return [r for r in self.rows.values() if r.key_ref in wanted and r.sealed_registration is not None]

    async def registered_keys(self) -> list[bytes]:
        by_ref = {r.key_ref: r.sealed_key for r in self.rows.values() if r.sealed_registration is not None}
        return list(by_ref.values())

    async def drop_registration(self, key_ref: bytes, installation_id: str, version: int) -> bool:
        row = self.rows.get((key_ref, installation_id))
        if row is None or row.version != version:
            return False
        self.rows[(key_ref, installation_id)] = replace(row, sealed_registration=None, access_token_ref=None)
        return True

    async def remember_message(self, message_id: bytes, now: datetime, expires_at: datetime) -> bool:
        if message_id in self.seen and self.seen[message_id] > now:
            return False
        self.seen[message_id] = expires_at
        return True

    async def forget_messages(self, now: datetime) -> int:
        expired = [key for key, expires in self.seen.items() if expires <= now]
        for key in expired:
            del self.seen[key]
        return len(expired)


@dataclass
class RecordedPush:
    platform: Platform
    token: str
    message: Message


@dataclass
class RecordingPusher:
    """Records pushes and answers each with `outcome` (Delivered unless a test sets another)."""

    pushes: list[RecordedPush] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Delivered)

    revived: list[tuple[Platform, str]] = field(default_factory=list)

    async def push(self, platform: Platform, token: str, message: Message) -> Outcome:
        self.pushes.append(RecordedPush(platform, token, message))
        return self.outcome

    async def revive(self, platform: Platform, token: str) -> None:
        self.revived.append((platform, token))
