"""What the fake APNs and the fake FCM share: an HTTP/2 server, an optional JSON control API, a CA."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from pushrelay.testing.control_api import ControlServer, Route
from pushrelay.testing.h2server import H2Server
from pushrelay.testing.tls import CertificateAuthority


class FakeService:
    """Starts and stops a fake's server (and control API); an async context manager.

    A fake sets `authority`, `_server` and `_control_port` in its `__init__` and names its
    control routes in `_control_routes`.
    """

    authority: CertificateAuthority
    _server: H2Server
    _control_port: int | None
    _control: ControlServer | None = None

    def _control_routes(self) -> dict[tuple[str, str], Route]:
        raise NotImplementedError

    async def start(self) -> None:
        await self._server.start()
        if self._control_port is not None:
            host = self._server.url.removeprefix("https://").rpartition(":")[0].strip("[]")
            self._control = ControlServer(self._control_routes(), host, self._control_port)
            await self._control.start()

    async def aclose(self) -> None:
        if self._control is not None:
            await self._control.aclose()
        await self._server.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def url(self) -> str:
        """The `endpoint` to give the provider."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def control_url(self) -> str | None:
        return None if self._control is None else self._control.url

    @property
    def server(self) -> H2Server:
        return self._server

    def write_ca_file(self, path: Path) -> Path:
        return self.authority.write_ca_file(path)
