"""gorush's HTTP API: `POST /api/push` and `GET /api/stat/app`, so deployments can swap gorush out.

Requests and answers keep gorush's shapes (reference/status-gorush-sygnal.md §2.1), with one
deliberate difference: every per-token failure is reported in `logs`, as gorush does only in
sync mode, because the relay always waits for the provider's answer. `topic` is ignored for
FCM: Status sends its APNs topic on Android notifications too, which gorush would turn into
an FCM topic send. Unlike gorush, a request is checked whole before anything is sent: one bad
notification refuses the request with 400 and nothing goes out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pushrelay import __version__
from pushrelay.config import GorushSettings
from pushrelay.domain import JSON, AppId, Delivered, Message, Outcome, Platform, Priority, PushType
from pushrelay.errors import Overloaded, Refused
from pushrelay.relay import Relay
from pushrelay.secrets import constant_time_equals

log = structlog.get_logger(__name__)

PLATFORMS: Final = {1: Platform.APNS, 2: Platform.FCM}
PLATFORM_NAMES: Final = {Platform.APNS: "ios", Platform.FCM: "android"}


class GorushAlert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str | None = None
    body: str | None = None
    subtitle: str | None = None
    action: str | None = None
    action_loc_key: str | None = Field(default=None, alias="action-loc-key")
    launch_image: str | None = Field(default=None, alias="launch-image")
    loc_key: str | None = Field(default=None, alias="loc-key")
    loc_args: list[str] | None = Field(default=None, alias="loc-args")
    title_loc_key: str | None = Field(default=None, alias="title-loc-key")
    title_loc_args: list[str] | None = Field(default=None, alias="title-loc-args")
    summary_arg: str | None = Field(default=None, alias="summary-arg")
    summary_arg_count: int | None = Field(default=None, alias="summary-arg-count")


class GorushNotification(BaseModel):
    """One entry of `notifications[]`: gorush's PushNotification, the fields pushrelay acts on."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    notif_id: str | None = None
    tokens: list[str] = Field(default_factory=list)
    to: str | None = None
    platform: int
    message: str | None = None
    title: str | None = None
    image: str | None = None
    topic: str | None = None
    priority: str | None = None
    content_available: bool = False
    mutable_content: bool = False
    sound: str | dict[str, Any] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    badge: int | None = None
    category: str | None = None
    thread_id: str | None = Field(default=None, alias="thread-id")
    expiration: int | None = None
    collapse_id: str | None = None
    push_type: str | None = None
    alert: GorushAlert | None = None
    interruption_level: str | None = None
    notification: dict[str, Any] | None = None
    android: dict[str, Any] | None = None
    apns: dict[str, Any] | None = None


class GorushRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    notifications: list[GorushNotification]


class GorushError(Exception):
    """Answered as gorush's `{"code": N, "message": "..."}`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class GorushStats:
    """The counters `GET /api/stat/app` reports, as gorush names them."""

    submitted_tasks: int = 0
    success_tasks: int = 0
    failure_tasks: int = 0
    total_count: int = 0
    platform: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            name: {"push_success": 0, "push_error": 0} for name in ("ios", "android", "huawei")
        }
    )

    def record(self, platform: Platform, outcome: Outcome) -> None:
        ok = isinstance(outcome, Delivered)
        self.platform[PLATFORM_NAMES[platform]]["push_success" if ok else "push_error"] += 1

    def as_json(self) -> dict[str, object]:
        return {
            "version": __version__,
            "busy_workers": 0,
            "success_tasks": self.success_tasks,
            "failure_tasks": self.failure_tasks,
            "submitted_tasks": self.submitted_tasks,
            "total_count": self.total_count,
            **self.platform,
        }


def parse_request(body: bytes, settings: GorushSettings) -> GorushRequest:
    """Validate the whole request before anything is sent; raise GorushError(400) like gorush."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GorushError(400, "Missing notifications field.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("notifications"), list):
        raise GorushError(400, "Missing notifications field.")
    if not raw["notifications"]:
        raise GorushError(400, "Notifications field is empty.")
    count = len(raw["notifications"])
    if count > settings.max_notifications:
        raise GorushError(400, f"Number of notifications({count}) over limit({settings.max_notifications})")
    try:
        request = GorushRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise GorushError(400, f"Invalid notification: {where}: {first['msg']}") from None
    for notification in request.notifications:
        check_notification(notification, settings)
    return request


