"""The URL layout of the ChatSecure Push API v1 under `/api/v1/` (reference §1.1-§1.7).

Every path answers with and without its trailing slash (IOS-SDK builds `tokens/<id>` without
one). Each path takes every method so that an unsupported one gets DRF's 405 body, and every
error leaves as DRF would render it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

import structlog
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from pushrelay.errors import Overloaded, StoreUnavailable
from pushrelay.protocols.chatsecure import accounts, devices, messages, openapi, tokens, wire
from pushrelay.protocols.chatsecure.context import API_PREFIX, Context

log = structlog.get_logger(__name__)

Endpoint = Callable[[Context, Request], Awaitable[Response]]
ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class DrfRoute(APIRoute):
    """Renders ApiError and the Relay's errors in DRF's shapes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except wire.ApiError as exc:
                return exc.to_response()
            except Overloaded as exc:
                return _unavailable(exc.retry_after)
            except StoreUnavailable:
                log.warning("chatsecure.store_unavailable")
                return _unavailable(5.0)

        return handler


def _unavailable(retry_after: float) -> Response:
    seconds = str(max(1, round(retry_after)))
    return wire.detail_error(
        503, "The service is busy; try again later.", {"Retry-After": seconds}
    ).to_response()


def router(ctx: Context) -> APIRouter:
    """The API on `ctx` (see `chatsecure.ChatSecure`, which app.py mounts)."""
    api = APIRouter(route_class=DrfRoute)
    for path, handlers in _table().items():
        _add(api, ctx, API_PREFIX + path, handlers)
    return api


def _table() -> dict[str, dict[str, Endpoint]]:
    return {
        "/": {"GET": _root},
        "/accounts/": {"GET": accounts.show, "POST": accounts.create_or_login},
        "/accounts/{username}/": {
            "GET": lambda c, r: accounts.show(c, r, _param(r, "username")),
            "DELETE": lambda c, r: accounts.delete(c, r, _param(r, "username")),
        },
        "/device/{kind}/": {
            "GET": lambda c, r: devices.list_devices(c, r, _kind(r)),
            "POST": lambda c, r: devices.create(c, r, _kind(r)),
        },
        "/device/{kind}/{id}/": {
            "GET": lambda c, r: devices.show(c, r, _kind(r), _param(r, "id")),
            "PUT": lambda c, r: devices.update(c, r, _kind(r), _param(r, "id"), partial=False),
            "PATCH": lambda c, r: devices.update(c, r, _kind(r), _param(r, "id"), partial=True),
            "DELETE": lambda c, r: devices.delete(c, r, _kind(r), _param(r, "id")),
        },
        "/tokens/": {"GET": tokens.list_tokens, "POST": tokens.create},
        "/tokens/{token}/": {
            "GET": lambda c, r: tokens.show(c, r, _param(r, "token")),
            "PUT": lambda c, r: tokens.update(c, r, _param(r, "token"), partial=False),
            "PATCH": lambda c, r: tokens.update(c, r, _param(r, "token"), partial=True),
            "DELETE": lambda c, r: tokens.delete(c, r, _param(r, "token")),
        },
        "/messages/": {"POST": messages.knock},
        "/pubsub/": {"GET": _pubsub},
        "/openapi.json": {"GET": _schema},
        "/docs/": {"GET": _docs},
    }


def _add(api: APIRouter, ctx: Context, path: str, handlers: dict[str, Endpoint]) -> None:
    allowed = [*handlers, "OPTIONS"] + (["HEAD"] if "GET" in handlers else [])

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        if method == "OPTIONS":
            return Response(status_code=200, headers={"Allow": ", ".join(allowed)})
        handler = handlers.get(method)
        if handler is None:
            raise wire.method_not_allowed(request.method, allowed)
        return await handler(ctx, request)

    variants = {path} if path.endswith(".json") else {path, path.rstrip("/") or path}
    for variant in sorted(variants):
        api.add_api_route(variant, dispatch, methods=ALL_METHODS, include_in_schema=False)


def _param(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _kind(request: Request) -> str:
    kind = _param(request, "kind")
    if kind not in devices.PLATFORMS:
        raise wire.not_found()
    return kind


async def _root(ctx: Context, request: Request) -> Response:
    """SRV APIRoot: each prefix and its absolute URL."""
    await accounts.authenticate(ctx, request)
    base = f"{ctx.public_url}{API_PREFIX}/"
    names = ["device/apns", "device/gcm", "tokens", "messages", "accounts", "pubsub"]
    return wire.json_response({name: f"{base}{name}/" for name in names})


async def _pubsub(ctx: Context, request: Request) -> Response:
    """SRV PubSubNodeViewSet: the XEP-0357 app server's JID, for the client's `enable`."""
    await accounts.authenticate(ctx, request)
    return wire.json_response({"jid": ctx.relay.settings.xmpp.jid})


async def _schema(ctx: Context, request: Request) -> Response:
    return wire.json_response(openapi.document(ctx.public_url))


async def _docs(ctx: Context, request: Request) -> Response:
    return HTMLResponse(openapi.docs_page(openapi.document(ctx.public_url)))
