"""The Status push notification server, independent of any network.

`StatusServer.handle` takes one serialized `ApplicationMetadataMessage`, as it arrives over
Waku or HTTP, and returns the one reply status-go would send back (signed by the server's
identity key, addressed to the sender's key) or None where status-go sends nothing.
reference/status-gorush-sygnal.md §1; `pushnotificationserver/server.go`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import structlog
from google.protobuf.message import DecodeError

from pushrelay.config import StatusSettings
from pushrelay.errors import BadRequest, StoreUnavailable
from pushrelay.protocols.status import crypto, notifications, payload, registration
from pushrelay.protocols.status.envelope import Envelope, MessageType, unwrap, wrap
from pushrelay.protocols.status.notifications import Pusher
from pushrelay.protocols.status.proto.push_notifications_pb2 import (
    PushNotificationQuery,
    PushNotificationQueryInfo,
    PushNotificationQueryResponse,
    PushNotificationRegistration,
    PushNotificationRegistrationResponse,
    PushNotificationRequest,
)
from pushrelay.protocols.status.registration import RegistrationRejected
from pushrelay.protocols.status.registry import ActiveRegistration, Registry
from pushrelay.protocols.status.repository import StatusRepository
from pushrelay.secrets import Keyring
from pushrelay.store.status import IDENTITY_LABEL

log = structlog.get_logger(__name__)

_M = TypeVar("_M", PushNotificationQuery, PushNotificationRequest)

# Types a server receives but does not answer (status-go's server has no handler for them).
SILENT_TYPES = frozenset(
    {
        MessageType.CONTACT_CODE_ADVERTISEMENT,
        MessageType.PUSH_NOTIFICATION_REGISTRATION_RESPONSE,
        MessageType.PUSH_NOTIFICATION_QUERY_RESPONSE,
        MessageType.PUSH_NOTIFICATION_RESPONSE,
    }
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send back: a signed envelope, to the key that sent the request."""

    recipient: bytes
    """The compressed public key to send to (status-go's `SendPrivate(senderPub)`)."""
    message: bytes
    type: MessageType
    listen_to: bytes | None = None
    """After a registration: the hashed key whose query topic the server now listens on."""


async def load_identity(repository: StatusRepository, keyring: Keyring) -> crypto.Identity:
    """The server's identity key: the stored one, or a new one saved (sealed) on first start."""
    sealed = await repository.load_identity()
    if sealed is None:
        await repository.save_identity(keyring.seal(IDENTITY_LABEL, crypto.Identity.generate().secret))
        sealed = await repository.load_identity()
        assert sealed is not None, "the repository lost the identity it just saved"
    return crypto.Identity(keyring.open(IDENTITY_LABEL, sealed))


