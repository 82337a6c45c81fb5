"""Logs never carry a secret: redaction by field name, tokens named by keyed-hash prefix."""

from __future__ import annotations

import logging

import pytest
import structlog

from pushrelay.app import Runtime
from pushrelay.config import LogSettings
from pushrelay.domain import AppId, Message, Platform, Rejected, RejectReason
from pushrelay.logs import REDACTED, configure_logging, redact_secrets, short_ref
from tests.conftest import SettingsFactory
from tests.doubles import ScriptedProvider


def test_secret_fields_are_redacted() -> None:
    event = redact_secrets(
        None, "info", {"event": "x", "token": "abc", "secret": "s", "jid": "a@b", "app": "chat"}
    )
    assert event == {"event": "x", "token": REDACTED, "secret": REDACTED, "jid": REDACTED, "app": "chat"}


def test_short_ref_is_an_8_digit_prefix_of_the_hash() -> None:
    assert short_ref(bytes(range(32))) == "00010203"


@pytest.mark.parametrize("fmt", ["json", "kv"])
def test_rendered_lines_are_redacted(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(format=fmt))  # type: ignore[arg-type]
    structlog.get_logger("t").warning("device.registered", token="RAWTOKEN123", app="chat")
    logging.getLogger("uvicorn.error").warning("plain stdlib line")
    err = capsys.readouterr().err
    assert "RAWTOKEN123" not in err and "device.registered" in err and "plain stdlib line" in err
    structlog.reset_defaults()


async def test_invalidating_a_token_logs_only_its_reference(settings_factory: SettingsFactory) -> None:
    token = "9" * 64
    rejecting = ScriptedProvider("apns", Rejected(RejectReason.UNREGISTERED, "Unregistered"))
    runtime = Runtime(settings_factory(), providers={(AppId("default"), Platform.APNS): rejecting})
    await runtime.start()
    try:
        with structlog.testing.capture_logs() as logs:
            await runtime.relay.push_to_tokens(
                AppId("default"), Platform.APNS, [token], Message(body="secret body")
            )
    finally:
        await runtime.stop()
    assert [entry["event"] for entry in logs] == ["token.invalidated"]
    assert token not in repr(logs) and "hush" not in repr(logs)
