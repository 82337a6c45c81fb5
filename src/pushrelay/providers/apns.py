"""The APNs provider: HTTP/2 to `/3/device/<token>`, token (ES256 JWT) or certificate auth.

Why our own HTTP/2 client (`h2pool`, on the `h2` library) rather than httpx or aioapns:
measured on this project's 2-core machine against `pushrelay.testing.fake_apns` run as
its own process, httpx 0.28 (`http2=True`, 4 connections, 200 concurrent requests)
pushed about 940 requests/s, with the fake far from busy (it serves about 6,200/s to
`h2load`); this provider with `h2pool` pushes about 5,000+/s (figures in the benchmark
notes of `tests/providers/test_apns_throughput.py`). httpx also has no HTTP/2 PING and
caps streams per connection at 100 whatever the server allows; aioapns has no
per-request timeout, polls for a free stream every 10 ms, and mints its own JWT per
client.

`send` makes one attempt (the Dispatcher retries), except that an ExpiredProviderToken
answer is retried once with a re-minted token. Requests the provider can refuse itself
are refused before sending: a device token that is not hex, a collapse id over 64
bytes, a payload over 4096 bytes (5120 for VoIP).
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from pushrelay.config import ApnsSettings, AppSettings
from pushrelay.domain import AppId, Failed, Outcome, Push, Rejected, RejectReason
from pushrelay.errors import ConfigError
from pushrelay.providers.apns_errors import classify
from pushrelay.providers.apns_payload import (
    is_collapse_id_too_long,
    is_device_token,
    max_payload_bytes,
    render_payload,
    request_headers,
)
from pushrelay.providers.apns_token import PROCESS_TOKENS, Clock, ProviderTokens, ProviderTokenSigner
from pushrelay.providers.h2connection import H2Error, H2Response
from pushrelay.providers.h2pool import H2Pool, PoolLimits

ENDPOINTS = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
DEVICE_PATH = "/3/device/"


class ApnsProvider:
    """One APNs app: its credentials, topic and connection pool. Build it with `build()`."""

    name = "apns"

    def __init__(
        self,
        settings: ApnsSettings,
        *,
        tokens: ProviderTokens = PROCESS_TOKENS,
        clock: Clock = time.time,
        where: str = "apns",
    ) -> None:
        """`where` names the settings block in configuration errors (`apps.chat.apns`)."""
        host, port = _origin(settings.endpoint or ENDPOINTS[settings.environment], where)
        self._topic = settings.topic
        self._timeout = settings.timeout
        self._signer = _signer(settings, tokens, clock, where)
        limits = PoolLimits(max_connections=settings.max_connections, ping_interval=settings.ping_interval)
        authenticated = _is_authenticated if self._signer is not None else None
        context = _ssl_context(settings, where)
        self._pool = H2Pool(host, port, context, limits, single_stream_until=authenticated)

    @property
    def pool(self) -> H2Pool:
        return self._pool

    async def send(self, push: Push) -> Outcome:
        """Push once; see the module docstring."""
        message = push.message
        if not is_device_token(push.target.token):
            return Rejected(RejectReason.BAD_TOKEN, "BadDeviceToken")
        if is_collapse_id_too_long(message):
            return Rejected(RejectReason.BAD_REQUEST, "BadCollapseId")
        payload = render_payload(message)
        if len(payload) > max_payload_bytes(message):
            return Rejected(RejectReason.PAYLOAD_TOO_LARGE, "PayloadTooLarge")
        path = DEVICE_PATH + push.target.token
        headers = request_headers(push, self._topic)
        if self._signer is None:
            return await self._post(path, headers, payload)
        token = self._signer.current()
        outcome = await self._post(path, [*headers, (b"authorization", token.authorization)], payload)
        if isinstance(outcome, Rejected) and outcome.detail == "ExpiredProviderToken":
            fresh = self._signer.expired(token)
            if fresh is not None:
                outcome = await self._post(path, [*headers, (b"authorization", fresh.authorization)], payload)
        return outcome

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def _post(self, path: str, headers: list[tuple[bytes, bytes]], payload: bytes) -> Outcome:
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._pool.request("POST", path, headers, payload)
        except TimeoutError:
            return Failed(True, "timeout")
        except H2Error as exc:
            return Failed(True, f"{type(exc).__name__}: {exc}")
        return classify(response.status, response.headers, response.body)


def build(app: AppId, settings: AppSettings) -> ApnsProvider:
    """The provider for `[apps.<app>.apns]` (R6: `app.PROVIDERS` registers it)."""
    if settings.apns is None:
        raise ConfigError([f"apps.{app}.apns: not configured"])
    return ApnsProvider(settings.apns, where=f"apps.{app}.apns")


def _is_authenticated(response: H2Response) -> bool:
    """Any answer but 403 (token refused) and 429 (token updated too often) shows APNs took the token."""
    return response.status not in (403, 429)


def _origin(endpoint: str, where: str) -> tuple[str, int]:
    url = urlsplit(endpoint)
    if url.scheme != "https" or not url.hostname:
        raise ConfigError([f"{where}.endpoint: expected https://HOST[:PORT], got {endpoint!r}"])
    return url.hostname, url.port or 443


def _signer(
    settings: ApnsSettings, tokens: ProviderTokens, clock: Clock, where: str
) -> ProviderTokenSigner | None:
    if settings.cert_file is not None:
        return None
    assert settings.team_id and settings.key_id and settings.key_file  # ApnsSettings checks this
    try:
        return tokens.signer(settings.team_id, settings.key_id, settings.key_file.read_bytes(), clock)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError([f"{where}.key_file: {exc}"]) from None


def _ssl_context(settings: ApnsSettings, where: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    context.set_alpn_protocols(["h2"])
    if settings.cert_file is not None:
        try:
            _load_client_certificate(context, settings.cert_file, settings.cert_password)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise ConfigError([f"{where}.cert_file: {exc}"]) from None
    return context


def _load_client_certificate(context: ssl.SSLContext, path: Path, password: str | None) -> None:
    """A PEM file (certificate and key) or a PKCS#12 bundle, as Keychain exports them."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        context.load_cert_chain(path, password=password)
        return
    key, certificate, chain = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    if key is None or certificate is None:
        raise ValueError("the PKCS#12 file holds no certificate and key")
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    pem += b"".join(extra.public_bytes(serialization.Encoding.PEM) for extra in chain)
    pem += key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory(prefix="pushrelay-apns-") as directory:
        chain_file = Path(directory) / "client.pem"
        chain_file.write_bytes(pem)
        context.load_cert_chain(chain_file)
