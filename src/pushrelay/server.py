"""Running the relay under uvicorn: graceful SIGTERM, clear exit codes."""

from __future__ import annotations

import signal
from types import FrameType

import structlog
import uvicorn

from pushrelay.app import Runtime, create_app
from pushrelay.config import Settings

log = structlog.get_logger(__name__)

EXIT_STARTUP_FAILED = 3


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM once it has shut down, so the process dies with status 143.

    For the relay a SIGTERM is the normal way to stop: once drained, it exits 0.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:
            self._captured_signals.remove(sig)


def serve(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT, then drain in-flight work within `server.drain_timeout` and return 0.

    uvicorn stops accepting connections, waits for open requests (each awaiting its push
    outcomes), then the lifespan drains the dispatcher's lanes and closes the providers.
    """
    app = create_app(settings, Runtime(settings))
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.server.drain_timeout),
        server_header=False,
    )
    server = _Server(config)
    server.run()
    if not server.started:
        log.error("relay.start_failed", hint="see the errors above")
        return EXIT_STARTUP_FAILED
    return 0
