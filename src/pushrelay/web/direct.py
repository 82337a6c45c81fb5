"""FastAPI with direct routes: a few hot endpoints served from the ASGI entry point itself.

FastAPI's own layers (its error, telemetry and body-size middleware, exception handlers, exit
stack and route matching) cost about 60 µs of CPU per request on the 2-core development
machine, as much as signing a Status reply twice. A direct route skips them: an exact
(method, path) match hands the request to a bare ASGI endpoint, wrapped in the same user
middleware every other route gets (pushrelay's request metrics and body limit). Everything
else, including other methods on the same path, takes FastAPI's usual way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class FastAPIWithDirectRoutes(FastAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct_endpoints: dict[tuple[str, str], ASGIApp] = {}
        self._direct_stacks: dict[tuple[str, str], ASGIApp] | None = None

    def add_direct_route(self, method: str, path: str, endpoint: ASGIApp) -> None:
        """Serve `method path` (exactly; no path parameters) with `endpoint`, a bare ASGI app.

        The endpoint should also be routed normally, so that other methods get 405 and apps
        that mount the router without this class behave the same.
        """
        if self._direct_stacks is not None:
            raise RuntimeError("direct routes cannot be added once the application has started")
        self._direct_endpoints[(method.upper(), path)] = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._direct_stacks is None:
                self._direct_stacks = {key: self._wrap(app) for key, app in self._direct_endpoints.items()}
            direct = self._direct_stacks.get((scope["method"], scope["path"]))
            if direct is not None:
                await direct(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _wrap(self, endpoint: ASGIApp) -> ASGIApp:
        """The endpoint inside the user middleware, in the order FastAPI stacks it for routes."""
        for cls, args, kwargs in reversed(self.user_middleware):
            endpoint = cls(endpoint, *args, **kwargs)
        return endpoint
