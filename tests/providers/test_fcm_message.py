"""Rendering a domain Message as an FCM `message` (no network; the wire is tested in test_fcm.py).

Rules: reference/status-gorush-sygnal.md §4.2 and the provider's brief (issue 3).
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pushrelay.domain import JSON, Message
from pushrelay.providers.fcm_message import data_size, render_message, request_body, string_data

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_data_values_are_always_strings_that_read_back_as_sent(data: dict[str, JSON]) -> None:
    """§4.2: data values must be strings; a non-string value is its JSON text."""
    rendered = string_data(data)
    assert all(isinstance(value, str) for value in rendered.values())
    for key, value in data.items():
        assert rendered[key] == value if isinstance(value, str) else json.loads(rendered[key]) == value


def test_body_is_compact_utf8_json_under_message() -> None:
    """§4.2: the body is {"message": {...}}; non-ASCII text is sent as UTF-8, not escaped."""
    body = request_body(render_message(Message(title="Grüße", data={"n": 1}), "tok", now=0))
    assert body.decode().startswith(
        '{"message":{"token":"tok","data":{"n":"1"},"notification":{"title":"Grüße"}'
    )


def test_data_size_counts_keys_values_and_notification_text_in_utf8() -> None:
    """§4.2: the 4096-byte limit covers data keys and values (and notification text)."""
    rendered = render_message(Message(title="é", body=None, data={"ab": "cd", "n": 10}), "tok", now=0)
    assert data_size(rendered) == len("ab" + "cd" + "n" + "10") + len("é".encode())
