"""secrets.py: keyed hashes, sealing, tamper detection, rotation, the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.secrets import (
    Keyring,
    SealError,
    constant_time_equals,
    load_key_file,
    random_token,
    write_key_file,
)

KEYRING = Keyring.generate()


@given(st.binary(max_size=512), st.text(max_size=20))
def test_sealed_values_open_to_what_was_sealed(value: bytes, label: str) -> None:
    assert KEYRING.open(label, KEYRING.seal(label, value)) == value


def test_sealing_twice_gives_different_blobs() -> None:
    assert KEYRING.seal("l", "v") != KEYRING.seal("l", "v")


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=255))
def test_any_altered_byte_is_detected(position: int, flip: int) -> None:
    sealed = bytearray(KEYRING.seal("label", b"device token"))
    sealed[position % len(sealed)] ^= flip
    with pytest.raises(SealError):
        KEYRING.open("label", bytes(sealed))


def test_a_value_sealed_for_one_label_does_not_open_under_another() -> None:
    with pytest.raises(SealError):
        KEYRING.open("capabilities.value", KEYRING.seal("devices.token", "t"))


def test_truncated_blobs_are_refused() -> None:
    with pytest.raises(SealError):
        KEYRING.open("l", b"\x00\x01short")


def test_keyed_hashes_are_stable_and_depend_on_label_and_key() -> None:
    assert KEYRING.hash("l", "v") == KEYRING.hash("l", "v")
    assert KEYRING.hash("l", "v") != KEYRING.hash("m", "v")
    assert KEYRING.hash("l", "v") != Keyring.generate().hash("l", "v")


def test_rotation_keeps_old_blobs_readable_until_finished() -> None:
    old_blob = KEYRING.seal("l", "v")
    rotating = KEYRING.with_new_key()
    assert rotating.open("l", old_blob) == b"v"
    new_blob = rotating.seal("l", "v")
    assert rotating.is_current(new_blob) and not rotating.is_current(old_blob)
    finished = rotating.only_current()
    assert finished.open("l", new_blob) == b"v"
    with pytest.raises(SealError):
        finished.open("l", old_blob)


def test_rotation_keeps_the_lookup_key() -> None:
    assert KEYRING.with_new_key().only_current().hash("l", "v") == KEYRING.hash("l", "v")


def test_the_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "var" / "server.key"
    write_key_file(path, KEYRING)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path).hash("l", "v") == KEYRING.hash("l", "v")


def test_a_broken_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a pushrelay key file"):
        load_key_file(path)


def test_the_keyring_never_shows_its_keys() -> None:
    assert "key" in repr(KEYRING) and KEYRING.to_json().split('"')[3] not in repr(KEYRING)


def test_random_tokens_are_40_lowercase_hex() -> None:
    token = random_token()
    assert len(token) == 40 and token == token.lower() and int(token, 16) >= 0
    assert random_token() != token


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", b"abc") and not constant_time_equals("abc", "abd")
