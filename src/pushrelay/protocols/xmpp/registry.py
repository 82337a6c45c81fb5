"""The book of XEP-0357 registrations: register, unregister, and find one by its node.

A registration is one device, account and channel in one app. Stateful (default) ones live
in `store/xmpp.py` with the device in the shared devices table; stateless ones live in the
node itself (`stateless.py`). Either way the secret is derived from the node under the
server key, so it is never stored, and re-registering the same device, account and channel
returns the same node with only the token changed (p2's behaviour).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import structlog

from pushrelay.config import XmppSettings
from pushrelay.domain import AppId, Platform
from pushrelay.relay import Relay
from pushrelay.store.sql import DeviceRow
from pushrelay.store.xmpp import (
    ACCOUNT_LABEL,
    CHANNEL_LABEL,
    NODE_LABEL,
    NewRegistration,
    RegistrationRow,
    XmppStore,
)

from .stateless import SealedRegistration, StatelessNodes, is_stateless

log = structlog.get_logger(__name__)

KEY_LABEL: Final = "xmpp.registration"
NODE_HASH_LABEL: Final = "xmpp.node"
SECRET_LABEL: Final = "xmpp.secret"
DENY_LIST_SIZE: Final = 100_000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Spec:
    """What a dialect's register command asks for."""

    app: AppId
    dialect: str
    platform: Platform
    token: str = field(repr=False)
    domain: str
    identity: str = field(repr=False)
    """What makes the registration unique in its app and dialect (account + channel, or the token)."""
    account: str | None = field(default=None, repr=False)
    channel: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration found by its node: where to push and what to put in the push."""

    app: AppId
    dialect: str
    platform: Platform
    domain: str
    account: str | None = field(default=None, repr=False)
    channel: str | None = field(default=None, repr=False)
    device: DeviceRow | None = field(default=None, repr=False)
    """The device row, read with the registration (stateful registrations)."""
    token: str | None = field(default=None, repr=False)
    """Set for stateless registrations, which have no device row."""


class Registry:
    def __init__(
        self, relay: Relay, store: XmppStore, settings: XmppSettings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._relay = relay
        self._store = store
        self._settings = settings
        self._keyring = relay.keyring
        self._clock = clock
        self._stateless = StatelessNodes(relay.keyring)
        self._denied: set[bytes] = set()

    async def start(self) -> None:
        self._denied = await self._store.denied(DENY_LIST_SIZE)

    def secret_for(self, node: str) -> str:
        if is_stateless(node):
            return self._stateless.secret(node)
        return _b64(self._keyring.hash(SECRET_LABEL, node))[:24]

    def key_hash(self, app: AppId, dialect: str, identity: str) -> bytes:
        return self._keyring.hash(KEY_LABEL, f"{app}\0{dialect}\0{identity}")

    async def register(self, spec: Spec) -> str:
        """The node for `spec`: the same one as before if this registration exists already."""
        key_hash = self.key_hash(spec.app, spec.dialect, spec.identity)
        if self._settings.app_settings(spec.app).stateless:
            return await self._register_stateless(spec, key_hash)
        device_id = await self._relay.register_device(spec.app, spec.platform, spec.token)
        existing = await self._store.by_key(key_hash)
        if existing is not None:
            if existing.device_id != device_id:
                await self._store.move_to_device(existing.id, device_id, self._clock())
                await self._forget_if_unused(existing.device_id)
            return self._keyring.open_str(NODE_LABEL, existing.node_sealed)
        node = _b64(secrets.token_bytes(9))
        await self._store.add(self._new_row(spec, key_hash, node, device_id), self._clock())
        log.info("xmpp.registered", app=spec.app, dialect=spec.dialect, platform=spec.platform.value)
        return node

    async def _register_stateless(self, spec: Spec, key_hash: bytes) -> str:
        if key_hash in self._denied:
            self._denied.discard(key_hash)
            await self._store.allow([key_hash])
        await self._relay.mark_token_alive(spec.app, spec.platform, spec.token)
        sealed = SealedRegistration(
            spec.app,
            spec.dialect,
            spec.platform,
            spec.token,
            spec.domain,
            spec.account,
            spec.channel,
            spec.identity,
        )
        return self._stateless.seal(sealed)

    def _new_row(self, spec: Spec, key_hash: bytes, node: str, device_id: int) -> NewRegistration:
        seal = self._keyring.seal
        return NewRegistration(
            app=spec.app,
            dialect=spec.dialect,
            platform=spec.platform,
            device_id=device_id,
            key_hash=key_hash,
            node_hash=self._keyring.hash(NODE_HASH_LABEL, node),
            node_sealed=seal(NODE_LABEL, node),
            domain=spec.domain,
            account_sealed=None if spec.account is None else seal(ACCOUNT_LABEL, spec.account),
            channel_sealed=None if spec.channel is None else seal(CHANNEL_LABEL, spec.channel),
        )

    async def unregister(self, app: AppId, dialect: str, identity: str) -> bool:
        """Forget the registration; False if there was none. Stateless ones go to the deny list."""
        key_hash = self.key_hash(app, dialect, identity)
        if self._settings.app_settings(app).stateless:
            self._remember_denied(key_hash)
            await self._store.deny([key_hash], self._clock())
            return True
        existing = await self._store.by_key(key_hash)
        if existing is None:
            return False
        await self._store.delete(existing.id)
        await self._forget_if_unused(existing.device_id)
        log.info("xmpp.unregistered", app=app, dialect=dialect)
        return True

    async def find(self, node: str) -> Registration | None:
        """The registration `node` names, or None: unknown, altered, unregistered or of an app now gone."""
        if is_stateless(node):
            return self._open_stateless(node)
        found = await self._store.target_by_node(self._keyring.hash(NODE_HASH_LABEL, node))
        if found is None or found[0].app not in self._relay.settings.apps:
            return None
        return self._registration(*found)

    def _open_stateless(self, node: str) -> Registration | None:
        sealed = self._stateless.open(node)
        if sealed is None or sealed.app not in self._relay.settings.apps:
            return None
        if not self._settings.app_settings(sealed.app).stateless:
            return None
        if self.key_hash(sealed.app, sealed.dialect, sealed.key) in self._denied:
            return None
        return Registration(
            sealed.app,
            sealed.dialect,
            sealed.platform,
            sealed.domain,
            sealed.account,
            sealed.channel,
            token=sealed.token,
        )

    def _registration(self, row: RegistrationRow, device: DeviceRow) -> Registration:
        open_str = self._keyring.open_str
        return Registration(
            app=row.app,
            dialect=row.dialect,
            platform=row.platform,
            domain=row.domain,
            account=None if row.account_sealed is None else open_str(ACCOUNT_LABEL, row.account_sealed),
            channel=None if row.channel_sealed is None else open_str(CHANNEL_LABEL, row.channel_sealed),
            device=device,
        )

    async def _forget_if_unused(self, device_id: int) -> None:
        if await self._store.count_on_device(device_id) == 0:
            await self._relay.forget_device(device_id)

    def _remember_denied(self, key_hash: bytes) -> None:
        if len(self._denied) >= DENY_LIST_SIZE:
            self._denied.pop()
        self._denied.add(key_hash)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
