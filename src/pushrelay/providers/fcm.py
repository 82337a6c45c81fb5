"""The FCM provider: HTTP v1 `messages:send` over HTTP/2, OAuth 2.0 service-account auth.

Sends go over our own HTTP/2 pool (`h2pool`, on the `h2` library), the access token
requests over httpx. Why not httpx for the sends, measured on this project's 2-core
machine against an `h2` server in its own process answering 200 at once, 20,000
requests, 90 to 200 in flight:

    httpx 0.28 (http2=True)      ~1,000 requests/s   ~1 ms of client CPU per request
    a bare h2 client protocol    ~2,400 requests/s   ~0.1 ms of client CPU per request
    this provider (h2pool)       6,900-7,900 pushes/s to `fake_fcm` in its own process
                                 (machine shared, load ~1.2), ~120 us of client CPU per push

(`tests/providers/test_fcm_throughput.py` measures the last line.) The token endpoint is
asked once an hour: httpx is fine there.

`send` makes one attempt (the Dispatcher retries), except that a 401 saying the access
token is expired or revoked is retried once with a renewed token. Every send, token
included, is bounded by `timeout`. A message whose data exceeds FCM's 4096 bytes is
refused before sending. `Message.topic` is an APNs topic and is ignored here.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

import httpx
from h2.errors import ErrorCodes

from pushrelay.config import AppSettings, FcmSettings
from pushrelay.domain import AppId, Failed, Outcome, Push, Rejected, RejectReason
from pushrelay.errors import ConfigError
from pushrelay.providers.fcm_auth import AccessTokenError, AccessTokens, Clock, ServiceAccount
from pushrelay.providers.fcm_errors import classify, needs_new_access_token
from pushrelay.providers.fcm_message import MAX_DATA_BYTES, data_size, render_message, request_body
from pushrelay.providers.h2connection import GoAwayReceived, H2Error, H2Response
from pushrelay.providers.h2pool import H2Pool, PoolLimits

FCM_ENDPOINT = "https://fcm.googleapis.com"
_CONTENT_TYPE = (b"content-type", b"application/json; charset=UTF-8")


class FcmProvider:
    """One Firebase project: its service account, access token and connection pool."""

    name = "fcm"

    def __init__(
        self,
        settings: FcmSettings,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        token_retry_delay: float = 1.0,
        where: str = "fcm",
    ) -> None:
        """`where` names the settings block in configuration errors (`apps.chat.fcm`)."""
        self._account = _service_account(settings, where)
        host, port = _origin(settings.endpoint or FCM_ENDPOINT, where)
        self._path = f"/v1/projects/{self._account.project_id}/messages:send"
        self._timeout = settings.timeout
        self._wall_clock = wall_clock
        limits = PoolLimits(max_connections=settings.max_connections, ping_interval=settings.ping_interval)
        self._pool = H2Pool(host, port, _ssl_context(settings, where, alpn="h2"), limits)
        self._http = httpx.AsyncClient(
            http2=True, verify=_ssl_context(settings, where), timeout=settings.timeout, follow_redirects=False
        )
        self._tokens = AccessTokens(
            self._account, self._http, clock=clock, wall_clock=wall_clock, retry_delay=token_retry_delay
        )

    @property
    def project_id(self) -> str:
        return self._account.project_id

    @property
    def pool(self) -> H2Pool:
        return self._pool

    async def send(self, push: Push) -> Outcome:
        rendered = render_message(push.message, push.target.token, self._wall_clock())
        if data_size(rendered) > MAX_DATA_BYTES:
            return Rejected(RejectReason.PAYLOAD_TOO_LARGE, "message data exceeds 4096 bytes")
        body = request_body(rendered)
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._send_with_token(body)
        except TimeoutError:
            return Failed(True, "timeout")
        except GoAwayReceived as exc:
            # Not processed. GOAWAY NO_ERROR is how Google's front ends retire a connection:
            # nothing is wrong with FCM, so it must not count towards the circuit breaker.
            return Failed(True, f"GoAwayReceived: {exc}", service_fault=exc.error_code != ErrorCodes.NO_ERROR)
        except H2Error as exc:
            return Failed(True, f"{type(exc).__name__}: {exc}")
        except AccessTokenError as exc:
            if exc.retryable:
                return Failed(True, exc.detail, exc.retry_after)
            return Rejected(RejectReason.AUTH, exc.detail)
        return classify(response.status, response.headers, response.body)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._http.aclose()

    async def _send_with_token(self, body: bytes) -> H2Response:
        token = await self._tokens.current()
        response = await self._post(body, token)
        if needs_new_access_token(response.status, response.body):
            response = await self._post(body, await self._tokens.replace(token))
        return response

    async def _post(self, body: bytes, token: str) -> H2Response:
        headers = [_CONTENT_TYPE, (b"authorization", b"Bearer " + token.encode())]
        return await self._pool.request("POST", self._path, headers, body)


def build(app: AppId, settings: AppSettings) -> FcmProvider:
    """The provider for `[apps.<app>.fcm]`: an `app.ProviderFactory` (R6)."""
    assert settings.fcm is not None, "build only apps with an fcm block"
    return FcmProvider(settings.fcm, where=f"apps.{app}.fcm")


def _service_account(settings: FcmSettings, where: str) -> ServiceAccount:
    try:
        return ServiceAccount.from_file(settings.service_account_file)
    except ValueError as exc:
        raise ConfigError([f"{where}.service_account_file: {exc}"]) from None


def _origin(endpoint: str, where: str) -> tuple[str, int]:
    url = urlsplit(endpoint)
    if url.scheme != "https" or not url.hostname:
        raise ConfigError([f"{where}.endpoint: expected https://HOST[:PORT], got {endpoint!r}"])
    return url.hostname, url.port or 443


def _ssl_context(settings: FcmSettings, where: str, alpn: str | None = None) -> ssl.SSLContext:
    """Trusts `ca_file` when set (for both FCM and the token endpoint), else the system's CAs."""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([f"{where}.ca_file: {exc}"]) from None
    if alpn is not None:
        context.set_alpn_protocols([alpn])
    return context
