"""The Relay: the one place that decides who a push reaches and whether it may go.

Protocol adapters call it with a capability, a device or raw tokens; it resolves them to
targets, applies expiry, revocation and token hygiene, fans out through the Dispatcher and
returns one Outcome per target. Dead tokens are remembered (in the Store and in a bounded
in-memory deny list) so later pushes to them are answered without calling the provider.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime

import structlog

from pushrelay.config import Settings
from pushrelay.dispatch import Dispatcher, Lane
from pushrelay.domain import (
    AppId,
    Capability,
    Failed,
    Message,
    Outcome,
    Platform,
    Push,
    Rejected,
    RejectReason,
    Target,
    TokenRef,
)
from pushrelay.errors import Overloaded, RefusalReason, Refused
from pushrelay.logs import short_ref
from pushrelay.metrics import Metrics
from pushrelay.providers.sandbox import SandboxProvider
from pushrelay.secrets import Keyring
from pushrelay.store.sql import CapabilityRow, DeadToken, DeviceRow, Store

log = structlog.get_logger(__name__)

DEVICE_TOKEN_LABEL = "devices.token"
CAPABILITY_VALUE_LABEL = "capabilities.value"
DENY_LIST_SIZE = 100_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class Relay:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        keyring: Keyring,
        dispatcher: Dispatcher,
        routes: Mapping[tuple[AppId, Platform], Lane],
        metrics: Metrics,
        sandboxes: Mapping[AppId, SandboxProvider] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keyring = keyring
        self.dispatcher = dispatcher
        self.metrics = metrics
        self._routes = dict(routes)
        self._sandboxes = dict(sandboxes or {})
        self._now = now
        self._dead: OrderedDict[tuple[AppId, Platform, TokenRef], DeadToken] = OrderedDict()

    async def start(self) -> None:
        """Warm the deny list from the Store."""
        for dead in await self.store.dead_tokens(DENY_LIST_SIZE):
            self._remember_dead(dead)

    def app_ids(self) -> list[AppId]:
        return [AppId(app) for app in self.settings.apps]

    def sandbox(self, app: AppId) -> SandboxProvider:
        return self._sandboxes[app]

    def token_ref(self, platform: Platform, token: str) -> TokenRef:
        return TokenRef(self.keyring.hash(f"{DEVICE_TOKEN_LABEL}:{platform.value}", token))

    # accounts and devices

    async def create_account(self, app: AppId) -> int:
        self._check_app(app)
        return await self.store.create_account(app, self._now())

    async def delete_account(self, account_id: int) -> None:
        await self.store.delete_account(account_id)

    async def register_device(
        self, app: AppId, platform: Platform, token: str, *, account_id: int | None = None
    ) -> int:
        """Store the device (token sealed, found by keyed hash); re-registering revives a dead token."""
        self._check_app(app)
        ref = self.token_ref(platform, token)
        sealed = self.keyring.seal(DEVICE_TOKEN_LABEL, token)
        device_id = await self.store.upsert_device(app, platform, ref, sealed, account_id, self._now())
        self._dead.pop((app, platform, ref), None)
        return device_id

    async def mark_token_alive(self, app: AppId, platform: Platform, token: str) -> None:
        """A protocol that keeps its own registrations saw this raw token registered again.

        Only a token the deny list holds costs a Store write (its row becomes active again),
        so registering a healthy token stays free.
        """
        ref = self.token_ref(platform, token)
        if self._dead.pop((app, platform, ref), None) is not None:
            sealed = self.keyring.seal(DEVICE_TOKEN_LABEL, token)
            await self.store.upsert_device(app, platform, ref, sealed, None, self._now())

    async def forget_device(self, device_id: int) -> None:
        await self.store.delete_device(device_id)

    # capabilities

    def _capability_hash(self, kind: str, value: str) -> bytes:
        return self.keyring.hash(f"capability:{kind}", value)

    async def issue_capability(
        self,
        kind: str,
        value: str,
        *,
        app: AppId,
        device_id: int | None = None,
        account_id: int | None = None,
        expires_at: datetime | None = None,
        keep_value: bool = False,
    ) -> int:
        if device_id is None and account_id is None:
            raise ValueError("a capability must reach a device or an account")
        self._check_app(app)
        return await self.store.insert_capability(
            kind,
            self._capability_hash(kind, value),
            app=app,
            sealed_value=self.keyring.seal(CAPABILITY_VALUE_LABEL, value) if keep_value else None,
            device_id=device_id,
            account_id=account_id,
            expires_at=expires_at,
            now=self._now(),
        )

    async def resolve_capability(self, kind: str, value: str) -> Capability:
        """The capability for `value`; Refused if unknown, revoked or expired."""
        row = await self.store.find_capability(kind, self._capability_hash(kind, value))
        if row is None:
            raise Refused(RefusalReason.UNKNOWN)
        if row.revoked:
            raise Refused(RefusalReason.REVOKED)
        if row.expires_at is not None and row.expires_at <= self._now():
            raise Refused(RefusalReason.EXPIRED)
        return self._capability(row)

    async def revoke_capability(self, kind: str, value: str) -> bool:
        return await self.store.revoke_capability(kind, self._capability_hash(kind, value))

    async def account_capabilities(self, kind: str, account_id: int) -> list[Capability]:
        return [
            self._capability(row) for row in await self.store.capabilities_of(kind, account_id=account_id)
        ]

    async def delete_expired_capabilities(self, now: datetime | None = None) -> int:
        return await self.store.delete_expired_capabilities(now or self._now())

    def _capability(self, row: CapabilityRow) -> Capability:
        value = (
            self.keyring.open_str(CAPABILITY_VALUE_LABEL, row.sealed_value)
            if row.sealed_value is not None
            else None
        )
        return Capability(
            id=row.id,
            kind=row.kind,
            app=row.app,
            device_id=row.device_id,
            account_id=row.account_id,
            expires_at=row.expires_at,
            revoked=row.revoked,
            value=value,
        )

    # pushes

    async def push_to_device(self, device_id: int, message: Message) -> Outcome:
        row = await self.store.get_device(device_id)
        if row is None:
            raise Refused(RefusalReason.UNKNOWN)
        (outcome,) = await self._push_rows([row], message)
        return outcome

    async def push_to_device_row(self, row: DeviceRow, message: Message) -> Outcome:
        """`push_to_device` for a caller whose own query already read the device row (one read less)."""
        (outcome,) = await self._push_rows([row], message)
        return outcome

    async def push_to_account(self, account_id: int, message: Message) -> list[Outcome]:
        """One outcome per device of the account; dead devices answer from hygiene."""
        return await self._push_rows(await self.store.account_devices(account_id), message)

    async def push_to_tokens(
        self, app: AppId, platform: Platform, tokens: Sequence[str], message: Message
    ) -> list[Outcome]:
        """Push to raw tokens nobody registered here (gorush API, Status registrations)."""
        self._check_app(app)
        if len(tokens) == 1:  # the common case, kept shallow: each waiting push holds these frames
            target = Target(app, platform, tokens[0], self.token_ref(platform, tokens[0]))
            dead = self._dead.get((app, platform, target.ref))
            outcome = await (self._answer_dead(target, dead) if dead else self._deliver(target, message))
            return self._unless_all_shed([outcome])
        targets = [Target(app, platform, token, self.token_ref(platform, token)) for token in tokens]
        return await self._push(targets, message)

    async def _push_rows(self, rows: Sequence[DeviceRow], message: Message) -> list[Outcome]:
        """Push to registered devices. Their row is the truth about their state, not the deny list."""
        calls = []
        for row in rows:
            target = Target(
                row.app,
                row.platform,
                self.keyring.open_str(DEVICE_TOKEN_LABEL, row.token_sealed),
                row.token_hash,
                row.id,
            )
            if row.is_active:
                calls.append(self._deliver(target, message))
            else:
                dead = DeadToken(
                    row.app,
                    row.platform,
                    row.token_hash,
                    row.invalid_since or self._now(),
                    row.invalid_reason or "",
                )
                calls.append(self._answer_dead(target, dead))
        return await self._gather(calls)

    async def _push(self, targets: Sequence[Target], message: Message) -> list[Outcome]:
        calls = []
        for target in targets:
            dead = self._dead.get((target.app, target.platform, target.ref))
            calls.append(self._answer_dead(target, dead) if dead else self._deliver(target, message))
        return await self._gather(calls)

    async def _gather(self, calls: Sequence[Coroutine[None, None, Outcome]]) -> list[Outcome]:
        if len(calls) == 1:
            return self._unless_all_shed([await calls[0]])
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
        return self._unless_all_shed([task.result() for task in tasks])

    def _unless_all_shed(self, outcomes: list[Outcome]) -> list[Outcome]:
        """The outcomes, or Overloaded if every push was refused by a full lane."""
        shed = [o for o in outcomes if isinstance(o, Failed) and o.detail == "overloaded"]
        if outcomes and len(shed) == len(outcomes):
            raise Overloaded("relay", retry_after=max(o.retry_after or 1.0 for o in shed))
        return outcomes

    async def _answer_dead(self, target: Target, dead: DeadToken) -> Outcome:
        self.metrics.short_circuits.labels(app=target.app, platform=target.platform.value).inc()
        return Rejected(
            _reason(dead.reason), detail=f"known dead token ({dead.reason})", invalid_since=dead.since
        )

    async def _deliver(self, target: Target, message: Message) -> Outcome:
        lane = self._routes.get((target.app, target.platform))
        if lane is None:
            return Rejected(RejectReason.NO_PROVIDER, detail=f"no provider for {target.platform.value}")
        try:
            outcome = await lane.deliver(Push(target, message))
        except Overloaded as exc:
            return Failed(retryable=True, detail="overloaded", retry_after=exc.retry_after)
        if isinstance(outcome, Rejected) and outcome.is_token_dead:
            await self._invalidate(target, outcome)
        return outcome

    async def _invalidate(self, target: Target, outcome: Rejected) -> None:
        since = outcome.invalid_since or self._now()
        dead = DeadToken(target.app, target.platform, target.ref, since, outcome.reason.value)
        self._remember_dead(dead)
        self.metrics.tokens_invalidated.labels(
            app=target.app, platform=target.platform.value, reason=outcome.reason.value
        ).inc()
        log.info(
            "token.invalidated",
            app=target.app,
            platform=target.platform.value,
            token_ref=short_ref(target.ref),
            reason=outcome.reason.value,
        )
        sealed = self.keyring.seal(DEVICE_TOKEN_LABEL, target.token)
        await self.store.invalidate_token(
            target.app, target.platform, target.ref, sealed, since, outcome.reason.value
        )

    def _remember_dead(self, dead: DeadToken) -> None:
        key = (dead.app, dead.platform, dead.token_hash)
        self._dead[key] = dead
        self._dead.move_to_end(key)
        if len(self._dead) > DENY_LIST_SIZE:
            self._dead.popitem(last=False)

    def _check_app(self, app: AppId) -> None:
        if app not in self.settings.apps:
            raise Refused(RefusalReason.UNKNOWN)


def _reason(value: str) -> RejectReason:
    try:
        return RejectReason(value)
    except ValueError:
        return RejectReason.UNREGISTERED
