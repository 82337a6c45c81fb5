"""APNs provider tokens: one ES256 JWT per (team id, key id), shared by the whole process.

Apple: refresh the token no more than once every 20 minutes and no less than once every
60; older than an hour it is answered with 403 ExpiredProviderToken, and updating it
more often than every 20 minutes with 429 TooManyProviderTokenUpdates
(reference/status-gorush-sygnal.md §4.1). Several connections or provider instances
minting their own tokens trip that limit (gorush #512), so every `ApnsProvider` in the
process asks the same `ProviderTokenSigner`, found in `PROCESS_TOKENS` by team, key id
and key. A token is re-minted after `REFRESH_AFTER` (45 minutes), or when APNs calls the
current one expired, if it is at least `MIN_REMINT_AGE` (20 minutes) old.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

log = structlog.get_logger(__name__)

REFRESH_AFTER = 45 * 60
MIN_REMINT_AGE = 20 * 60

Clock = Callable[[], float]
"""Wall-clock time in Unix seconds, like `time.time`; tests pass their own."""


@dataclass(frozen=True, slots=True)
class ProviderToken:
    issued_at: int
    authorization: bytes
    """The `authorization` header value: `bearer <JWT>`."""


class ProviderTokenSigner:
    """Mints and keeps the current token of one (team id, key id)."""

    def __init__(
        self, team_id: str, key_id: str, private_key: ec.EllipticCurvePrivateKey, clock: Clock
    ) -> None:
        self.team_id = team_id
        self.key_id = key_id
        self._private_key = private_key
        self._clock = clock
        self._current: ProviderToken | None = None
        self.minted = 0
        """How many tokens this signer has made."""

    def current(self) -> ProviderToken:
        """The token to send now: the current one, or a new one once it is `REFRESH_AFTER` old."""
        token = self._current
        if token is None or self._clock() - token.issued_at >= REFRESH_AFTER:
            token = self._mint()
        return token

    def expired(self, rejected: ProviderToken) -> ProviderToken | None:
        """APNs answered ExpiredProviderToken to `rejected`: the token to retry with, if any.

        Another request may have replaced it already; otherwise a new one is minted, unless
        the rejected token is younger than `MIN_REMINT_AGE` (then the clocks disagree and a
        new token would only add a TooManyProviderTokenUpdates).
        """
        current = self._current
        if current is not None and current is not rejected:
            return current
        if self._clock() - rejected.issued_at < MIN_REMINT_AGE:
            log.warning("apns.token_expired_too_early", team_id=self.team_id, key_id=self.key_id)
            return None
        return self._mint()

    def _mint(self) -> ProviderToken:
        issued_at = int(self._clock())
        encoded = jwt.encode(
            {"iss": self.team_id, "iat": issued_at},
            self._private_key,
            algorithm="ES256",
            headers={"kid": self.key_id},
        )
        self._current = ProviderToken(issued_at, b"bearer " + encoded.encode())
        self.minted += 1
        log.info("apns.token_minted", team_id=self.team_id, key_id=self.key_id, issued_at=issued_at)
        return self._current


class ProviderTokens:
    """Signers by (team id, key id, key): ask here instead of making your own."""

    def __init__(self) -> None:
        self._signers: dict[tuple[str, str, bytes], ProviderTokenSigner] = {}

    def signer(self, team_id: str, key_id: str, key_pem: bytes, clock: Clock) -> ProviderTokenSigner:
        """The shared signer for this key; `clock` applies only if it is created now."""
        slot = (team_id, key_id, hashlib.sha256(key_pem).digest())
        signer = self._signers.get(slot)
        if signer is None:
            signer = self._signers[slot] = ProviderTokenSigner(
                team_id, key_id, load_signing_key(key_pem), clock
            )
        return signer


PROCESS_TOKENS = ProviderTokens()


def load_signing_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of an APNs `.p8` file. Raises ValueError for anything else."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (ES256) private key")
    return key
