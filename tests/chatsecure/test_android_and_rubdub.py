"""Replays the Android SDK's form-encoded API calls (reference §1.1, §1.4).

What its knocks (and RubDub's multipart ones, §4.2) deliver to FCM/APNs is in test_delivery_to_fakes.py.
"""

from __future__ import annotations

from tests.chatsecure.conftest import Harness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_the_android_sdk_flow_is_form_encoded_end_to_end(cs: Harness) -> None:
    """AND-SDK PushSecureApi: @FormUrlEncoded accounts/, device/gcm/, tokens/, messages/."""
    created = await cs.http.post("/api/v1/accounts/", data={"username": "droid", "password": "pw"})
    assert created.status_code == 200
    auth = {"Authorization": f"Token {created.json()['token']}"}

    device = await cs.http.post(
        "/api/v1/device/gcm/", data={"registration_id": "gcm-id-1", "name": "Pixel"}, headers=auth
    )
    assert device.status_code == 201
    assert device.json()["active"] is True  # DRF's form quirk would have made it False; see the docs

    minted = await cs.http.post(
        "/api/v1/tokens/", data={"name": "bob", "gcm_device": device.json()["id"]}, headers=auth
    )
    assert minted.status_code == 201 and minted.json()["gcm_device"] == device.json()["id"]
    assert minted.json()["name"] == "bob"

    listed = await cs.http.get("/api/v1/tokens/", headers=auth)
    assert listed.json()["count"] == 1 and listed.json()["next"] is None and listed.json()["previous"] is None
    assert listed.json()["results"][0]["token"] == minted.json()["token"]

    devices = await cs.http.get("/api/v1/device/gcm/", headers=auth)
    assert [d["id"] for d in devices.json()["results"]] == [device.json()["id"]]

    knock = await cs.http.post("/api/v1/messages/", data={"token": minted.json()["token"], "data": "ping"})
    assert knock.status_code == 202
    assert knock.json() == {"token": minted.json()["token"], "data": "ping", "priority": None}


async def test_the_android_sdk_put_sends_the_whole_device(cs: Harness) -> None:
    """AND-SDK updateDevice: PUT device/gcm/{id}/ with the Gson Device (extra id, date_created, type)."""
    alice = await cs.account()
    device = await alice.device("gcm", "gcm-id-3")
    body = {**device, "registration_id": "gcm-id-4", "type": "GCM"}
    response = await alice.request("PUT", f"/api/v1/device/gcm/{device['id']}/", json=body)
    assert response.status_code == 200 and response.json()["registration_id"] == "gcm-id-4"
    assert response.json()["date_created"] == device["date_created"]
