"""HPACK for a client whose requests repeat the same headers: encode once, send the same bytes.

A push request carries a handful of headers that are the same every time on a connection
(method, authority, topic, push type, priority, the provider token) and two that never
repeat (the path with the device token, the apns-id). `hpack.Encoder` re-encodes every
header of every request, which was a third of the provider's CPU. This encoder:

* encodes never-indexed headers (`hpack.NeverIndexedHeaderTuple`) directly, as literals
  that never enter the dynamic table;
* encodes each run of the other headers with `hpack.Encoder`, and keeps the bytes when
  encoding them added nothing to the dynamic table: then every header of the run is
  already indexed, and the same bytes stay correct until the table changes;
* never uses Huffman coding: a few more bytes on the wire, much less CPU at both ends.
"""

from __future__ import annotations

from typing import Any

from hpack import Encoder, HeaderTuple
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

_STATIC_NAME_INDEX: dict[bytes, int] = {}
for _index, (_name, _) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_NAME_INDEX.setdefault(_name, _index)

_MAX_CACHED_RUNS = 64


class RequestEncoder(Encoder):
    """A drop-in `hpack.Encoder` for `h2`; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[tuple[tuple[bytes, bytes], ...], tuple[object, int, int, bytes]] = {}

    def encode(self, headers: Any, huffman: bool = False) -> bytes:
        if self.header_table.resized or isinstance(headers, dict):
            return super().encode(headers, huffman=False)  # a size update must lead the block
        block: list[bytes] = []
        run: list[tuple[bytes, bytes]] = []
        for header in headers:
            if isinstance(header, HeaderTuple) and not header.indexable:
                if run:
                    block.append(self._encode_run(tuple(run)))
                    run = []
                block.append(_never_indexed(header[0], header[1]))
            else:
                run.append((header[0], header[1]))
        if run:
            block.append(self._encode_run(tuple(run)))
        return b"".join(block)

    def _encode_run(self, run: tuple[tuple[bytes, bytes], ...]) -> bytes:
        head, length, size = self._table_state()
        cached = self._runs.get(run)
        if cached is not None and cached[0] is head and cached[1:3] == (length, size):
            return cached[3]
        encoded = super().encode(run, huffman=False)
        new_head, new_length, new_size = self._table_state()
        if new_head is head and (new_length, new_size) == (length, size):  # nothing was inserted
            if len(self._runs) >= _MAX_CACHED_RUNS:
                self._runs.clear()
            self._runs[run] = (head, length, size, encoded)
        return encoded

    def _table_state(self) -> tuple[object, int, int]:
        """The newest entry (by identity), the entry count and the size limit of the dynamic table.

        Every insertion puts a new tuple object first, so while these are the same, so is
        the table (the cache holds the entry, so its identity cannot be reused).
        """
        entries = self.header_table.dynamic_entries
        return (entries[0] if entries else None, len(entries), self.header_table.maxsize)


def _never_indexed(name: bytes, value: bytes) -> bytes:
    """RFC 7541 §6.2.3: literal header field never indexed, no Huffman coding."""
    index = _STATIC_NAME_INDEX.get(name)
    if index is not None:
        prefix = encode_integer(index, 4)
        prefix[0] |= 0x10
        head = bytes(prefix)
    else:
        head = b"\x10" + bytes(encode_integer(len(name), 7)) + name
    return head + bytes(encode_integer(len(value), 7)) + value
