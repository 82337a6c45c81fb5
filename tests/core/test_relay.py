"""The Relay's rules: capabilities, fan-out to an account, token hygiene and the 410 rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pushrelay.app import Runtime
from pushrelay.domain import AppId, Delivered, Message, Platform, Rejected, RejectReason
from pushrelay.errors import RefusalReason, Refused
from pushrelay.relay import Relay
from tests.conftest import SettingsFactory

APP = AppId("default")
HELLO = Message(body="hello")


async def test_a_push_to_an_account_reaches_every_device(relay: Relay) -> None:
    account = await relay.create_account(APP)
    await relay.register_device(APP, Platform.APNS, "a" * 64, account_id=account)
    await relay.register_device(APP, Platform.FCM, "fcm-token-1", account_id=account)
    outcomes = await relay.push_to_account(account, HELLO)
    assert [type(o) for o in outcomes] == [Delivered, Delivered]
    tokens = {d.token for d in relay.sandbox(APP).deliveries}
    assert tokens == {"a" * 64, "fcm-token-1"}


async def test_an_unknown_capability_is_refused(relay: Relay) -> None:
    with pytest.raises(Refused) as refused:
        await relay.resolve_capability("test", "nope")
    assert refused.value.reason is RefusalReason.UNKNOWN


async def test_an_expired_capability_is_refused(relay: Relay) -> None:
    account = await relay.create_account(APP)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await relay.issue_capability("test", "cap", app=APP, account_id=account, expires_at=past)
    with pytest.raises(Refused) as refused:
        await relay.resolve_capability("test", "cap")
    assert refused.value.reason is RefusalReason.EXPIRED


async def test_a_revoked_capability_is_refused(relay: Relay) -> None:
    account = await relay.create_account(APP)
    await relay.issue_capability("test", "cap", app=APP, account_id=account)
    assert await relay.revoke_capability("test", "cap")
    with pytest.raises(Refused) as refused:
        await relay.resolve_capability("test", "cap")
    assert refused.value.reason is RefusalReason.REVOKED


async def test_a_kept_capability_value_can_be_listed_by_its_owner(relay: Relay) -> None:
    account = await relay.create_account(APP)
    await relay.issue_capability("test", "shown", app=APP, account_id=account, keep_value=True)
    await relay.issue_capability("test", "hidden", app=APP, account_id=account)
    assert [c.value for c in await relay.account_capabilities("test", account)] == ["shown", None]


async def test_capabilities_of_one_kind_do_not_resolve_as_another(relay: Relay) -> None:
    account = await relay.create_account(APP)
    await relay.issue_capability("one", "same", app=APP, account_id=account)
    with pytest.raises(Refused):
        await relay.resolve_capability("two", "same")


async def test_an_unknown_app_is_refused(relay: Relay) -> None:
    with pytest.raises(Refused):
        await relay.push_to_tokens(AppId("nope"), Platform.APNS, ["t"], HELLO)


async def test_a_platform_without_a_provider_is_rejected(settings_factory: SettingsFactory) -> None:
    runtime = Runtime(settings_factory(apps={"bare": {}}))
    await runtime.start()
    try:
        (outcome,) = await runtime.relay.push_to_tokens(AppId("bare"), Platform.APNS, ["t"], HELLO)
        assert isinstance(outcome, Rejected) and outcome.reason is RejectReason.NO_PROVIDER
    finally:
        await runtime.stop()


async def test_a_dead_token_is_answered_without_calling_the_provider(relay: Relay) -> None:
    """Token hygiene (issue 3): once rejected as dead, later pushes short-circuit."""
    device = await relay.register_device(APP, Platform.APNS, "b" * 64)
    since = datetime.now(UTC)
    await relay.store.invalidate_token(
        APP, Platform.APNS, relay.token_ref(Platform.APNS, "b" * 64), b"x", since, "unregistered"
    )
    outcome = await relay.push_to_device(device, HELLO)
    assert isinstance(outcome, Rejected) and outcome.reason is RejectReason.UNREGISTERED
    assert outcome.invalid_since == since
    assert relay.sandbox(APP).deliveries == []


async def test_re_registering_a_dead_token_makes_it_deliverable_again(relay: Relay) -> None:
    device = await relay.register_device(APP, Platform.APNS, "c" * 64)
    await relay.store.invalidate_token(
        APP, Platform.APNS, relay.token_ref(Platform.APNS, "c" * 64), b"x", datetime.now(UTC), "unregistered"
    )
    assert await relay.register_device(APP, Platform.APNS, "c" * 64) == device
    assert await relay.push_to_device(device, HELLO) == Delivered(
        provider_id=relay.sandbox(APP).deliveries[0].push_id
    )


async def test_dead_tokens_are_remembered_across_restarts(settings_factory: SettingsFactory) -> None:
    settings = settings_factory()
    first = Runtime(settings)
    await first.start()
    ref = first.relay.token_ref(Platform.FCM, "gone")
    await first.store.invalidate_token(APP, Platform.FCM, ref, b"x", datetime.now(UTC), "unregistered")
    await first.stop()
    second = Runtime(settings)
    await second.start()
    try:
        (outcome,) = await second.relay.push_to_tokens(APP, Platform.FCM, ["gone"], HELLO)
        assert isinstance(outcome, Rejected) and outcome.is_token_dead
        assert second.relay.sandbox(APP).deliveries == []
    finally:
        await second.stop()


async def test_the_store_never_sees_a_raw_token(relay: Relay, runtime: Runtime) -> None:
    token = "d" * 64
    await relay.register_device(APP, Platform.APNS, token)
    db_file = runtime.settings.store.url.removeprefix("sqlite+aiosqlite:///")
    await runtime.database.dispose()
    raw = b"".join(p.read_bytes() for p in Path(db_file).parent.glob("pushrelay.db*"))
    assert token.encode() not in raw