def check_notification(n: GorushNotification, settings: GorushSettings) -> None:
    if n.platform not in PLATFORMS:
        raise GorushError(400, f"platform {n.platform} is not supported (1 = iOS, 2 = Android)")
    if n.to:
        n.tokens.append(n.to)
    if not n.tokens:
        raise GorushError(400, "tokens must not be nil or empty")
    if any(not token for token in n.tokens):
        raise GorushError(400, "the token must not be empty")
    if len(n.tokens) > settings.max_tokens:
        raise GorushError(400, f"tokens must not contain more than {settings.max_tokens} elements")
    if n.priority not in (None, "", "normal", "high"):
        raise GorushError(400, "priority must be normal or high")
    if n.push_type and n.push_type not in PushType._value2member_map_:
        raise GorushError(400, f"push_type {n.push_type!r} is not an APNs push type")


def to_message(n: GorushNotification, platform: Platform) -> Message:
    """The notification as gorush would render it for this platform (buildIOSPayload, FCM's Message)."""
    background = n.content_available and not (n.message or n.title or n.alert)
    push_type = (
        PushType(n.push_type) if n.push_type else (PushType.BACKGROUND if background else PushType.ALERT)
    )
    priority = (
        Priority.NORMAL if n.priority == "normal" or push_type is PushType.BACKGROUND else Priority.HIGH
    )
    return Message(
        title=n.title,
        body=n.message,
        data=n.data,
        priority=priority,
        push_type=push_type,
        sound=n.sound if isinstance(n.sound, str) else None,
        badge=n.badge,
        category=n.category,
        thread_id=n.thread_id,
        content_available=n.content_available,
        mutable_content=n.mutable_content,
        collapse_id=n.collapse_id,
        expiration=n.expiration,
        topic=n.topic if platform is Platform.APNS else None,
        aps=_aps_extras(n) if platform is Platform.APNS else {},
        android=_android_extras(n) if platform is Platform.FCM else {},
    )


def _aps_extras(n: GorushNotification) -> dict[str, JSON]:
    aps: dict[str, JSON] = {}
    if n.alert is not None:
        alert: dict[str, JSON] = n.alert.model_dump(by_alias=True, exclude_none=True)
        if n.title:
            alert.setdefault("title", n.title)
        if n.message:
            alert.setdefault("body", n.message)
        aps["alert"] = alert
    if isinstance(n.sound, dict):
        aps["sound"] = n.sound
    if n.interruption_level:
        aps["interruption-level"] = n.interruption_level
    if n.apns and isinstance(n.apns.get("payload"), dict) and isinstance(n.apns["payload"].get("aps"), dict):
        aps.update(n.apns["payload"]["aps"])
    return aps


def _android_extras(n: GorushNotification) -> dict[str, JSON]:
    android: dict[str, JSON] = dict(n.android or {})
    notification: dict[str, JSON] = dict(n.notification or {})
    if n.image:
        notification.setdefault("image", n.image)
    if notification:
        existing = android.get("notification")
        android["notification"] = {**notification, **(existing if isinstance(existing, dict) else {})}
    return android


def _mask(token: str, mark: int = 10) -> str:
    """gorush's hideToken: the first and last `mark` characters become asterisks."""
    if len(token) < mark * 2:
        return "*" * len(token)
    return "*" * mark + token[mark:-mark] + "*" * mark


