"""Accounts (reference §1.3) and DRF TokenAuthentication (reference §1.1).

`POST accounts/` is create-or-login and always answers 200 with an all-string body, because
IOS-SDK casts it to `[String: String]`. The API key it returns is derived from the password
(credentials.py), so a login gives back the key the account was created with.
"""

from __future__ import annotations

import uuid

import structlog
from starlette.requests import Request
from starlette.responses import Response

from pushrelay.domain import JSON, AppId
from pushrelay.protocols.chatsecure import wire
from pushrelay.protocols.chatsecure.context import Context, client_address
from pushrelay.protocols.chatsecure.wire import AccountRequest
from pushrelay.store.chatsecure import EMAIL_LABEL, USERNAME_LABEL, AccountRow, NewAccount, UsernameTaken

log = structlog.get_logger(__name__)

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_TAKEN = "An account with that email address already exists."


async def authenticate(ctx: Context, request: Request) -> AccountRow | None:
    """DRF TokenAuthentication: None without an `Authorization: Token` header, 401 for a bad one.

    As in DRF, a bad key is refused on every endpoint, the anonymous ones included.
    """
    words = request.headers.get("authorization", "").split()
    if not words or words[0].lower() != "token":
        return None
    if len(words) == 1:
        raise wire.invalid_token("Invalid token header. No credentials provided.")
    if len(words) > 2:
        raise wire.invalid_token("Invalid token header. Token string should not contain spaces.")
    account = await ctx.store.account_by_api_key(ctx.hasher.api_key_hash(words[1]))
    if account is None:
        raise wire.invalid_token()
    return account


async def require_account(ctx: Context, request: Request) -> AccountRow:
    """IsAuthenticated: 401 `Authentication credentials were not provided.` when anonymous."""
    account = await authenticate(ctx, request)
    if account is None:
        raise wire.not_authenticated()
    return account


async def create_or_login(ctx: Context, request: Request) -> Response:
    """POST accounts/: log in if the username exists, else create the account (both 200)."""
    ctx.check_rate(ctx.account_limits, "account", client_address(request))
    await authenticate(ctx, request)
    fields = await wire.read_body(request, ctx.settings.max_body_bytes)
    body = wire.validate(AccountRequest, fields)
    app = _chosen_app(ctx, fields.get("app"))
    username_hash = ctx.relay.keyring.hash(USERNAME_LABEL, body.username)
    existing = await ctx.store.account_by_username(username_hash)
    if existing is None:
        try:
            return await _create(ctx, body, app, username_hash)
        except UsernameTaken:  # a concurrent request created it first: this one is a login
            existing = await ctx.store.account_by_username(username_hash)
            assert existing is not None
    return await _login(ctx, body, existing)


async def _login(ctx: Context, body: AccountRequest, account: AccountRow) -> Response:
    api_key = await ctx.hasher.check(body.password, account.password)
    if api_key is None:
        log.info("chatsecure.login_refused")
        raise wire.ApiError(401, {"error": INVALID_CREDENTIALS})
    return wire.json_response(_account_body(ctx, account, api_key))


async def _create(ctx: Context, body: AccountRequest, app: AppId, username_hash: bytes) -> Response:
    email_hash = None if body.email is None else ctx.relay.keyring.hash(EMAIL_LABEL, body.email.lower())
    if email_hash is not None and await ctx.store.email_is_taken(email_hash):
        raise wire.ApiError(400, {"error": EMAIL_TAKEN})
    credentials = await ctx.hasher.enroll(body.password)
    new = NewAccount(
        public_id=str(uuid.uuid4()),
        username_hash=username_hash,
        username_sealed=ctx.relay.keyring.seal(USERNAME_LABEL, body.username),
        password=credentials.record.encode(),
        api_key_hash=ctx.hasher.api_key_hash(credentials.api_key),
        email_hash=email_hash,
        email_sealed=ctx.seal(EMAIL_LABEL, body.email),
    )
    account_id = await ctx.relay.create_account(app)
    try:
        account = await ctx.store.create_account(account_id, app, new, ctx.now())
    except UsernameTaken:
        await ctx.relay.delete_account(account_id)
        raise
    log.info("chatsecure.account_created", app=app)
    return wire.json_response(_account_body(ctx, account, credentials.api_key))


def _chosen_app(ctx: Context, requested: object) -> AppId:
    """pushrelay's addition: `app` picks which configured app the account's devices belong to."""
    if requested is None or requested == "":
        return ctx.default_app
    if not isinstance(requested, str) or requested not in ctx.relay.app_ids():
        raise wire.field_errors({"app": [f'"{requested}" is not a valid choice.']})
    return AppId(requested)


async def show(ctx: Context, request: Request, username: str | None = None) -> Response:
    """GET accounts/ and accounts/{username}/: the caller's own account, without its key."""
    account = await _own_account(ctx, request, username)
    return wire.json_response(_account_body(ctx, account))


async def delete(ctx: Context, request: Request, username: str) -> Response:
    """DELETE accounts/{username}/: the account, its devices and its tokens (IOS-SDK `unregister`)."""
    account = await _own_account(ctx, request, username)
    await ctx.relay.delete_account(account.account_id)
    log.info("chatsecure.account_deleted")
    return Response(status_code=204)


async def _own_account(ctx: Context, request: Request, username: str | None) -> AccountRow:
    account = await require_account(ctx, request)
    if username is not None and username != ctx.relay.keyring.open_str(
        USERNAME_LABEL, account.username_sealed
    ):
        raise wire.not_found()  # someone else's or nobody's: the same answer, no username oracle
    return account


def _account_body(ctx: Context, account: AccountRow, api_key: str | None = None) -> JSON:
    """SRV `create_user_response_data`: every value a string (`email` is "" when none)."""
    body: dict[str, JSON] = {
        "username": ctx.relay.keyring.open_str(USERNAME_LABEL, account.username_sealed),
        "email": ctx.open(EMAIL_LABEL, account.email_sealed) or "",
        "id": account.public_id,
    }
    if api_key is not None:
        body["token"] = api_key
    return body
