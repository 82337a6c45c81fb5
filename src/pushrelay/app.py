"""Wiring: settings in, a running relay out.

`Runtime` builds the store, keyring, providers, dispatcher and relay, and starts and stops
them with the services protocols add (XMPP component, pruning jobs). `create_app` puts the
HTTP protocols and the operational endpoints on one FastAPI app whose lifespan runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Final, Protocol

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from pushrelay import __version__
from pushrelay.config import AppSettings, Settings
from pushrelay.dispatch import Dispatcher, Lane
from pushrelay.domain import AppId, Platform, Provider
from pushrelay.errors import ConfigError
from pushrelay.metrics import Metrics
from pushrelay.protocols import chatsecure, gorush, status
from pushrelay.providers import apns, fcm
from pushrelay.providers import gorush as gorush_forward
from pushrelay.providers.sandbox import SandboxDelivery, SandboxProvider
from pushrelay.relay import Relay
from pushrelay.secrets import Keyring, load_key_file, write_key_file
from pushrelay.store.database import Database
from pushrelay.store.sql import Store
from pushrelay.web.direct import FastAPIWithDirectRoutes
from pushrelay.web.middleware import BodyLimitMiddleware, MetricsMiddleware

log = structlog.get_logger(__name__)

ProviderFactory = Callable[[AppId, AppSettings], Provider]

PROVIDERS: Final[Mapping[Platform, tuple[str, ProviderFactory]]] = {
    Platform.APNS: ("apns", apns.build),
    Platform.FCM: ("fcm", fcm.build),
}
"""Real providers by platform: (the `[apps.<id>]` attribute that configures it, its factory)."""


class Service(Protocol):
    """Something the runtime starts after the store and stops before it (XMPP component, jobs)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def read_keyring(settings: Settings) -> Keyring | None:
    """The key file's keyring; None if there is none yet and `serve` may create it. ConfigError otherwise."""
    path = settings.secrets.key_file
    if path.exists():
        try:
            return load_key_file(path)
        except (OSError, ValueError) as exc:
            raise ConfigError([f"secrets.key_file: {exc}"]) from None
    if not settings.secrets.create_if_missing:
        raise ConfigError(["secrets.key_file: no such file (run `pushrelay init`)"])
    return None


def load_keyring(settings: Settings) -> Keyring:
    """The key file's keyring, generated and written (mode 0600) on first start."""
    keyring = read_keyring(settings)
    if keyring is not None:
        return keyring
    path = settings.secrets.key_file
    keyring = Keyring.generate()
    write_key_file(path, keyring)
    log.warning("secrets.key_created", path=str(path))
    return keyring


class Runtime:
    """Everything a running relay owns, started and stopped in order."""

    def __init__(
        self,
        settings: Settings,
        keyring: Keyring | None = None,
        providers: Mapping[tuple[AppId, Platform], Provider] | None = None,
    ) -> None:
        """`providers` replaces the configured provider of an (app, platform): embedding, tests."""
        self.settings = settings
        self._provider_overrides = dict(providers or {})
        self.metrics = Metrics()
        self.database = Database(settings.store)
        self.store = Store(self.database)
        self.dispatcher = Dispatcher(settings.dispatch, self.metrics)
        self.sandboxes: dict[AppId, SandboxProvider] = {}
        self._forwarders: dict[AppId, Provider] = {}
        routes = self._build_routes()
        self.relay = Relay(
            settings,
            self.store,
            keyring or load_keyring(settings),
            self.dispatcher,
            routes,
            self.metrics,
            sandboxes=self.sandboxes,
        )
        self.services: list[Service] = []

    def _build_routes(self) -> dict[tuple[AppId, Platform], Lane]:
        routes: dict[tuple[AppId, Platform], Lane] = {}
        for app_name, app_settings in self.settings.apps.items():
            app = AppId(app_name)
            for platform in Platform:
                provider = self._provider_for(app, app_settings, platform)
                if provider is not None:
                    routes[(app, platform)] = self.dispatcher.add_lane(app, provider)
        return routes

    def _provider_for(self, app: AppId, settings: AppSettings, platform: Platform) -> Provider | None:
        if (app, platform) in self._provider_overrides:
            return self._provider_overrides[(app, platform)]
        if settings.gorush is not None:
            # One forwarding provider carries both platforms to the external gorush.
            if app not in self._forwarders:
                self._forwarders[app] = gorush_forward.build(app, settings.gorush)
            return self._forwarders[app]
        if platform in PROVIDERS:
            attribute, factory = PROVIDERS[platform]
            if getattr(settings, attribute) is not None:
                return factory(app, settings)
        if settings.sandbox.enabled:
            if app not in self.sandboxes:
                self.sandboxes[app] = SandboxProvider(app, settings.sandbox.capacity)
            return self.sandboxes[app]
        return None

    async def start(self) -> None:
        await self.database.connect()
        if self.settings.store.migrate_on_start:
            await self.database.migrate()
        await self.relay.start()
        for service in self.services:
            await service.start()
        log.info(
            "relay.started",
            version=__version__,
            apps=sorted(self.settings.apps),
            store=self.database.dialect_name,
        )

    async def stop(self) -> None:
        for service in reversed(self.services):
            await service.stop()
        drained = await self.dispatcher.drain(self.settings.server.drain_timeout)
        log.info("relay.stopped", drained=drained)
        await self.dispatcher.aclose()
        await self.database.dispose()


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPIWithDirectRoutes(
        title="pushrelay", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.runtime = runtime
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.server.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    _add_operational_routes(app, runtime)
    if settings.gorush.enabled:
        app.include_router(gorush.router(runtime.relay))
    knock = None
    if settings.chatsecure.enabled:
        chatsecure_api = chatsecure.ChatSecure(runtime.relay)
        app.state.chatsecure = chatsecure_api
        app.include_router(chatsecure_api.router())
        runtime.services.append(chatsecure_api.pruner())
        knock = chatsecure_api.knock
    if settings.xmpp.enabled:
        from pushrelay.protocols import xmpp  # slixmpp is loaded only when the component runs

        runtime.services.append(xmpp.build(runtime.relay, knock=knock))
    if settings.status.enabled:
        status_service = status.build(runtime.relay)
        runtime.services.append(status_service)
        app.include_router(status.router(status_service))
        # Every Status message is one request here: past FastAPI's layers (web/direct.py).
        messages = status.MessagesEndpoint(status_service)
        app.add_direct_route("POST", messages.path, messages)
    return app


def _add_operational_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        """Liveness: the process answers."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        """Readiness: the store answers."""
        try:
            await runtime.database.ping()
        except Exception as exc:  # any driver error means "not ready"
            return JSONResponse({"status": "unavailable", "store": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/sandbox/deliveries", include_in_schema=False)
    async def sandbox_deliveries() -> Response:
        """What the sandbox provider recorded, newest last; tokens shown only by keyed-hash prefix."""
        if not runtime.sandboxes:
            return JSONResponse({"detail": "no app has the sandbox provider enabled"}, status_code=404)
        return JSONResponse(
            {
                "deliveries": [
                    _describe_delivery(d)
                    for sandbox in runtime.sandboxes.values()
                    for d in sandbox.deliveries
                ]
            }
        )


def _describe_delivery(delivery: SandboxDelivery) -> dict[str, object]:
    return {
        "at": delivery.at,
        "app": delivery.app,
        "platform": delivery.platform.value,
        "token_ref": delivery.token_ref,
        "push_id": delivery.push_id,
        "message": {k: v for k, v in asdict(delivery.message).items() if v not in (None, {}, False)},
    }
