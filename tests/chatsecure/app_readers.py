"""How the ChatSecure apps read a push, so tests can read what the fake APNs/FCM received the same way.

IOS-SDK `Deserializer.messageFromPushDictionary` and AND-SDK `gcm/PushParser.parseBundle`
(reference §3.2, §3.3), redone in Python: each fails where the app's code would fail.
"""

from __future__ import annotations

import json

from pushrelay.domain import JSON


def ios_sdk_reads(payload: JSON) -> tuple[str, JSON]:
    """IOS-SDK `Deserializer.messageFromPushDictionary`: `aps` → `alert` → `message` dictionaries,
    a string `token` (else it throws), and `data` if it is a dictionary (else nil)."""
    assert isinstance(payload, dict)
    aps = payload["aps"]
    assert isinstance(aps, dict)
    alert = aps["alert"]
    assert isinstance(alert, dict)
    message = alert["message"]
    assert isinstance(message, dict)
    token = message["token"]
    assert isinstance(token, str)
    data = message.get("data")
    return token, data if isinstance(data, dict) else None


def android_sdk_reads(data: dict[str, str]) -> tuple[str, str]:
    """AND-SDK `PushParser.parseBundle`: data key `message` → Gson JsonObject → `.message`, then
    `token` and `data` through `getAsString()`, which throws on anything but a JSON primitive."""
    payload = json.loads(data["message"])["message"]
    token, pushed = payload["token"], payload["data"]
    assert isinstance(token, str) and isinstance(pushed, str)
    return token, pushed
