"""The knock: `POST messages/` (reference §1.6). No authentication: holding the token is enough.

A live token reaches every device its owner has not switched off (SRV's broadcast), through
the Relay. Answers: 202 echoing `token`, `data` and `priority`; 404 with an empty body for an
unknown, expired or revoked token (the APP then drops that token and tries the buddy's next);
429 past the token's knock rate; 503 if every push failed for a reason that may pass.
"""

from __future__ import annotations

import asyncio
import math

import structlog
from starlette.requests import Request
from starlette.responses import Response

from pushrelay.domain import Delivered, Failed, Message, Outcome
from pushrelay.errors import Overloaded, Refused
from pushrelay.protocols.chatsecure import wire
from pushrelay.protocols.chatsecure.accounts import authenticate
from pushrelay.protocols.chatsecure.context import TOKEN_KIND, Context
from pushrelay.protocols.chatsecure.devices import PLATFORMS
from pushrelay.protocols.chatsecure.payloads import knock_message
from pushrelay.protocols.chatsecure.wire import KnockRequest

log = structlog.get_logger(__name__)

KNOCK_RATE_LABEL = "chatsecure.knock"


async def knock(ctx: Context, request: Request) -> Response:
    await authenticate(ctx, request)  # DRF refuses a bad key even here
    body = wire.validate(KnockRequest, await wire.read_body(request, ctx.settings.max_body_bytes))
    ctx.check_rate(ctx.knock_limits, "knock", ctx.relay.keyring.hash(KNOCK_RATE_LABEL, body.token))
    try:
        outcomes = await deliver_knock(ctx, body.token, body.data, urgent=body.priority == "high")
    except Refused:
        raise wire.ApiError(404, None) from None
    echo = wire.json_response({"token": body.token, "data": body.data, "priority": body.priority}, 202)
    failures = [o for o in outcomes if isinstance(o, Failed) and o.retryable]
    delivered = sum(isinstance(o, Delivered) for o in outcomes)
    if failures and not delivered:
        wait = max(o.retry_after or 1.0 for o in failures)
        raise wire.detail_error(
            503, "The push service is unavailable; try again later.", {"Retry-After": str(math.ceil(wait))}
        )
    return echo


async def deliver_knock(ctx: Context, token: str, data: str | None, *, urgent: bool) -> list[Outcome]:
    """Push a knock with whitelist `token` to every device its owner has switched on.

    The one path for knocks, whether they come over HTTP or through the XEP-0357 bridge.
    Raises Refused for an unknown, expired or revoked token.
    """
    try:
        capability = await ctx.relay.resolve_capability(TOKEN_KIND, token)
    except Refused as exc:
        ctx.relay.metrics.refusals.labels(protocol="chatsecure", reason=exc.reason.value).inc()
        log.info("chatsecure.knock_refused", reason=exc.reason.value)
        raise
    assert capability.account_id is not None, "whitelist tokens always reach an account"
    outcomes = await _push_to_owner(ctx, capability.account_id, token, data, urgent=urgent)
    delivered = sum(isinstance(o, Delivered) for o in outcomes)
    log.info("chatsecure.knock", app=capability.app, pushes=len(outcomes), delivered=delivered)
    return outcomes


async def _push_to_owner(
    ctx: Context, account_id: int, token: str, data: str | None, *, urgent: bool
) -> list[Outcome]:
    devices = await ctx.store.enabled_devices(account_id)
    now = ctx.now().timestamp()
    if not urgent and ctx.settings.low_priority == "drop":
        # SRV's gate (commit 81a9b96) held for APNs only; GCM got every knock as a data message.
        devices = [(device_id, kind) for device_id, kind in devices if kind != "apns"]
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                _push_one(
                    ctx,
                    device_id,
                    knock_message(PLATFORMS[kind], token, data, urgent=urgent, now=now),
                )
            )
            for device_id, kind in devices
        ]
    return [task.result() for task in tasks]


async def _push_one(ctx: Context, device_id: int, message: Message) -> Outcome:
    try:
        return await ctx.relay.push_to_device(device_id, message)
    except Overloaded as exc:
        return Failed(retryable=True, detail="overloaded", retry_after=exc.retry_after)
    except Refused:  # the device was deleted while we were sending
        return Failed(retryable=False, detail="device gone", service_fault=False)
