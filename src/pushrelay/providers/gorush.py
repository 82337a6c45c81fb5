"""Forward pushes to an existing gorush instance (`POST /api/push`), per app.

For deployments that keep their gorush (Status runs one) while pushrelay speaks the inbound
protocols. Each push becomes one gorush notification, written as status-go writes them
(reference/status-gorush-sygnal.md §1.8, §2.1):

    {"notifications": [{"tokens": [token], "platform": 1, "message": body,
                        "topic": apns_topic, "data": {...}}]}

Fields our `Message` leaves at their defaults are left out, so a Status push is byte-for-byte
what status-go posts. The topic is sent empty for FCM: a non-empty `topic` on platform 2
turns the request into an FCM topic send in gorush.

gorush answers 200 once it has queued the notifications; only in `sync` mode does it report
per-token failures, in `logs` (`{"type": "failed-push", "token": …, "error": …}`), which are
classified with the table below.
"""

from __future__ import annotations

from typing import Final

import httpx

from pushrelay.config import GorushForwardSettings
from pushrelay.domain import (
    JSON,
    AppId,
    Delivered,
    Failed,
    Outcome,
    Platform,
    Priority,
    Push,
    PushType,
    Rejected,
    RejectReason,
)

PLATFORMS: Final = {Platform.APNS: 1, Platform.FCM: 2}

# Per-token errors gorush copies from APNs (reason strings) and FCM (error codes) into its logs.
TOKEN_ERRORS: Final[dict[str, RejectReason]] = {
    "BadDeviceToken": RejectReason.BAD_TOKEN,
    "Unregistered": RejectReason.UNREGISTERED,
    "DeviceTokenNotForTopic": RejectReason.TOKEN_NOT_FOR_TOPIC,
    "TopicDisallowed": RejectReason.TOPIC_DISALLOWED,
    "PayloadTooLarge": RejectReason.PAYLOAD_TOO_LARGE,
    "UNREGISTERED": RejectReason.UNREGISTERED,
    "registration-token-not-registered": RejectReason.UNREGISTERED,
    "INVALID_ARGUMENT": RejectReason.BAD_REQUEST,
    "invalid-argument": RejectReason.BAD_REQUEST,
    "SENDER_ID_MISMATCH": RejectReason.AUTH,
}


def build(app: AppId, settings: GorushForwardSettings) -> GorushProvider:
    return GorushProvider(app, settings)


class GorushProvider:
    name = "gorush"

    def __init__(
        self, app: AppId, settings: GorushForwardSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.app = app
        self._http = httpx.AsyncClient(base_url=settings.url, timeout=settings.timeout, transport=transport)

    async def send(self, push: Push) -> Outcome:
        try:
            response = await self._http.post("/api/push", json={"notifications": [notification(push)]})
        except httpx.HTTPError as exc:
            return Failed(retryable=True, detail=type(exc).__name__)
        return classify(response.status_code, _json(response), _retry_after(response))

    async def aclose(self) -> None:
        await self._http.aclose()


def notification(push: Push) -> dict[str, JSON]:
    """One gorush `PushNotification` for one token."""
    message, platform = push.message, push.target.platform
    body: dict[str, JSON] = {
        "tokens": [push.target.token],
        "platform": PLATFORMS[platform],
        "message": message.body or "",
        "topic": (message.topic or "") if platform is Platform.APNS else "",
        "data": dict(message.data),
    }
    optional: dict[str, JSON] = {
        "title": message.title,
        "sound": message.sound,
        "badge": message.badge,
        "category": message.category,
        "thread-id": message.thread_id,
        "collapse_id": message.collapse_id,
        "expiration": message.expiration,
        "priority": "normal" if message.priority is Priority.NORMAL else None,
        "push_type": None if message.push_type is PushType.ALERT else message.push_type.value,
        "content_available": message.content_available or None,
        "mutable_content": message.mutable_content or None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def classify(status: int, body: JSON, retry_after: float | None) -> Outcome:
    """gorush's answer as an Outcome: its HTTP status first, then any failed-push log for the token."""
    if status == 429 or status >= 500:
        return Failed(retryable=True, detail=f"gorush {status}", retry_after=retry_after)
    if status >= 400:
        return Rejected(RejectReason.BAD_REQUEST, detail=_message(body) or f"gorush {status}")
    # One token per request, and gorush may mask tokens in its logs: any failure is this token's.
    for log in _failed_logs(body):
        error = str(log.get("error") or "")
        reason = TOKEN_ERRORS.get(error)
        if reason is None:
            return Failed(retryable=False, detail=error or "failed-push")
        return Rejected(reason, detail=error)
    return Delivered()


def _failed_logs(body: JSON) -> list[dict[str, JSON]]:
    logs = body.get("logs") if isinstance(body, dict) else None
    if not isinstance(logs, list):
        return []
    return [e for e in logs if isinstance(e, dict) and e.get("type") == "failed-push"]


def _message(body: JSON) -> str:
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _json(response: httpx.Response) -> JSON:
    try:
        parsed: JSON = response.json()
    except ValueError:
        return None
    return parsed


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
