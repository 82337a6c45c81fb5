"""The APNs payload and headers rendered from a `domain.Message`.

Rules: reference/status-gorush-sygnal.md §2 (gorush's iOS payload: alert string without a
title, `data` keys beside `aps`) and §4.1 (Apple's headers); domain.Message docstring
(`aps` merged last).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushrelay.domain import JSON, Message, Priority, PushType
from pushrelay.providers.apns_payload import priority, render_payload, topic


def payload(**fields: object) -> dict[str, JSON]:
    rendered = json.loads(render_payload(Message(**fields)))  # type: ignore[arg-type]
    assert isinstance(rendered, dict)
    return rendered


def test_body_without_title_is_an_alert_string() -> None:
    """gorush buildIOSPayload: a message without a title makes `aps.alert` the string."""
    assert payload(body="You have a new message") == {"aps": {"alert": "You have a new message"}}


def test_title_and_body_make_an_alert_dictionary() -> None:
    """Apple: `aps.alert` may be a dictionary with title and body."""
    assert payload(title="Alice", body="Hi") == {"aps": {"alert": {"title": "Alice", "body": "Hi"}}}


def test_aps_fields_use_apples_key_names() -> None:
    """Apple payload keys: sound, badge, category, thread-id, content-available, mutable-content."""
    rendered = payload(
        body="Hi",
        sound="default",
        badge=3,
        category="MSG",
        thread_id="t1",
        content_available=True,
        mutable_content=True,
    )
    assert rendered["aps"] == {
        "alert": "Hi",
        "sound": "default",
        "badge": 3,
        "category": "MSG",
        "thread-id": "t1",
        "content-available": 1,
        "mutable-content": 1,
    }


def test_data_keys_sit_beside_aps() -> None:
    """gorush: each `data` key becomes a top-level custom key (Status reads `encryptedMessage`)."""
    assert payload(body="Hi", data={"encryptedMessage": "0x00", "chatId": "0x01"}) == {
        "encryptedMessage": "0x00",
        "chatId": "0x01",
        "aps": {"alert": "Hi"},
    }


def test_data_cannot_replace_aps() -> None:
    """Only `Message.aps` changes `aps`; a `data` key named aps is dropped."""
    assert payload(body="Hi", data={"aps": "oops"}) == {"aps": {"alert": "Hi"}}


def test_message_aps_is_merged_last_and_deeply() -> None:
    """ChatSecure reads `aps.alert.message.token`: `Message.aps` merges into the rendered alert."""
    rendered = payload(body="New message", aps={"alert": {"message": {"token": "abc"}}, "sound": "ping"})
    assert rendered["aps"] == {"alert": {"body": "New message", "message": {"token": "abc"}}, "sound": "ping"}


def test_background_push_sets_content_available() -> None:
    """Apple: background pushes carry `content-available: 1` and nothing to show."""
    assert payload(push_type=PushType.BACKGROUND) == {"aps": {"content-available": 1}}


def test_text_is_utf8_not_escaped() -> None:
    """The 4096-byte limit counts bytes: UTF-8 is shorter than \\u escapes."""
    assert render_payload(Message(body="héllo ✓")) == '{"aps":{"alert":"héllo ✓"}}'.encode()


@pytest.mark.parametrize(
    ("push_type", "level", "expected"),
    [
        (PushType.ALERT, Priority.HIGH, b"10"),
        (PushType.ALERT, Priority.NORMAL, b"5"),
        (PushType.BACKGROUND, Priority.HIGH, b"5"),
        (PushType.BACKGROUND, Priority.NORMAL, b"5"),
        (PushType.VOIP, Priority.HIGH, b"10"),
    ],
)
def test_priority_header(push_type: PushType, level: Priority, expected: bytes) -> None:
    """§4.1: HIGH is 10, NORMAL is 5; background pushes must use 5."""
    assert priority(Message(push_type=push_type, priority=level)) == expected


@pytest.mark.parametrize(
    ("push_type", "expected"),
    [
        (PushType.ALERT, "org.example.chat"),
        (PushType.VOIP, "org.example.chat.voip"),
        (PushType.COMPLICATION, "org.example.chat.complication"),
        (PushType.LIVEACTIVITY, "org.example.chat.push-type.liveactivity"),
    ],
)
def test_topic_of_a_push_type(push_type: PushType, expected: str) -> None:
    """Apple: VoIP, complication and Live Activity pushes go to the bundle id plus a suffix."""
    assert topic(Message(push_type=push_type), "org.example.chat") == expected


@given(
    title=st.none() | st.text(max_size=50),
    body=st.none() | st.text(max_size=200),
    data=st.dictionaries(st.text(max_size=10), st.text(max_size=20) | st.integers(), max_size=5),
)
def test_any_message_renders_to_a_json_object_with_aps(
    title: str | None, body: str | None, data: dict[str, JSON]
) -> None:
    """Whatever a protocol adapter hands over, the payload is valid JSON with an `aps` object."""
    rendered = json.loads(render_payload(Message(title=title, body=body, data=data)))
    assert isinstance(rendered["aps"], dict)
