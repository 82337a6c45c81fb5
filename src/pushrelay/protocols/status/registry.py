"""The registrations a Status server holds, sealed and hashed on their way to the repository.

status-go stores the registration protobuf in the clear, keyed by the hashed public key
(§1.9). Here (DESIGN principle 1) the key is looked up by keyed hash, the protobuf (device
token, grant, lists) is sealed, and the access token is checked against a keyed hash; it
stays readable, inside the sealed protobuf, only when queries must return it, that is when
the registration is not contacts-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pushrelay.protocols.status.proto.push_notifications_pb2 import PushNotificationRegistration
from pushrelay.protocols.status.repository import StatusRepository
from pushrelay.secrets import Keyring, constant_time_equals
from pushrelay.store.status import KEY_LABEL, REGISTRATION_LABEL, TOKEN_LABEL, StoredRegistration


@dataclass(frozen=True, slots=True)
class ActiveRegistration:
    hashed_key: bytes
    version: int
    registration: PushNotificationRegistration
    access_token_ref: bytes | None


class Registry:
    def __init__(self, repository: StatusRepository, keyring: Keyring) -> None:
        self._repository = repository
        self._keyring = keyring

    def key_ref(self, hashed_key: bytes) -> bytes:
        return self._keyring.hash(KEY_LABEL, hashed_key)

    async def version(self, hashed_key: bytes, installation_id: str) -> int:
        return await self._repository.registration_version(self.key_ref(hashed_key), installation_id)

    async def save(self, hashed_key: bytes, registration: PushNotificationRegistration) -> bool:
        """Store a registration, or an unregister (version only); False if a later one won."""
        row = StoredRegistration(
            key_ref=self.key_ref(hashed_key),
            installation_id=registration.installation_id,
            version=registration.version,
            sealed_key=self._keyring.seal(KEY_LABEL, hashed_key),
        )
        if not registration.unregister:
            kept = PushNotificationRegistration()
            kept.CopyFrom(registration)
            if kept.allow_from_contacts_only:
                kept.ClearField("access_token")
            row = StoredRegistration(
                key_ref=row.key_ref,
                installation_id=row.installation_id,
                version=row.version,
                sealed_key=row.sealed_key,
                access_token_ref=self._keyring.hash(TOKEN_LABEL, registration.access_token),
                sealed_registration=self._keyring.seal(REGISTRATION_LABEL, kept.SerializeToString()),
            )
        return await self._repository.save_registration(row)

    async def find(self, hashed_key: bytes, installation_id: str) -> ActiveRegistration | None:
        row = await self._repository.registration(self.key_ref(hashed_key), installation_id)
        return None if row is None else self._open(hashed_key, row)

    async def find_many(self, hashed_keys: Sequence[bytes]) -> list[ActiveRegistration]:
        by_ref = {self.key_ref(key): key for key in hashed_keys}
        rows = await self._repository.registrations_for_keys(list(by_ref))
        opened = (self._open(by_ref[row.key_ref], row) for row in rows)
        return [active for active in opened if active is not None]

    async def drop(self, active: ActiveRegistration) -> bool:
        """Unregister on the server's own initiative (a dead device token), keeping the version."""
        return await self._repository.drop_registration(
            self.key_ref(active.hashed_key), active.registration.installation_id, active.version
        )

    async def registered_keys(self) -> list[bytes]:
        return [self._keyring.open(KEY_LABEL, sealed) for sealed in await self._repository.registered_keys()]

    def token_matches(self, active: ActiveRegistration, access_token: str) -> bool:
        if active.access_token_ref is None:
            return False
        return constant_time_equals(active.access_token_ref, self._keyring.hash(TOKEN_LABEL, access_token))

    def _open(self, hashed_key: bytes, row: StoredRegistration) -> ActiveRegistration | None:
        if row.sealed_registration is None:
            return None
        registration = PushNotificationRegistration.FromString(
            self._keyring.open(REGISTRATION_LABEL, row.sealed_registration)
        )
        return ActiveRegistration(hashed_key, row.version, registration, row.access_token_ref)
