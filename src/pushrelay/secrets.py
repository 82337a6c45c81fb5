"""Capability tokens, keyed hashes and sealing: how pushrelay keeps secrets out of its database.

* Look-ups go by `Keyring.hash(label, value)`: HMAC-SHA256 under the lookup key. A copied
  database alone cannot be searched for a known token, JID or device token.
* Values that must be read back (device tokens, tokens an owner may list) are sealed with
  AES-256-GCM under the current sealing key. The sealed blob carries its key id, so keys
  can be rotated: `pushrelay rotate-key` adds a key, re-seals every row, then drops the old.
* The label is bound into both (as HMAC input and as GCM associated data), so a sealed
  device token cannot be replayed as, say, a sealed capability.

The lookup key never rotates: capabilities stored only as a hash could not be re-hashed.
Rotating it means re-issuing every capability; see docs/operations.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pushrelay.errors import PushRelayError

KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = struct.Struct(">H")


class SealError(PushRelayError):
    """A sealed value was tampered with, truncated, or sealed under an unknown key."""


def random_token(nbytes: int = 20) -> str:
    """A capability token: `nbytes` random bytes as lowercase hex (20 → 40 chars, ChatSecure's size)."""
    return secrets.token_hex(nbytes)


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


@dataclass(frozen=True, slots=True)
class SealingKey:
    id: int
    key: bytes

    def __repr__(self) -> str:
        return f"SealingKey(id={self.id}, key=<redacted>)"


class Keyring:
    """The server's keys: one lookup key, and sealing keys newest first."""

    def __init__(self, lookup_key: bytes, sealing_keys: list[SealingKey]) -> None:
        if len(lookup_key) != KEY_BYTES or not sealing_keys:
            raise ValueError("a keyring needs a 32-byte lookup key and at least one sealing key")
        self._lookup_key = lookup_key
        self._sealing = sealing_keys
        self._by_id = {k.id: AESGCM(k.key) for k in sealing_keys}

    def __repr__(self) -> str:
        return f"Keyring(sealing_key_ids={self.key_ids})"

    @classmethod
    def generate(cls) -> Keyring:
        return cls(os.urandom(KEY_BYTES), [SealingKey(1, os.urandom(KEY_BYTES))])

    @property
    def current_key_id(self) -> int:
        return self._sealing[0].id

    @property
    def key_ids(self) -> list[int]:
        return [k.id for k in self._sealing]

    def hash(self, label: str, value: str | bytes) -> bytes:
        """The keyed hash used to look `value` up; equal inputs give equal hashes."""
        data = value.encode() if isinstance(value, str) else value
        return hmac.new(self._lookup_key, label.encode() + b"\0" + data, hashlib.sha256).digest()

    def seal(self, label: str, value: str | bytes) -> bytes:
        """Encrypt and authenticate `value` under the current key: `key id || nonce || ciphertext`."""
        data = value.encode() if isinstance(value, str) else value
        key = self._sealing[0]
        nonce = os.urandom(NONCE_BYTES)
        header = _KEY_ID.pack(key.id)
        return header + nonce + self._by_id[key.id].encrypt(nonce, data, header + label.encode())

    def open(self, label: str, sealed: bytes) -> bytes:
        """Reverse `seal`; raises SealError if the blob was altered or its key is gone."""
        if len(sealed) < _KEY_ID.size + NONCE_BYTES + 16:
            raise SealError("sealed value is truncated")
        header, nonce = sealed[: _KEY_ID.size], sealed[_KEY_ID.size : _KEY_ID.size + NONCE_BYTES]
        (key_id,) = _KEY_ID.unpack(header)
        aead = self._by_id.get(key_id)
        if aead is None:
            raise SealError(f"sealed under unknown key id {key_id}")
        try:
            return aead.decrypt(nonce, sealed[_KEY_ID.size + NONCE_BYTES :], header + label.encode())
        except InvalidTag as exc:
            raise SealError("sealed value failed authentication") from exc

    def open_str(self, label: str, sealed: bytes) -> str:
        return self.open(label, sealed).decode()

    def is_current(self, sealed: bytes) -> bool:
        """Whether `sealed` already uses the current key (rotation skips those rows)."""
        return sealed[: _KEY_ID.size] == _KEY_ID.pack(self.current_key_id)

    def with_new_key(self) -> Keyring:
        """A keyring whose current key is fresh; the old keys stay to open what they sealed."""
        new = SealingKey(max(self.key_ids) + 1, os.urandom(KEY_BYTES))
        return Keyring(self._lookup_key, [new, *self._sealing])

    def only_current(self) -> Keyring:
        """The keyring once rotation finished: the old sealing keys are dropped."""
        return Keyring(self._lookup_key, self._sealing[:1])

    def to_json(self) -> str:
        doc = {
            "lookup_key": base64.b64encode(self._lookup_key).decode(),
            "sealing_keys": [{"id": k.id, "key": base64.b64encode(k.key).decode()} for k in self._sealing],
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            doc = json.loads(text)
            lookup = base64.b64decode(doc["lookup_key"], validate=True)
            sealing = [
                SealingKey(int(k["id"]), base64.b64decode(k["key"], validate=True))
                for k in doc["sealing_keys"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("not a pushrelay key file") from exc
        if any(len(k.key) != KEY_BYTES for k in sealing):
            raise ValueError("sealing keys must be 32 bytes")
        return cls(lookup, sealing)


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write the keyring with mode 0600, atomically (a crash never leaves half a key file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(keyring.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_key_file(path: Path) -> Keyring:
    return Keyring.from_json(path.read_text())