@dataclass(frozen=True, slots=True)
class Job:
    """One notification, ready to send.

    Requests become jobs before any push waits, so the parsed request (pydantic models, a few
    KB per notification) is not held while a lane is busy.
    """

    platform: Platform
    tokens: list[str]
    message: Message
    text: str
    notif_id: str | None

    @classmethod
    def of(cls, n: GorushNotification) -> Job:
        platform = PLATFORMS[n.platform]
        return cls(platform, n.tokens, to_message(n, platform), n.message or "", n.notif_id)

    def failure_log(self, token: str, outcome: Outcome, hide: bool) -> dict[str, str]:
        entry = {
            "type": "failed-push",
            "platform": PLATFORM_NAMES[self.platform],
            "token": _mask(token) if hide else token,
            "message": self.text,
            "error": getattr(outcome, "detail", "") or type(outcome).__name__,
        }
        if self.notif_id:
            entry["notif_id"] = self.notif_id
        return entry


class GorushApi:
    """The handlers, bound to a relay and its settings."""

    def __init__(self, relay: Relay, settings: GorushSettings, api_keys: Mapping[str, str]) -> None:
        self.relay = relay
        self.settings = settings
        self.api_keys = dict(api_keys)
        self.stats = GorushStats()

    def app_for(self, request: Request) -> AppId:
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
            for app, key in self.api_keys.items():
                if constant_time_equals(presented, key):
                    return AppId(app)
            raise GorushError(401, "Invalid API key.")
        if self.settings.app is not None:
            return AppId(self.settings.app)
        apps = self.relay.app_ids()
        if len(apps) == 1 and apps[0] not in self.api_keys:
            return apps[0]
        raise GorushError(401, "Missing API key.")

    async def push(self, request: Request) -> JSONResponse:
        try:
            app = self.app_for(request)
            jobs = [Job.of(n) for n in parse_request(await request.body(), self.settings).notifications]
            counts, logs = await self._send_all(app, jobs)
        except GorushError as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.code)
        except Overloaded as exc:
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
            return JSONResponse({"code": 503, "message": str(exc)}, status_code=503, headers=headers)
        return JSONResponse({"success": "ok", "counts": counts, "logs": logs})

    async def _send_all(self, app: AppId, jobs: list[Job]) -> tuple[int, list[dict[str, str]]]:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._send_one(app, job)) for job in jobs]
        except* (Overloaded, GorushError) as failures:
            raise failures.exceptions[0] from None
        logs = [entry for task in tasks for entry in task.result()]
        counts = sum(len(job.tokens) for job in jobs)
        self.stats.total_count += counts
        return counts, logs

    async def _send_one(self, app: AppId, job: Job) -> list[dict[str, str]]:
        self.stats.submitted_tasks += 1
        try:
            outcomes = await self.relay.push_to_tokens(app, job.platform, job.tokens, job.message)
        except Refused as exc:
            raise GorushError(400, f"app {app!r} cannot push: {exc.reason.value}") from None
        failures = []
        for token, outcome in zip(job.tokens, outcomes, strict=True):
            self.stats.record(job.platform, outcome)
            if not isinstance(outcome, Delivered):
                failures.append(job.failure_log(token, outcome, self.settings.hide_token))
        if failures:
            self.stats.failure_tasks += 1
        else:
            self.stats.success_tasks += 1
        return failures


def router(relay: Relay) -> APIRouter:
    settings = relay.settings.gorush
    api_keys = {app: s.api_key for app, s in relay.settings.apps.items() if s.api_key}
    api = GorushApi(relay, settings, api_keys)
    routes = APIRouter(tags=["gorush"])
    routes.add_api_route("/api/push", api.push, methods=["POST"], include_in_schema=False)

    async def stat_app() -> JSONResponse:
        return JSONResponse(api.stats.as_json())

    routes.add_api_route("/api/stat/app", stat_app, methods=["GET"], include_in_schema=False)
    return routes
