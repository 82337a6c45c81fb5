"""The XEP-0357 app server as an XEP-0114 component (reference/xep0357.md).

`build(relay)` returns the component the app's lifespan starts and stops when `[xmpp]
enabled`; see docs/xmpp.md for the operator's side.
"""

from __future__ import annotations

import httpx

from pushrelay.errors import ConfigError
from pushrelay.relay import Relay
from pushrelay.store.xmpp import XmppStore

from .bridge import ChatSecureBridge, Knock
from .component import XmppComponent
from .registration import Registration
from .registry import Registry
from .throttle import Throttle
from .xep_0357 import PushService

__all__ = ["XmppComponent", "build"]


def build(relay: Relay, http: httpx.AsyncClient | None = None, knock: Knock | None = None) -> XmppComponent:
    """The component, wired to the Relay and the XMPP tables; refuses apps that are not configured.

    `knock` delivers ChatSecure knocks for this relay's own endpoint (the ChatSecure API's
    `ChatSecure.knock`); without it such knocks are refused like any other endpoint.
    """
    settings = relay.settings.xmpp
    _check_apps(relay)
    registry = Registry(relay, XmppStore(relay.store.database), settings)
    client = http or httpx.AsyncClient(follow_redirects=False)
    bridge = ChatSecureBridge(relay.settings.server.public_url, settings.bridge_endpoints, client, knock)
    push = PushService(relay, registry, settings, bridge, Throttle(settings.rate_interval))

    async def on_start() -> None:
        await registry.start()

    async def on_stop() -> None:
        if http is None:  # ours to close; a caller's client is the caller's
            await client.aclose()

    return XmppComponent(settings, push, Registration(registry, settings), on_start=on_start, on_stop=on_stop)


def _check_apps(relay: Relay) -> None:
    settings = relay.settings.xmpp
    named = {
        "xmpp.fcm_app": settings.fcm_app,
        "xmpp.apns_app": settings.apns_app,
        "xmpp.tigase_app": settings.tigase_app,
        **{f"xmpp.push_modules.{module}": app for module, app in settings.push_modules.items()},
        **{f"xmpp.apps.{app}": app for app in settings.apps},
    }
    problems = [
        f"{key}: no app {app!r} in [apps]"
        for key, app in named.items()
        if app and app not in relay.settings.apps
    ]
    if problems:
        raise ConfigError(problems)
