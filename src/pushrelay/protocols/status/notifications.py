"""Answering a notification request (type 20): one report per item, pushes for the wanted ones.

reference/status-gorush-sygnal.md §1.6, `server.go: buildPushNotificationRequestResponse`,
`buildPushNotificationReport`. Items whose registration's filters (blocked or muted chats,
blocked authors, mention rules) say no are reported as successes without a push, so a
sender never learns it was blocked or muted.

One deliberate difference (docs/status.md): status-go reports success before it calls
gorush and never learns the outcome. Here each push's Outcome reaches the report: a dead
device token becomes NOT_REGISTERED (and the registration is dropped, its version kept), any
other failure INTERNAL_ERROR.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import structlog

from pushrelay.domain import Delivered, Message, Outcome, Platform, Rejected
from pushrelay.errors import PushRelayError, StoreUnavailable
from pushrelay.protocols.status import payload
from pushrelay.protocols.status.proto.push_notifications_pb2 import (
    PushNotification,
    PushNotificationRegistration,
    PushNotificationReport,
    PushNotificationRequest,
    PushNotificationResponse,
)
from pushrelay.protocols.status.registry import ActiveRegistration, Registry

log = structlog.get_logger(__name__)


class Pusher(Protocol):
    """Where wanted notifications go: the Relay in production, a recorder in unit tests."""

    async def push(self, platform: Platform, token: str, message: Message) -> Outcome: ...

    async def revive(self, platform: Platform, token: str) -> None:
        """A client registered `token` again: pushes to it go out again even if it was known dead."""
        ...


@dataclass(slots=True)
class _Send:
    report: PushNotificationReport
    active: ActiveRegistration
    platform: Platform
    message: Message


def is_wanted(notification: PushNotification, registration: PushNotificationRegistration) -> bool:
    """The registration's filters, as status-go's `isValid*Notification`."""
    blocked = registration.blocked_chat_list
    if notification.author in blocked:
        return False
    if notification.type == PushNotification.MESSAGE:
        return (
            notification.chat_id not in blocked and notification.chat_id not in registration.muted_chat_list
        )
    if notification.type == PushNotification.MENTION:
        return (
            not registration.block_mentions
            and notification.chat_id in registration.allowed_mentions_chat_list
        )
    return True


async def answer(
    request: PushNotificationRequest, registry: Registry, pusher: Pusher
) -> PushNotificationResponse:
    reports: list[PushNotificationReport] = []
    sends: list[_Send] = []
    for notification in request.requests:
        report = await _report(notification, registry, sends)
        if report is not None:
            reports.append(report)
    if len(sends) == 1:  # the usual request: one item, no task group needed
        await _deliver(sends[0], registry, pusher)
    elif sends:
        async with asyncio.TaskGroup() as group:
            for send in sends:
                group.create_task(_deliver(send, registry, pusher))
    # Repeated fields copy on append: the reports go in once their outcomes are final.
    return PushNotificationResponse(message_id=request.message_id, reports=reports)


async def _report(
    notification: PushNotification, registry: Registry, sends: list[_Send]
) -> PushNotificationReport | None:
    report = PushNotificationReport(
        public_key=notification.public_key, installation_id=notification.installation_id
    )
    try:
        active = await registry.find(notification.public_key, notification.installation_id)
    except StoreUnavailable:
        return report  # UNKNOWN_ERROR_TYPE, as status-go on a database error
    if notification.type == PushNotification.UNKNOWN_PUSH_NOTIFICATION_TYPE:
        return None  # status-go skips the item without a report
    if active is None:
        report.error = PushNotificationReport.NOT_REGISTERED
    elif not registry.token_matches(active, notification.access_token):
        report.error = PushNotificationReport.WRONG_TOKEN
    else:
        report.success = True
        platform = payload.PLATFORMS.get(active.registration.token_type)
        if platform is not None and is_wanted(notification, active.registration):
            sends.append(
                _Send(report, active, platform, payload.message_for(notification, active.registration))
            )
    return report


async def _deliver(send: _Send, registry: Registry, pusher: Pusher) -> None:
    try:
        outcome = await pusher.push(send.platform, send.active.registration.device_token, send.message)
    except PushRelayError as exc:  # Overloaded, StoreUnavailable: the push was not accepted
        log.warning("status.push_failed", error=type(exc).__name__)
        _fail(send.report, PushNotificationReport.INTERNAL_ERROR)
        return
    match outcome:
        case Delivered():
            pass
        case Rejected() if outcome.is_token_dead:
            log.info("status.token_dead", reason=outcome.reason.value)
            _fail(send.report, PushNotificationReport.NOT_REGISTERED)
            await registry.drop(send.active)
        case _:
            _fail(send.report, PushNotificationReport.INTERNAL_ERROR)


def _fail(report: PushNotificationReport, error: PushNotificationReport.ErrorType) -> None:
    report.success = False
    report.error = error
