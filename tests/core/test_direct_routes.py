"""Direct routes (pushrelay.web.direct): hot endpoints past FastAPI's layers, inside the user middleware."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushrelay.web.direct import FastAPIWithDirectRoutes


async def direct_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("direct")(scope, receive, send)


class TagMiddleware:
    """Adds `x-tags: <name>` to responses, after the tags of the middleware inside it."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message["headers"])
                inner = headers.get(b"x-tags")
                headers[b"x-tags"] = self.name if inner is None else inner + b"," + self.name
                message = {**message, "headers": list(headers.items())}
            await send(message)

        await self.app(scope, receive, tagging_send)


def app_with_a_direct_route() -> FastAPIWithDirectRoutes:
    app = FastAPIWithDirectRoutes()
    app.add_middleware(TagMiddleware, name="inner")
    app.add_middleware(TagMiddleware, name="outer")

    @app.get("/hot")
    async def routed() -> PlainTextResponse:
        return PlainTextResponse("routed")

    app.add_direct_route("POST", "/hot", direct_endpoint)
    return app


async def request(app: FastAPIWithDirectRoutes, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        return await http.request(method, path)


async def test_a_direct_route_runs_inside_the_user_middleware_in_order() -> None:
    """The direct endpoint answers, wrapped as FastAPI wraps routes: first added is innermost."""
    response = await request(app_with_a_direct_route(), "POST", "/hot")
    assert (response.text, response.headers["x-tags"]) == ("direct", "inner,outer")


async def test_other_methods_and_paths_take_fastapis_way() -> None:
    """Only the exact (method, path) is direct; the rest is routed, 405 and 404 included."""
    app = app_with_a_direct_route()
    get = await request(app, "GET", "/hot")
    assert (get.text, get.headers["x-tags"]) == ("routed", "inner,outer")
    assert (await request(app, "PUT", "/hot")).status_code == 405
    assert (await request(app, "POST", "/hot/more")).status_code == 404


async def test_direct_routes_are_fixed_once_the_app_serves() -> None:
    """Like middleware, a direct route cannot be added after the first request."""
    app = app_with_a_direct_route()
    await request(app, "POST", "/hot")
    with pytest.raises(RuntimeError):
        app.add_direct_route("POST", "/cold", direct_endpoint)
