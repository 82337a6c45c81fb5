"""Stateless nodes: p2's "further optimization", opt-in per app.

The node handed to the client is the registration itself, sealed (AES-GCM under the server
key): platform, device token, app, dialect, the account's domain and p2's account and channel
hashes. The secret is a MAC over the node. A publish then needs no database read: open the
node, compare the secret, push. What a database gave for free is kept small: unregistered
registrations go to a deny list (by keyed hash), and dead tokens are remembered by the Relay.

The price: the node changes whenever the token does, so a client must re-enable after a
token refresh (Conversations does: it re-registers and re-enables on every start).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Final

from pushrelay.domain import AppId, Platform
from pushrelay.secrets import Keyring, SealError

PREFIX: Final = "s."
"""Stateful nodes are base64url and never contain a dot, so the prefix tells the kinds apart."""
SEAL_LABEL: Final = "xmpp.stateless"
SECRET_LABEL: Final = "xmpp.stateless.secret"
MAX_NODE_CHARS: Final = 2048


@dataclass(frozen=True, slots=True)
class SealedRegistration:
    """What a stateless node carries."""

    app: AppId
    dialect: str
    platform: Platform
    token: str = field(repr=False)
    domain: str
    account: str | None = None
    channel: str | None = None
    key: str = field(default="", repr=False)
    """The registration's identity (what unregistration names), hashed into the deny list."""


def is_stateless(node: str) -> bool:
    return node.startswith(PREFIX)


class StatelessNodes:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, registration: SealedRegistration) -> str:
        doc = {
            "a": registration.app,
            "d": registration.dialect,
            "p": registration.platform.value,
            "t": registration.token,
            "n": registration.domain,
            "h": registration.account,
            "c": registration.channel,
            "k": registration.key,
        }
        sealed = self._keyring.seal(SEAL_LABEL, json.dumps(doc, separators=(",", ":")))
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, node: str) -> SealedRegistration | None:
        """The registration in `node`, or None if it is not one we sealed (or was altered)."""
        if not is_stateless(node) or len(node) > MAX_NODE_CHARS:
            return None
        text = node[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            doc = json.loads(self._keyring.open(SEAL_LABEL, raw))
            return SealedRegistration(
                app=AppId(doc["a"]),
                dialect=doc["d"],
                platform=Platform(doc["p"]),
                token=doc["t"],
                domain=doc["n"],
                account=doc["h"],
                channel=doc["c"],
                key=doc["k"],
            )
        except (binascii.Error, SealError, ValueError, KeyError, TypeError):
            return None

    def secret(self, node: str) -> str:
        return _b64(self._keyring.hash(SECRET_LABEL, node))[:24]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
