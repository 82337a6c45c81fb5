"""The fake FCM's OAuth 2.0 token endpoint and the service accounts it knows.

Google's service-account flow (reference/status-gorush-sygnal.md §4.2, RFC 7523): the
client signs a JWT with the account's RSA key (RS256) and posts
`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>` to the account's
`token_uri`. The endpoint checks the signature against the account's public key (and the
`kid` against its key id), `iss` = the account's `client_email`, `aud` = `token_uri`, a
`scope` that includes firebase.messaging, and a short-lived, current token
(`exp` ≤ `iat` + 3600). It answers `{"access_token", "expires_in", "token_type": "Bearer"}`,
or an RFC 6749 error (`{"error": "invalid_grant", "error_description": …}`) worded as
Google words it. FCM then accepts `Authorization: Bearer <access token>` until it expires.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pushrelay.testing.fake_fcm_schema import FcmRefusal

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 60
DEFAULT_TOKEN_LIFETIME = 3599
"""What Google answers as `expires_in` for a fresh token."""
TOKEN_PATH = "/token"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A Google service account key, as the JSON file Firebase's console hands out."""

    project_id: str
    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    token_uri: str

    def to_json(self) -> dict[str, str]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": pem.decode(),
            "client_email": self.client_email,
            "client_id": str(int.from_bytes(self.private_key_id.encode()[:8], "big")),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{self.client_email}",
            "universe_domain": "googleapis.com",
        }

    def write(self, path: Path) -> Path:
        """Write the service-account JSON file (what `service_account_file` points at)."""
        path.write_text(json.dumps(self.to_json(), indent=2))
        path.chmod(0o600)
        return path


@functools.cache
def _default_key() -> rsa.RSAPrivateKey:
    """One RSA key per process for the default accounts: generating one takes ~0.1 s."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_service_account(
    project_id: str, token_uri: str, name: str = "pushrelay-fake", fresh_key: bool = False
) -> ServiceAccount:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if fresh_key else _default_key()
    return ServiceAccount(
        project_id=project_id,
        client_email=f"{name}@{project_id}.iam.gserviceaccount.com",
        private_key_id=secrets.token_hex(20),
        private_key=key,
        token_uri=token_uri,
    )


@dataclass(slots=True)
class TokenEndpointFault:
    """Answer token requests with `status` and an OAuth error, or stall them (status 0)."""

    status: int
    error: str = "temporarily_unavailable"
    description: str = ""
    remaining: int | None = None


@dataclass(frozen=True, slots=True)
class _Key:
    public_key: rsa.RSAPublicKey
    key_id: str | None


class OAuthServer:
    """The token endpoint's state: known accounts, issued access tokens, injected faults."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._issued: dict[str, float] = {}
        self.access_token_lifetime = DEFAULT_TOKEN_LIFETIME
        """`expires_in` of the access tokens issued from now on: small values make short-lived tokens."""
        self.faults: list[TokenEndpointFault] = []
        self.requests = 0
        """Token requests received, good or bad."""
        self.issued_count = 0

    def add_account(self, account: ServiceAccount) -> None:
        self.add_public_key(account.client_email, account.private_key.public_key(), account.private_key_id)

    def add_public_key(
        self, client_email: str, public_key: rsa.RSAPublicKey, key_id: str | None = None
    ) -> None:
        """Trust `public_key` for `client_email`; with `key_id`, a JWT's `kid` must match it."""
        self._keys[client_email] = _Key(public_key, key_id)

    # access tokens, as FCM checks them

    def check_bearer(self, authorization: str | None) -> FcmRefusal | None:
        """None if `authorization` carries a current access token; else FCM's 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _unauthenticated("CREDENTIALS_MISSING")
        expires_at = self._issued.get(token)
        if expires_at is None:
            return _unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")
        if expires_at <= self._clock():
            return _unauthenticated("ACCESS_TOKEN_EXPIRED")
        return None

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far expired now, as if an hour had gone by."""
        now = self._clock()
        for token in self._issued:
            self._issued[token] = now
        return len(self._issued)

    # the token endpoint

    def fault(self) -> TokenEndpointFault | None:
        """The next injected fault, if any (consumed)."""
        for fault in self.faults:
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def grant(self, body: bytes, token_uri: str) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, JSON body)."""
        self.requests += 1
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
        grant_type = form.get("grant_type")
        if grant_type != JWT_BEARER_GRANT:
            return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")
        assertion = form.get("assertion")
        if not assertion:
            return _oauth_error("invalid_request", "Missing required parameter: assertion")
        problem = self._check_assertion(assertion, token_uri)
        if problem is not None:
            return problem
        return 200, self.issue()

    def _check_assertion(self, assertion: str, token_uri: str) -> tuple[int, dict[str, Any]] | None:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "Invalid JWT: malformed.")
        key = self._keys.get(str(unverified.get("iss")))
        if key is None:
            return _oauth_error("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or (key.key_id and header.get("kid") not in (None, key.key_id)):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(
                assertion,
                key.public_key,
                algorithms=["RS256"],
                audience=token_uri,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidAudienceError:
            return _oauth_error("invalid_grant", f"Invalid JWT: Failed audience check. Expected {token_uri}.")
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        iat, exp, now = claims.get("iat"), claims.get("exp"), self._clock()
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp - iat > MAX_ASSERTION_LIFETIME
            or iat > now + CLOCK_SKEW
            or exp <= now - CLOCK_SKEW
        ):
            return _oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = str(claims.get("scope", "")).split()
        if FCM_SCOPE not in scopes:
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return None

    def issue(self) -> dict[str, Any]:
        """Issue an access token without the JWT dance (for curl, h2load and the demo)."""
        now = self._clock()
        self._issued = {token: at for token, at in self._issued.items() if at > now}  # forget expired ones
        token = "ya29.fake-" + secrets.token_urlsafe(48)
        self._issued[token] = now + self.access_token_lifetime
        self.issued_count += 1
        return {"access_token": token, "expires_in": self.access_token_lifetime, "token_type": "Bearer"}


def _oauth_error(error: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def _unauthenticated(reason: str) -> FcmRefusal:
    return FcmRefusal(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
        reason=reason,
    )
