"""Whitelist tokens (reference §1.5): 40-hex knock capabilities, one per sender, revocable.

A token is a Relay capability of kind `chatsecure.token`, reaching every device of its owner
(SRV's broadcast), found by keyed hash and kept sealed so its owner can list it. It is
minted for one of the owner's devices: deleting that device deletes the token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from pushrelay.domain import JSON, Capability
from pushrelay.errors import Refused
from pushrelay.protocols.chatsecure import pages, wire
from pushrelay.protocols.chatsecure.accounts import authenticate, require_account
from pushrelay.protocols.chatsecure.context import API_PREFIX, TOKEN_KIND, Context
from pushrelay.protocols.chatsecure.wire import TokenRequest
from pushrelay.relay import CAPABILITY_VALUE_LABEL
from pushrelay.secrets import random_token
from pushrelay.store.chatsecure import NAME_LABEL, AccountRow, DeviceRow, TokenRow

log = structlog.get_logger(__name__)

NEED_A_DEVICE = "Either an APNS or GCM device must be specified"
ONLY_ONE_DEVICE = "Only one APNS or one GCM device may be specified"


async def list_tokens(ctx: Context, request: Request) -> Response:
    """GET tokens/: the caller's live tokens (anonymous: 403, SRV's TokenSerializer.__init__)."""
    account = await _reader(ctx, request)
    page = pages.requested_page(request, ctx.settings.page_size)
    count, rows = await ctx.store.tokens(account.account_id, page.offset, page.size)
    results = [token_body(ctx, account, row) for row in rows]
    return wire.json_response(pages.envelope(request, page, count, results))


async def create(ctx: Context, request: Request) -> Response:
    """POST tokens/: 201 with a fresh token for one of the caller's devices (the APP keeps 5 spare)."""
    account = await require_account(ctx, request)
    fields = await wire.read_body(request, ctx.settings.max_body_bytes)
    body = wire.validate(TokenRequest, fields)
    device = await _chosen_device(ctx, account, body, required=True)
    assert device is not None
    value = random_token(20)
    capability_id = await ctx.relay.issue_capability(
        TOKEN_KIND,
        value,
        app=account.app,
        account_id=account.account_id,
        expires_at=ctx.now() + timedelta(seconds=ctx.settings.token_lifetime),
        keep_value=True,
    )
    await ctx.store.add_token(capability_id, device.id, ctx.seal(NAME_LABEL, body.name))
    log.info("chatsecure.token_issued", app=account.app)
    return wire.json_response(token_body(ctx, account, await _row(ctx, capability_id)), 201)


async def show(ctx: Context, request: Request, value: str) -> Response:
    account = await _reader(ctx, request)
    _, row = await _owned(ctx, account, value)
    return wire.json_response(token_body(ctx, account, row))


async def update(ctx: Context, request: Request, value: str, *, partial: bool) -> Response:
    """PUT or PATCH tokens/{token}/: rename it or move it to another of the caller's devices."""
    account = await require_account(ctx, request)
    capability, _ = await _owned(ctx, account, value)
    fields = await wire.read_body(request, ctx.settings.max_body_bytes)
    body = wire.validate(TokenRequest, fields)
    changes: dict[str, Any] = {}
    device = await _chosen_device(ctx, account, body, required=not partial)
    if device is not None:
        changes["chatsecure_device_id"] = device.id
    if "name" in body.model_fields_set:
        changes["name_sealed"] = ctx.seal(NAME_LABEL, body.name)
    await ctx.store.update_token(capability.id, changes)
    return wire.json_response(token_body(ctx, account, await _row(ctx, capability.id)))


async def delete(ctx: Context, request: Request, value: str) -> Response:
    """DELETE tokens/{token}/: revoke one sender (IOS-SDK `revokeToken`); its knocks now get 404."""
    account = await require_account(ctx, request)
    capability, _ = await _owned(ctx, account, value)
    await ctx.relay.revoke_capability(TOKEN_KIND, value)
    await ctx.store.delete_token(capability.id)
    log.info("chatsecure.token_revoked", app=account.app)
    return Response(status_code=204)


async def _reader(ctx: Context, request: Request) -> AccountRow:
    account = await authenticate(ctx, request)
    if account is None:
        raise wire.detail_error(403, wire.PERMISSION_DENIED)
    return account


async def _owned(ctx: Context, account: AccountRow, value: str) -> tuple[Capability, TokenRow]:
    """The caller's live token, or 404 (unknown, expired, revoked, or someone else's)."""
    try:
        capability = await ctx.relay.resolve_capability(TOKEN_KIND, value)
    except Refused:
        raise wire.not_found() from None
    row = await ctx.store.token(capability.id) if capability.account_id == account.account_id else None
    if row is None:
        raise wire.not_found()
    return capability, row


async def _row(ctx: Context, capability_id: int) -> TokenRow:
    row = await ctx.store.token(capability_id)
    if row is None:  # deleted between our write and this read, by a concurrent DELETE
        raise wire.not_found()
    return row


async def _chosen_device(
    ctx: Context, account: AccountRow, body: TokenRequest, *, required: bool
) -> DeviceRow | None:
    """SRV TokenSerializer: each id must be one of the caller's devices, then exactly one is given."""
    errors: dict[str, list[str]] = {}
    found: list[DeviceRow] = []
    for kind, public_id in (("apns", body.apns_device), ("gcm", body.gcm_device)):
        if public_id is None:
            continue
        row = await ctx.store.device(account.account_id, kind, public_id)
        if row is None:
            errors[f"{kind}_device"] = [f'Invalid pk "{public_id}" - object does not exist.']
        else:
            found.append(row)
    if errors:
        raise wire.field_errors(errors)
    if len(found) > 1:
        raise wire.field_errors({"non_field_errors": [ONLY_ONE_DEVICE]})
    if not found and required:
        raise wire.field_errors({"non_field_errors": [NEED_A_DEVICE]})
    return found[0] if found else None


def token_body(ctx: Context, account: AccountRow, row: TokenRow) -> JSON:
    """SRV NonNullSerializer: null fields are omitted. `push_info` is docs/v3's federation triple."""
    value = ctx.open(CAPABILITY_VALUE_LABEL, row.sealed_value)
    body: dict[str, Any] = {
        "name": ctx.open(NAME_LABEL, row.name_sealed),
        "token": value,
        f"{row.device_kind}_device": row.device_public_id,
        "date_expires": None if row.expires_at is None else wire.format_datetime(row.expires_at),
        "push_info": {
            "white_list_token": value,
            "api_endpoint": f"{ctx.public_url}{API_PREFIX}/",
            "app_bundle_id": account.app,
        },
    }
    return wire.omit_nulls(body)
