"""What goes to the phone for one publish, per dialect and platform (reference/xep0357.md §4, §6).

* Conversations on FCM: a data-only message `{"account": p2 hash}` (+ `"channel"`), the
  hash the app matches against its accounts; collapse key = the hash's first 6 characters.
* APNs (Conversations iOS builds, Siskin, Monal): an alert when the summary carries a body
  (Prosody fills it only for "important" stanzas), with `mutable-content` for a Notification
  Service Extension; otherwise a background push (`content-available`).
* Tigase encrypted pushes: `encrypted` and `iv` passed through unchanged at the top level,
  where Siskin's extension reads them.

Bodies and sender JIDs from the summary reach the phone only when the app's
`forward_summary` allows it; they are never logged.
"""

from __future__ import annotations

from pushrelay.config import XmppAppSettings
from pushrelay.domain import JSON, Message, Platform, Priority, PushType

from .stanza import Publish


def message_for(
    publish: Publish,
    platform: Platform,
    settings: XmppAppSettings,
    *,
    account: str | None = None,
    channel: str | None = None,
    always_alert: bool = False,
) -> Message:
    data: dict[str, JSON] = {}
    if account is not None:
        data["account"] = account
    if channel is not None:
        data["channel"] = channel
    if publish.encrypted is not None:
        data["encrypted"] = publish.encrypted.payload
        data["iv"] = publish.encrypted.iv
        if publish.encrypted.kind:
            data["type"] = publish.encrypted.kind
    body = None
    if settings.forward_summary:
        body = publish.summary.last_message_body
        if publish.summary.last_message_sender:
            data["sender"] = publish.summary.last_message_sender
        if body:
            data["body"] = body
    important = always_alert or publish.is_important or publish.encrypted is not None
    priority = Priority.HIGH if important else Priority.NORMAL
    collapse = (channel or account or "")[:6] or None
    if platform is Platform.FCM:
        return Message(data=data, priority=priority, push_type=PushType.BACKGROUND, collapse_id=collapse)
    if important:
        return Message(
            title=settings.alert_title,
            body=body,
            data=data,
            sound="default",
            mutable_content=settings.mutable_content,
            priority=Priority.HIGH,
            push_type=PushType.ALERT,
        )
    return Message(data=data, content_available=True, priority=Priority.NORMAL, push_type=PushType.BACKGROUND)
