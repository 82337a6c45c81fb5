"""OAuth 2.0 access tokens for FCM, from a Google service account (RFC 7523 JWT-bearer grant).

The service-account file is read and its key loaded by google-auth
(`service_account.Credentials`); each refresh signs a one-hour assertion with google-auth's
signer (`iss` = client_email, `aud` = the file's `token_uri`, `scope` = firebase.messaging)
and posts it to `token_uri` on our own async HTTP client. We do not call google-auth's
`Credentials.refresh`: it is blocking, so it would need a thread that a timeout cannot
cancel, it retries 5xx answers itself with sleeps (three tries, 1 s then 2 s), and it
always signs `aud` for Google's token URL, which a test endpoint cannot be.

One token is shared by every send. It is renewed when `min(5 min, half its lifetime)` is
left, by the first send that notices, under a lock: concurrent sends wait for that one
request instead of making their own. A send whose token FCM refused as expired asks for
`replace(token)`, which renews at most once per refused token. A failed renewal is
remembered for a growing delay (1 s doubling to 60 s) so that a broken token endpoint
sees one request per delay, not one per push; meanwhile a token that has not yet expired
is still used.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog
from google.auth import crypt
from google.auth import jwt as google_jwt
from google.oauth2 import service_account

from pushrelay.providers.fcm_errors import json_object

log = structlog.get_logger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
REFRESH_MARGIN = 300.0
RETRYABLE_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error", "internal_failure"})

Clock = Callable[[], float]


class AccessTokenError(Exception):
    """No access token could be had; `retryable` says whether a later attempt may succeed."""

    def __init__(self, detail: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a service-account file FCM needs."""

    project_id: str
    client_email: str
    token_uri: str
    signer: crypt.Signer = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        """Read and check the file; raises ValueError naming what is wrong."""
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read a JSON service-account file: {exc}") from None
        if not isinstance(info, dict):
            raise ValueError("expected a JSON object")
        missing = [
            key for key in ("project_id", "client_email", "token_uri", "private_key") if not info.get(key)
        ]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]  # google-auth is unannotated
            info, scopes=[FCM_SCOPE]
        )
        return cls(info["project_id"], info["client_email"], info["token_uri"], credentials.signer)

    def assertion(self, now: float) -> str:
        """A signed JWT asking the token endpoint for an FCM access token."""
        issued = int(now)
        claims = {
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
        }
        token: bytes = google_jwt.encode(self.signer, claims)  # type: ignore[no-untyped-call]  # unannotated
        return token.decode()


class AccessTokens:
    """The access token every send shares; see the module docstring."""

    def __init__(
        self,
        account: ServiceAccount,
        http: httpx.AsyncClient,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
    ) -> None:
        self._account = account
        self._http = http
        self._clock = clock
        self._wall_clock = wall_clock
        self._base_delay = retry_delay
        self._max_delay = max_retry_delay
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._failure: AccessTokenError | None = None
        self._failed_until = 0.0
        self._delay = retry_delay

    async def current(self) -> str:
        """A token that is not about to expire; raises AccessTokenError."""
        token = self._token
        if token is not None and self._clock() < self._refresh_at:
            return token
        try:
            return await self._renew(stale=token)
        except AccessTokenError:
            if token is not None and self._token == token and self._clock() < self._expires_at:
                return token  # renewal failed, but this one is still good for a while
            raise

    async def replace(self, refused: str) -> str:
        """A token other than `refused`, which FCM said is expired or revoked."""
        return await self._renew(stale=refused)

    async def _renew(self, stale: str | None) -> str:
        async with self._lock:
            now = self._clock()
            if self._token is not None and self._token != stale and now < self._expires_at:
                return self._token  # another send renewed it while this one waited
            if self._failure is not None and now < self._failed_until:
                failure = self._failure
                raise AccessTokenError(failure.detail, failure.retryable, self._failed_until - now)
            try:
                token, lifetime = await self._request()
            except AccessTokenError as exc:
                self._remember(exc, now)
                log.warning(
                    "access_token.failed",
                    provider="fcm",
                    project=self._account.project_id,
                    detail=exc.detail,
                    retryable=exc.retryable,
                    retry_after=exc.retry_after,
                )
                raise
            self._token = token
            self._expires_at = now + lifetime
            self._refresh_at = self._expires_at - min(REFRESH_MARGIN, lifetime / 2)
            self._failure, self._delay = None, self._base_delay
            log.info(
                "access_token.renewed", provider="fcm", project=self._account.project_id, expires_in=lifetime
            )
            return token

    def _remember(self, failure: AccessTokenError, now: float) -> None:
        wait = max(self._delay, failure.retry_after or 0.0)
        self._failure, self._failed_until = failure, now + wait
        failure.retry_after = wait
        self._delay = min(self._delay * 2, self._max_delay)

    async def _request(self) -> tuple[str, float]:
        assertion = self._account.assertion(self._wall_clock())
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        try:
            response = await self._http.post(self._account.token_uri, data=form)
        except httpx.HTTPError as exc:
            raise AccessTokenError(f"token endpoint: {type(exc).__name__}", retryable=True) from exc
        return parse_token_response(
            response.status_code, response.content, response.headers.get("retry-after")
        )


def parse_token_response(status: int, body: bytes, retry_after: str | None = None) -> tuple[str, float]:
    """(access token, lifetime in seconds) from a token endpoint's answer; raises AccessTokenError."""
    answer = json_object(body)
    if status == 200:
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if isinstance(token, str) and token and isinstance(lifetime, int) and not isinstance(lifetime, bool):
            return token, float(max(lifetime, 0))
        raise AccessTokenError("token endpoint: no access_token or expires_in in its answer", retryable=True)
    error = answer.get("error")
    error = error if isinstance(error, str) else ""
    retryable = status in (408, 429) or status >= 500 or error in RETRYABLE_OAUTH_ERRORS
    delay = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    return_detail = f"token endpoint: HTTP {status} {error}".rstrip()
    raise AccessTokenError(return_detail, retryable, delay)
