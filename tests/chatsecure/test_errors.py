"""Every error shape a client can meet, as DRF rendered it (reference §1.1, §1.3, §1.5, §1.6)."""

from __future__ import annotations

from tests.chatsecure.conftest import Harness


async def test_a_write_without_credentials_is_401_with_www_authenticate(cs: Harness) -> None:
    """DRF NotAuthenticated: `Authentication credentials were not provided.`, `WWW-Authenticate: Token`."""
    response = await cs.http.post("/api/v1/device/apns/", json={"registration_id": "x"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["www-authenticate"] == "Token"


async def test_a_bad_key_is_401_even_on_anonymous_endpoints(cs: Harness) -> None:
    """reference §1.1: a bad token gives 401 `Invalid token.` on every endpoint, AllowAny included."""
    response = await cs.http.get("/api/v1/pubsub/", headers={"Authorization": "Token " + "0" * 40})
    assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}


async def test_a_malformed_authorization_header_is_named(cs: Harness) -> None:
    """DRF TokenAuthentication's header messages."""
    empty = await cs.http.get("/api/v1/accounts/", headers={"Authorization": "Token"})
    spaced = await cs.http.get("/api/v1/accounts/", headers={"Authorization": "Token a b"})
    assert empty.json() == {"detail": "Invalid token header. No credentials provided."}
    assert spaced.json() == {"detail": "Invalid token header. Token string should not contain spaces."}


async def test_a_wrong_password_is_401_invalid_credentials(cs: Harness) -> None:
    """reference §1.3: `{"error": "Invalid credentials"}`, no username or token."""
    await cs.account(username="carol", password="right")
    response = await cs.http.post("/api/v1/accounts/", json={"username": "carol", "password": "wrong"})
    assert response.status_code == 401 and response.json() == {"error": "Invalid credentials"}


async def test_a_taken_email_is_400_with_the_accounts_error_shape(cs: Harness) -> None:
    """reference §1.3: `{"error": "An account with that email address already exists."}`."""
    first = await cs.http.post(
        "/api/v1/accounts/", json={"username": "d1", "password": "p", "email": "d@x.org"}
    )
    assert first.status_code == 200 and first.json()["email"] == "d@x.org"
    second = await cs.http.post(
        "/api/v1/accounts/", json={"username": "d2", "password": "p", "email": "d@x.org"}
    )
    assert second.status_code == 400
    assert second.json() == {"error": "An account with that email address already exists."}


async def test_a_missing_field_is_400_field_required(cs: Harness) -> None:
    """reference §1.3: `{"username": ["This field is required."]}`."""
    response = await cs.http.post("/api/v1/accounts/", json={"password": "p"})
    assert response.status_code == 400 and response.json() == {"username": ["This field is required."]}


async def test_a_token_needs_exactly_one_device(cs: Harness) -> None:
    """reference §1.5: the two non_field_errors of TokenSerializer.validate."""
    alice = await cs.account()
    apns, gcm = await alice.device("apns"), await alice.device("gcm")
    none = await alice.request("POST", "/api/v1/tokens/", json={"name": "x"})
    both = await alice.request(
        "POST", "/api/v1/tokens/", json={"apns_device": apns["id"], "gcm_device": gcm["id"]}
    )
    assert none.json() == {"non_field_errors": ["Either an APNS or GCM device must be specified"]}
    assert both.json() == {"non_field_errors": ["Only one APNS or one GCM device may be specified"]}


async def test_an_unknown_device_id_is_an_invalid_pk(cs: Harness) -> None:
    """reference §1.5: `{"apns_device": ["Invalid pk \\"<id>\\" - object does not exist."]}`."""
    alice = await cs.account()
    response = await alice.request("POST", "/api/v1/tokens/", json={"apns_device": "nope"})
    assert response.status_code == 400
    assert response.json() == {"apns_device": ['Invalid pk "nope" - object does not exist.']}


async def test_a_knock_with_an_unknown_token_is_404_with_an_empty_body(cs: Harness) -> None:
    """reference §1.6: unknown token → 404, empty body; the APP then tries the buddy's next token."""
    response = await cs.http.post("/api/v1/messages/", json={"token": "f" * 40})
    assert response.status_code == 404 and response.content == b""


async def test_get_on_messages_is_405(cs: Harness) -> None:
    """reference §1.6: MessagesViewSet has only create: `Method "GET" not allowed.`."""
    response = await cs.http.get("/api/v1/messages/")
    assert response.status_code == 405 and response.json() == {"detail": 'Method "GET" not allowed.'}
    assert "POST" in response.headers["allow"]


async def test_an_unknown_device_is_404_not_found(cs: Harness) -> None:
    """DRF Http404: `{"detail": "Not found."}`."""
    alice = await cs.account()
    response = await alice.request("GET", "/api/v1/device/apns/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


async def test_anonymous_token_listing_is_403(cs: Harness) -> None:
    """reference §1.5: TokenSerializer.__init__ raises PermissionDenied for anonymous users."""
    response = await cs.http.get("/api/v1/tokens/")
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


async def test_anonymous_device_listing_is_empty(cs: Harness) -> None:
    """reference §1.4: get_queryset returns [] for anonymous users."""
    response = await cs.http.get("/api/v1/device/apns/")
    assert response.status_code == 200 and response.json()["results"] == []


async def test_an_unsupported_body_type_is_415(cs: Harness) -> None:
    """DRF UnsupportedMediaType."""
    response = await cs.http.post(
        "/api/v1/messages/", content=b"token=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


async def test_a_huge_body_is_413(cs: Harness) -> None:
    """DESIGN principle 3; `chatsecure.max_body_bytes`."""
    response = await cs.http.post("/api/v1/messages/", json={"token": "x" * 20_000})
    assert response.status_code == 413 and "detail" in response.json()


async def test_an_unknown_app_is_a_field_error(cs: Harness) -> None:
    """pushrelay's `app` field on account creation accepts only configured apps."""
    response = await cs.http.post("/api/v1/accounts/", json={"username": "u", "password": "p", "app": "nope"})
    assert response.status_code == 400 and response.json() == {"app": ['"nope" is not a valid choice.']}
