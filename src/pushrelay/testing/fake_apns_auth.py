"""How the fake APNs authenticates a provider: ES256 provider tokens, or a client certificate.

Token rules, from Apple's "Establishing a token-based connection to APNs" and Pushy's
`TokenAuthenticationValidatingPushNotificationHandler` (reference/status-gorush-sygnal.md §4.1, §5):

* `authorization: bearer <JWT>`; none, or not a bearer token → 403 MissingProviderToken.
* header `{"alg": "ES256", "kid": <key id>}`, claims `{"iss": <team id>, "iat": <unix s>}`,
  signed with the registered key of that `kid` by its team; an unknown key, a bad
  signature or another team → 403 InvalidProviderToken. One team per connection.
* a token older than one hour → 403 ExpiredProviderToken.
* a new token for the same key less than 20 minutes after the previous one → 429
  TooManyProviderTokenUpdates (what several processes minting their own tokens provoke).
* the topic must be one the key may push to → 400 TopicDisallowed.

Certificate rule: a client certificate carries the bundle id as `UID`; the topic must be
it or its `.voip`/`.complication` variant → 400 BadTopic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

TOKEN_LIFETIME = 3600
MIN_TOKEN_UPDATE_INTERVAL = 20 * 60
_CACHE_LIMIT = 10_000
Rejection = tuple[int, str]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A provider key registered with the fake: APNs keeps the public half, by key id."""

    key_id: str
    team_id: str
    public_key: ec.EllipticCurvePublicKey
    topics: frozenset[str] | None = None
    """The topics (bundle ids) the key may push to; None: any."""


@dataclass(frozen=True, slots=True)
class _Token:
    key: SigningKey
    issued_at: int


class ProviderTokenVerifier:
    """Checks `authorization` headers; verifies each distinct token's signature only once."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.keys: dict[str, SigningKey] = {}
        self._clock = clock
        self._checked: dict[str, _Token | Rejection] = {}
        self._latest_issued_at: dict[tuple[str, str], int] = {}

    def add_key(self, key: SigningKey) -> None:
        self.keys[key.key_id] = key
        self._checked.clear()

    def check(
        self, authorization: str | None, topic: str, connection_state: MutableMapping[str, object]
    ) -> Rejection | None:
        """None if the token may push to `topic` now, else (status, reason)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return 403, "MissingProviderToken"
        encoded = authorization[len("bearer ") :].strip()
        if not encoded:
            return 403, "MissingProviderToken"
        token = self._checked.get(encoded)
        if token is None:
            if len(self._checked) > _CACHE_LIMIT:
                self._checked.clear()
            token = self._checked[encoded] = self._verify(encoded)
        if isinstance(token, tuple):
            return token
        team = connection_state.setdefault("team_id", token.key.team_id)
        if team != token.key.team_id:
            return 403, "InvalidProviderToken"
        if self._clock() - token.issued_at > TOKEN_LIFETIME:
            return 403, "ExpiredProviderToken"
        if token.key.topics is not None and topic not in token.key.topics:
            return 400, "TopicDisallowed"
        return None

    def _verify(self, encoded: str) -> _Token | Rejection:
        try:
            header = jwt.get_unverified_header(encoded)
            key = self.keys.get(str(header.get("kid")))
            if key is None or header.get("alg") != "ES256":
                return 403, "InvalidProviderToken"
            claims = jwt.decode(
                encoded,
                key.public_key,
                algorithms=["ES256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return 403, "InvalidProviderToken"
        issued_at = claims.get("iat")
        if claims.get("iss") != key.team_id or not isinstance(issued_at, int):
            return 403, "InvalidProviderToken"
        return self._note_update(_Token(key, issued_at))

    def _note_update(self, token: _Token) -> _Token | Rejection:
        slot = (token.key.team_id, token.key.key_id)
        latest = self._latest_issued_at.get(slot)
        if latest is not None and latest < token.issued_at < latest + MIN_TOKEN_UPDATE_INTERVAL:
            return 429, "TooManyProviderTokenUpdates"
        if latest is None or token.issued_at > latest:
            self._latest_issued_at[slot] = token.issued_at
        return token


def certificate_topics(peer_certificate: dict[str, object]) -> frozenset[str]:
    """The topics an APNs client certificate may push to: its `UID` and two variants."""
    subject = peer_certificate.get("subject", ())
    assert isinstance(subject, tuple)
    uids = [value for rdn in subject for name, value in rdn if name == "userId"]
    return frozenset(f"{uid}{suffix}" for uid in uids for suffix in ("", ".voip", ".complication"))


def topics_of(topics: Iterable[str] | None) -> frozenset[str] | None:
    return None if topics is None else frozenset(topics)
