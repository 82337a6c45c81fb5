"""Decrypting and validating a registration (type 16) in status-go's order.

reference/status-gorush-sygnal.md §1.4, `server.go: validateRegistration`. The version check
against the store (step 6) sits between `open_registration` (steps 1-5) and `check_fields`
(step 8); the server runs it, since only the server knows the store.
"""

from __future__ import annotations

import re

from google.protobuf.message import DecodeError

from pushrelay.protocols.status import crypto
from pushrelay.protocols.status.proto.push_notifications_pb2 import (
    PushNotificationRegistration,
    PushNotificationRegistrationResponse,
)

ErrorType = PushNotificationRegistrationResponse.ErrorType
MALFORMED = PushNotificationRegistrationResponse.MALFORMED_MESSAGE
VERSION_MISMATCH = PushNotificationRegistrationResponse.VERSION_MISMATCH
INTERNAL_ERROR = PushNotificationRegistrationResponse.INTERNAL_ERROR

MAX_VERSION = 2**63 - 1
"""status-go stores the uint64 version in a signed 64-bit INT column; so do we."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class RegistrationRejected(Exception):
    """A registration that does not validate; `error` is what the response says."""

    def __init__(self, error: ErrorType, why: str) -> None:
        super().__init__(why)
        self.error = error
        self.why = why


def open_registration(server: crypto.Identity, sender: bytes, payload: bytes) -> PushNotificationRegistration:
    """Steps 1-5: non-empty payload, decrypt under ECDH(server, sender), parse, version ≥ 1, UUID."""
    if not payload:
        raise RegistrationRejected(MALFORMED, "empty payload")
    try:
        plaintext = crypto.decrypt(server.shared_key(sender), payload)
    except crypto.CryptoError as exc:
        raise RegistrationRejected(MALFORMED, "payload does not decrypt") from exc
    registration = PushNotificationRegistration()
    try:
        registration.ParseFromString(plaintext)
    except DecodeError as exc:
        raise RegistrationRejected(MALFORMED, "plaintext is not a registration") from exc
    if registration.version < 1:
        raise RegistrationRejected(VERSION_MISMATCH, "version below 1")
    if registration.version > MAX_VERSION:
        raise RegistrationRejected(MALFORMED, "version beyond what a 64-bit signed column holds")
    if not is_uuid(registration.installation_id):
        raise RegistrationRejected(MALFORMED, "installation id is not a UUID")
    return registration


def check_version(registration: PushNotificationRegistration, stored_version: int) -> None:
    """Step 6: versions only increase per (key, installation)."""
    if registration.version <= stored_version:
        raise RegistrationRejected(VERSION_MISMATCH, "version not above the stored one")


def check_fields(registration: PushNotificationRegistration, sender: bytes, server_key: bytes) -> None:
    """Step 8, for registrations that are not an unregister: token, grant, device token, type."""
    if not is_uuid(registration.access_token):
        raise RegistrationRejected(MALFORMED, "access token is not a UUID")
    if not registration.grant:
        raise RegistrationRejected(MALFORMED, "grant missing")
    digest = crypto.grant_digest(sender, server_key, registration.access_token)
    if not crypto.is_signed_by(digest, registration.grant, sender):
        raise RegistrationRejected(MALFORMED, "grant does not verify")
    if not registration.device_token:
        raise RegistrationRejected(MALFORMED, "device token missing")
    if registration.token_type == PushNotificationRegistration.UNKNOWN_TOKEN_TYPE:
        raise RegistrationRejected(MALFORMED, "unknown token type")


def is_uuid(value: str) -> bool:
    """Go's `uuid.Parse`: the 36-char form, bare or as `urn:uuid:…` or `{…}`, or 32 hex digits."""
    if len(value) == 45 and value[:9].lower() == "urn:uuid:":
        value = value[9:]
    elif len(value) == 38 and value[0] == "{" and value[-1] == "}":
        value = value[1:-1]
    elif len(value) == 32:
        return _HEX32.fullmatch(value) is not None
    return _UUID.fullmatch(value) is not None
