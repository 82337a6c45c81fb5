"""A minimal protobuf codec for the test client, so it shares no generated code with the server.

Field numbers are copied by hand from status-go's `push_notifications.proto` and
`application_metadata_message.proto` (reference/status-gorush-sygnal.md §1.1, §1.2): if the
server's `.proto` files drifted, the two would disagree and the flow tests would fail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

Value = int | bytes | str
Field = tuple[int, Value]

VARINT = 0
LENGTH = 2


def encode(fields: Iterable[Field]) -> bytes:
    """Serialize (number, value) pairs; ints are varints, str and bytes length-delimited."""
    out = bytearray()
    for number, value in fields:
        if isinstance(value, int):
            out += _varint(number << 3 | VARINT) + _varint(value)
        else:
            data = value.encode() if isinstance(value, str) else value
            out += _varint(number << 3 | LENGTH) + _varint(len(data)) + data
    return bytes(out)


def decode(data: bytes) -> dict[int, list[int | bytes]]:
    """Parse into number -> values (repeated fields keep their order)."""
    fields: dict[int, list[int | bytes]] = defaultdict(list)
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, position = _read_varint(data, position)
            fields[number].append(value)
        elif wire_type == LENGTH:
            size, position = _read_varint(data, position)
            fields[number].append(data[position : position + size])
            position += size
        else:
            raise ValueError(f"wire type {wire_type} not used by these messages")
    return fields


def first_int(fields: dict[int, list[int | bytes]], number: int) -> int:
    values = fields.get(number, [])
    return int(values[0]) if values else 0


def first_bytes(fields: dict[int, list[int | bytes]], number: int) -> bytes:
    values = fields.get(number, [])
    return bytes(values[0]) if values else b""  # type: ignore[arg-type]


def all_bytes(fields: dict[int, list[int | bytes]], number: int) -> list[bytes]:
    return [value for value in fields.get(number, []) if isinstance(value, bytes)]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position
