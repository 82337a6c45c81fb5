"""Logs never carry a secret: redaction by field name, tokens named by keyed-hash prefix."""

from __future__ import annotations

import logging

import pytest
import structlog

from pushrelay.config import LogSettings
from pushrelay.domain import AppId, Platform, Rejected, RejectReason, Target
from pushrelay.logs import REDACTED, configure_logging, redact_secrets, short_ref
from pushrelay.relay import Relay


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


async def test_invalidating_a_token_logs_only_its_reference(relay: Relay) -> None:
    token = "9" * 64
    with structlog.testing.capture_logs() as logs:
        await relay._invalidate(  # the hygiene path that logs
            Target(AppId("default"), Platform.APNS, token, relay.token_ref(Platform.APNS, token)),
            Rejected(RejectReason.UNREGISTERED, "Unregistered"),
        )
    assert logs and token not in repr(logs)
