"""The words every layer shares: devices, messages, pushes, outcomes, and the Provider seam.

Plain frozen dataclasses, no framework: protocol adapters translate their wire formats into
these, the Relay and Dispatcher move them, providers turn them into APNs/FCM requests.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType, Protocol, TypeAlias

AppId = NewType("AppId", str)
"""An `[apps.<id>]` block of the configuration: one mobile app with its own credentials."""

TokenRef = NewType("TokenRef", bytes)
"""The keyed hash of a device push token. Raw tokens never reach the Store or the logs."""

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"


class Platform(enum.StrEnum):
    """The push service a device token belongs to."""

    APNS = "apns"
    FCM = "fcm"


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"


class PushType(enum.StrEnum):
    """APNs `apns-push-type`; FCM maps alert to a notification and the rest to data-only."""

    ALERT = "alert"
    BACKGROUND = "background"
    VOIP = "voip"
    LOCATION = "location"
    COMPLICATION = "complication"
    FILEPROVIDER = "fileprovider"
    MDM = "mdm"
    LIVEACTIVITY = "liveactivity"
    PUSHTOTALK = "pushtotalk"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What to show or hand to the app, independent of the push service.

    Providers render it: APNs puts `data` keys beside `aps`, FCM sends them as string data.
    `aps` and `android` are merged last into the rendered payload, for the few protocols
    whose clients read non-standard paths (ChatSecure reads `aps.alert.message.token`).
    """

    title: str | None = None
    body: str | None = None
    data: Mapping[str, JSON] = field(default_factory=dict)
    priority: Priority = Priority.HIGH
    push_type: PushType = PushType.ALERT
    sound: str | None = None
    badge: int | None = None
    category: str | None = None
    thread_id: str | None = None
    content_available: bool = False
    mutable_content: bool = False
    collapse_id: str | None = None
    expiration: int | None = None
    """Unix seconds after which the push service may drop the message; 0 = now or never."""
    topic: str | None = None
    """Overrides the app's configured APNs topic (Status registrations carry their own)."""
    aps: Mapping[str, JSON] = field(default_factory=dict)
    android: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """One device token to push to. The raw token lives only in memory, for the send."""

    app: AppId
    platform: Platform
    token: str = field(repr=False)
    ref: TokenRef = field(repr=False)
    device_id: int | None = None


@dataclass(frozen=True, slots=True)
class Push:
    """One message to one target: the unit the Dispatcher queues and a Provider sends."""

    target: Target
    message: Message
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


class RejectReason(enum.StrEnum):
    """Why a push service refused a push for good. The first four mean the token is dead."""

    UNREGISTERED = "unregistered"
    BAD_TOKEN = "bad_token"
    TOKEN_NOT_FOR_TOPIC = "token_not_for_topic"
    TOPIC_DISALLOWED = "topic_disallowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    NO_PROVIDER = "no_provider"


DEAD_TOKEN_REASONS = frozenset(
    {
        RejectReason.UNREGISTERED,
        RejectReason.BAD_TOKEN,
        RejectReason.TOKEN_NOT_FOR_TOPIC,
        RejectReason.TOPIC_DISALLOWED,
    }
)


@dataclass(frozen=True, slots=True)
class Delivered:
    """The push service accepted the push."""

    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The push service refused the push; retrying will not help.

    `detail` is the service's own reason string (`BadDeviceToken`, `UNREGISTERED`), which
    gorush-compatible callers expect to see; `invalid_since` is APNs' 410 timestamp.
    """

    reason: RejectReason
    detail: str = ""
    invalid_since: datetime | None = None

    @property
    def is_token_dead(self) -> bool:
        return self.reason in DEAD_TOKEN_REASONS


@dataclass(frozen=True, slots=True)
class Failed:
    """The push did not go through. `retryable` failures may succeed later.

    `service_fault` is False for failures that say nothing about the service's health
    (APNs 429 TooManyRequests for one device), so they do not trip the circuit breaker.
    """

    retryable: bool
    detail: str
    retry_after: float | None = None
    service_fault: bool = True


Outcome: TypeAlias = Delivered | Rejected | Failed


class Provider(Protocol):
    """One push service. `send` makes exactly one attempt: no retry, no sleep, no queue.

    Retries, limits, deadlines and the circuit breaker live in the Dispatcher.
    """

    name: str

    async def send(self, push: Push) -> Outcome: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Capability:
    """A secret that lets its holder push to a device or to every device of an account.

    `value` is the secret itself, present only when the protocol asked to keep it (sealed).
    """

    id: int
    kind: str
    app: AppId
    device_id: int | None
    account_id: int | None
    expires_at: datetime | None
    revoked: bool
    value: str | None = field(default=None, repr=False)