class StatusServer:
    def __init__(
        self,
        identity: crypto.Identity,
        repository: StatusRepository,
        keyring: Keyring,
        pusher: Pusher,
        settings: StatusSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.identity = identity
        self.registry = Registry(repository, keyring)
        self._repository = repository
        self._pusher = pusher
        self._settings = settings
        self._clock = clock

    async def handle(self, data: bytes) -> Reply | None:
        """Answer one envelope; raises BadRequest for what is not a valid message of a known type."""
        if len(data) > self._settings.max_message_bytes:
            raise BadRequest(f"envelope over {self._settings.max_message_bytes} bytes")
        envelope = unwrap(data)
        match envelope.type:
            case MessageType.PUSH_NOTIFICATION_REGISTRATION:
                return await self._register(envelope)
            case MessageType.PUSH_NOTIFICATION_QUERY:
                return await self._query(envelope)
            case MessageType.PUSH_NOTIFICATION_REQUEST:
                return await self._notify(envelope)
            case kind if kind in SILENT_TYPES:
                return None
            case kind:
                raise BadRequest(f"unknown message type {kind}")

    async def prune(self) -> int:
        """Forget notification request ids past their retention; returns how many."""
        return await self._repository.forget_messages(self._clock())

    async def _register(self, envelope: Envelope) -> Reply:
        response = PushNotificationRegistrationResponse(request_id=crypto.shake256(envelope.payload))
        hashed_key = crypto.hash_public_key(envelope.sender)
        try:
            saved = await self._validate_and_save(envelope, hashed_key)
        except RegistrationRejected as rejected:
            log.info("status.registration_rejected", error=rejected.error, why=rejected.why)
            response.error = rejected.error
        else:
            response.success = True
            await self._revive_token(saved)
        return self._reply(
            envelope,
            response.SerializeToString(),
            MessageType.PUSH_NOTIFICATION_REGISTRATION_RESPONSE,
            listen_to=hashed_key if response.success else None,
        )

    async def _validate_and_save(self, envelope: Envelope, hashed_key: bytes) -> PushNotificationRegistration:
        """status-go's order, with one store round trip when all is well: the conditional save
        is the version check (step 6), and the stored version is read only when a field check
        (step 8) fails, since then a version error must win, as it would in status-go."""
        opened = registration.open_registration(self.identity, envelope.sender, envelope.payload)
        try:
            if not opened.unregister:
                try:
                    registration.check_fields(opened, envelope.sender, self.identity.public_key)
                except RegistrationRejected:
                    stored_version = await self.registry.version(hashed_key, opened.installation_id)
                    registration.check_version(opened, stored_version)
                    raise
            if not await self.registry.save(hashed_key, opened):
                raise RegistrationRejected(registration.VERSION_MISMATCH, "version not above the stored one")
        except StoreUnavailable as exc:
            raise RegistrationRejected(registration.INTERNAL_ERROR, "store unavailable") from exc
        return opened

    async def _revive_token(self, saved: PushNotificationRegistration) -> None:
        """A device token registered again is alive again, even if a provider once called it dead
        (APNs: a token registered after its 410 timestamp is valid). Only after the save, so a
        replayed old registration, refused as VERSION_MISMATCH, revives nothing."""
        platform = payload.PLATFORMS.get(saved.token_type)
        if saved.unregister or platform is None:
            return
        try:
            await self._pusher.revive(platform, saved.device_token)
        except StoreUnavailable:  # the registration is saved; the token stays dead until the next one
            log.warning("status.revive_failed", error="StoreUnavailable")

    async def _query(self, envelope: Envelope) -> Reply:
        query = _parse(PushNotificationQuery, envelope.payload)
        response = PushNotificationQueryResponse(message_id=envelope.message_id)
        keys = list(query.public_keys)
        if keys and len(keys) <= self._settings.max_query_keys:
            try:
                found = await self.registry.find_many(keys)
            except StoreUnavailable:
                found = None
            for active in found or ():
                response.info.append(_query_info(active))
            response.success = found is not None
        return self._reply(
            envelope, response.SerializeToString(), MessageType.PUSH_NOTIFICATION_QUERY_RESPONSE
        )

    async def _notify(self, envelope: Envelope) -> Reply | None:
        request = _parse(PushNotificationRequest, envelope.payload)
        if len(request.requests) > self._settings.max_notifications:
            raise BadRequest(f"over {self._settings.max_notifications} notifications in one request")
        now = self._clock()
        expires = now + timedelta(seconds=self._settings.dedupe_retention)
        if not await self._repository.remember_message(envelope.message_id, now, expires):
            log.debug("status.request_duplicate")
            return None
        if not request.message_id:
            return None
        response = await notifications.answer(request, self.registry, self._pusher)
        return self._reply(envelope, response.SerializeToString(), MessageType.PUSH_NOTIFICATION_RESPONSE)

    def _reply(
        self, envelope: Envelope, payload: bytes, kind: MessageType, listen_to: bytes | None = None
    ) -> Reply:
        return Reply(envelope.sender, wrap(payload, kind, self.identity), kind, listen_to)


def _query_info(active: ActiveRegistration) -> PushNotificationQueryInfo:
    """status-go's answer per registration: the token, or only the opaque list if contacts-only."""
    stored = active.registration
    info = PushNotificationQueryInfo(
        public_key=active.hashed_key,
        installation_id=stored.installation_id,
        grant=stored.grant,
        version=active.version,
    )
    if stored.allow_from_contacts_only:
        info.allowed_key_list.extend(stored.allowed_key_list)
    else:
        info.access_token = stored.access_token
    return info


def _parse(kind: type[_M], payload: bytes) -> _M:
    message = kind()
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise BadRequest(f"payload is not a {kind.__name__}") from exc
    return message
