"""The request HPACK encoder: whatever it reuses, a standard decoder reads back what was sent.

Rule: RFC 7541 (HPACK); the encoder keeps encoded bytes only while the dynamic table is unchanged.
"""

from __future__ import annotations

from hpack import Decoder, NeverIndexedHeaderTuple
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.providers.h2encoder import RequestEncoder

STABLE = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"api.push.apple.com")]
JWT = (b"authorization", b"bearer " + b"e" * 200)


def request(path: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        *STABLE,
        NeverIndexedHeaderTuple(b":path", path),
        (b"apns-topic", b"org.example.chat"),
        *extra,
        JWT,
    ]


def test_repeated_headers_cost_a_byte_each_once_indexed() -> None:
    """A second request with the same repeated headers sends only indexes plus the new path."""
    encoder, decoder = RequestEncoder(), Decoder()
    first = encoder.encode(request(b"/3/device/aa"))
    second = encoder.encode(request(b"/3/device/bb"))
    third = encoder.encode(request(b"/3/device/cc"))
    assert len(second) == len(third) < 30 < len(first)
    assert [decoder.decode(block, raw=True) for block in (first, second, third)] == [
        [tuple(h) for h in request(path)] for path in (b"/3/device/aa", b"/3/device/bb", b"/3/device/cc")
    ]


HEADER = st.tuples(
    st.sampled_from([b"apns-collapse-id", b"apns-topic", b"x-a"]), st.binary(min_size=0, max_size=3)
)


@given(
    requests=st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=40),
            st.lists(HEADER, max_size=3),
            st.booleans(),
            st.sampled_from([None, 0, 64, 256, 4096]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_decoder_reads_back_every_request(
    requests: list[tuple[bytes, list[tuple[bytes, bytes]], bool, int | None]],
) -> None:
    """RFC 7541: any sequence of requests, table size changes included, decodes to what was encoded."""
    encoder, decoder = RequestEncoder(), Decoder()
    for path, extra, new_token, table_size in requests:
        if table_size is not None:
            encoder.header_table_size = table_size
            decoder.max_allowed_table_size = 4096
        token = (b"authorization", b"bearer " + path) if new_token else JWT
        headers = [*STABLE, NeverIndexedHeaderTuple(b":path", path), *extra, token]
        assert decoder.decode(encoder.encode(headers), raw=True) == [tuple(h) for h in headers]
