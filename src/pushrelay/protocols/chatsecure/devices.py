"""APNS and GCM devices (reference §1.4): CRUD by UUID, visible to their owner only.

The registration id goes to the Relay (sealed, found by keyed hash); this module keeps the
ChatSecure extras. `active` is the owner's switch *and* token hygiene: a device whose token
APNs or FCM declared dead reads `active: false` until the app registers its token again.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import structlog
from starlette.requests import Request
from starlette.responses import Response

from pushrelay.domain import JSON, Platform
from pushrelay.protocols.chatsecure import pages, wire
from pushrelay.protocols.chatsecure.accounts import authenticate, require_account
from pushrelay.protocols.chatsecure.context import Context
from pushrelay.protocols.chatsecure.wire import ApnsDeviceRequest, DeviceRequest, GcmDeviceRequest
from pushrelay.relay import DEVICE_TOKEN_LABEL
from pushrelay.store.chatsecure import DEVICE_IDENT_LABEL, NAME_LABEL, AccountRow, DeviceRow

log = structlog.get_logger(__name__)

PLATFORMS: Final = {"apns": Platform.APNS, "gcm": Platform.FCM}
"""ChatSecure's device kinds and the push service each reaches (GCM devices go through FCM v1)."""

_MODELS: Final[dict[str, type[DeviceRequest]]] = {"apns": ApnsDeviceRequest, "gcm": GcmDeviceRequest}


async def list_devices(ctx: Context, request: Request, kind: str) -> Response:
    """GET device/{kind}/: the caller's devices; anonymous callers get an empty list, as in SRV."""
    account = await authenticate(ctx, request)
    page = pages.requested_page(request, ctx.settings.page_size)
    count, rows = (
        (0, [])
        if account is None
        else await ctx.store.devices(account.account_id, kind, page.offset, page.size)
    )
    return wire.json_response(pages.envelope(request, page, count, [device_body(ctx, row) for row in rows]))


async def create(ctx: Context, request: Request, kind: str) -> Response:
    """POST device/{kind}/: 201 with the new device (IOS-SDK `registerDevice`, AND-SDK `createDevice`)."""
    account = await require_account(ctx, request)
    fields = await wire.read_body(request, ctx.settings.max_body_bytes)
    body = wire.validate(_MODELS[kind], fields, required=("registration_id",))
    assert body.registration_id is not None
    device_id = await ctx.relay.register_device(
        account.app, PLATFORMS[kind], body.registration_id, account_id=account.account_id
    )
    public_id = str(uuid.uuid4())
    await ctx.store.create_device(
        public_id=public_id,
        account_id=account.account_id,
        device_id=device_id,
        kind=kind,
        fields={
            "name_sealed": ctx.seal(NAME_LABEL, body.name),
            "ident_sealed": ctx.seal(DEVICE_IDENT_LABEL, body.device_id),
            "enabled": body.active,
        },
        now=ctx.now(),
    )
    log.info("chatsecure.device_created", kind=kind, app=account.app)
    return wire.json_response(device_body(ctx, await _owned(ctx, account, kind, public_id)), 201)


async def show(ctx: Context, request: Request, kind: str, public_id: str) -> Response:
    account = await authenticate(ctx, request)
    if account is None:
        raise wire.not_found()
    return wire.json_response(device_body(ctx, await _owned(ctx, account, kind, public_id)))


async def update(ctx: Context, request: Request, kind: str, public_id: str, *, partial: bool) -> Response:
    """PUT (registration_id required) or PATCH device/{kind}/{id}/: the IOS-APP's PUT on every launch."""
    account = await require_account(ctx, request)
    row = await _owned(ctx, account, kind, public_id)
    fields = await wire.read_body(request, ctx.settings.max_body_bytes)
    body = wire.validate(_MODELS[kind], fields, required=() if partial else ("registration_id",))
    changes: dict[str, Any] = {}
    given = body.model_fields_set
    if "name" in given:
        changes["name_sealed"] = ctx.seal(NAME_LABEL, body.name)
    if "device_id" in given:
        changes["ident_sealed"] = ctx.seal(DEVICE_IDENT_LABEL, body.device_id)
    if "active" in given:
        changes["enabled"] = body.active
    if body.registration_id is not None:
        # Registering the token again also revives it if hygiene had marked it dead.
        changes["device_id"] = await ctx.relay.register_device(
            account.app, PLATFORMS[kind], body.registration_id, account_id=account.account_id
        )
    await ctx.store.update_device(row.id, changes)
    if changes.get("device_id", row.device_id) != row.device_id:
        await _forget_if_unused(ctx, row.device_id)
    return wire.json_response(device_body(ctx, await _owned(ctx, account, kind, public_id)))


async def delete(ctx: Context, request: Request, kind: str, public_id: str) -> Response:
    """DELETE device/{kind}/{id}/: 204; the tokens minted for this device die with it."""
    account = await require_account(ctx, request)
    row = await _owned(ctx, account, kind, public_id)
    if await ctx.store.delete_device(row):
        await ctx.relay.forget_device(row.device_id)
    log.info("chatsecure.device_deleted", kind=kind)
    return Response(status_code=204)


async def _forget_if_unused(ctx: Context, device_id: int) -> None:
    if not await ctx.store.is_device_linked(device_id):
        await ctx.relay.forget_device(device_id)


async def _owned(ctx: Context, account: AccountRow, kind: str, public_id: str) -> DeviceRow:
    """The caller's device, or 404 whether it is someone else's or nobody's (SRV's queryset filter)."""
    row = await ctx.store.device(account.account_id, kind, public_id)
    if row is None:
        raise wire.not_found()
    return row


def device_body(ctx: Context, row: DeviceRow) -> JSON:
    """SRV DeviceSerializer, keys in its order (a real one was 252 bytes in APP #1113's log)."""
    return {
        "name": ctx.open(NAME_LABEL, row.name_sealed),
        "id": row.public_id,
        "active": row.enabled and row.is_reachable,
        "registration_id": ctx.relay.keyring.open_str(DEVICE_TOKEN_LABEL, row.token_sealed),
        "device_id": ctx.open(DEVICE_IDENT_LABEL, row.ident_sealed),
        "date_created": wire.format_datetime(row.created_at),
    }
