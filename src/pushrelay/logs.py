"""Structured logs: JSON or key=value lines, one event per line, secrets redacted.

Redaction is a last line of defence: code refers to tokens by `short_ref` (a keyed-hash
prefix) and never passes a raw token, JID or body to the logger. Any field whose name says
it holds a secret is replaced anyway.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from pushrelay.config import LogSettings

SECRET_FIELDS = frozenset(
    {
        "token",
        "tokens",
        "device_token",
        "secret",
        "password",
        "authorization",
        "api_key",
        "jid",
        "body",
        "key",
    }
)
REDACTED = "<redacted>"


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in SECRET_FIELDS.intersection(event):
        event[name] = REDACTED
    return event


def short_ref(token_hash: bytes) -> str:
    """How logs name a token: the first 8 hex digits of its keyed hash."""
    return token_hash[:4].hex()


def configure_logging(settings: LogSettings) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "event"], drop_missing=True
        )
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    for noisy in ("uvicorn.access", "alembic.runtime.migration", "slixmpp", "httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
