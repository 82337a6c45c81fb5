"""The wire layer alone: DRF's field rules, error texts, body encodings and datetime format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pushrelay.protocols.chatsecure import wire
from pushrelay.protocols.chatsecure.wire import (
    AccountRequest,
    ApiError,
    ApnsDeviceRequest,
    GcmDeviceRequest,
    KnockRequest,
)

MAX_BODY = 1024


async def _echo(request: Request) -> Response:
    try:
        fields = await wire.read_body(request, MAX_BODY)
    except ApiError as exc:
        return exc.to_response()
    return wire.json_response({key: str(value) for key, value in fields.items()})


@pytest.fixture
async def echo() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/", _echo, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_datetimes_have_six_fractional_digits_and_a_z() -> None:
    """reference §1.1: SRV DATETIME_FORMAT `%Y-%m-%dT%H:%M:%S.%fZ`, which both SDKs parse exactly."""
    moment = datetime(2018, 5, 12, 19, 48, 19, 888451, tzinfo=UTC)
    assert wire.format_datetime(moment) == "2018-05-12T19:48:19.888451Z"


def test_datetimes_keep_the_fraction_when_microseconds_are_zero() -> None:
    """reference §7.1: always 6 digits, `date_expires` too (DRF dropped them there)."""
    assert wire.format_datetime(datetime(2020, 1, 1, tzinfo=UTC)) == "2020-01-01T00:00:00.000000Z"


def test_datetimes_are_rendered_in_utc() -> None:
    """reference §1.1: USE_TZ with TIME_ZONE GMT; naive values from SQLite are UTC."""
    plus_two = datetime(2020, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert wire.format_datetime(plus_two) == "2020-01-01T00:00:00.000000Z"
    assert wire.format_datetime(datetime(2020, 1, 1)) == "2020-01-01T00:00:00.000000Z"


def test_json_is_rendered_compact() -> None:
    """reference §1.6: the knock echo is compact JSON (82 bytes in a Heroku log)."""
    body = {"token": "a" * 40, "data": None, "priority": "high"}
    assert len(wire.render_json(body)) == 82


async def test_json_bodies_are_read(echo: httpx.AsyncClient) -> None:
    """reference §1.1: IOS-SDK sends JSON."""
    response = await echo.post("/", json={"token": "t", "priority": "high"})
    assert response.json() == {"token": "t", "priority": "high"}


async def test_form_urlencoded_bodies_are_read(echo: httpx.AsyncClient) -> None:
    """reference §1.1: AND-SDK sends @FormUrlEncoded."""
    response = await echo.post("/", data={"token": "t", "data": "x y"})
    assert response.json() == {"token": "t", "data": "x y"}


async def test_multipart_bodies_are_read(echo: httpx.AsyncClient) -> None:
    """reference §1.1, §4.2: RubDub posts multipart/form-data fields `token` and `priority`."""
    response = await echo.post("/", files={"token": (None, "t"), "priority": (None, "high")})
    assert response.json() == {"token": "t", "priority": "high"}


async def test_an_empty_body_has_no_fields(echo: httpx.AsyncClient) -> None:
    """DRF: an empty body is an empty QueryDict, whatever the content type."""
    response = await echo.post("/", content=b"", headers={"content-type": "application/json"})
    assert response.json() == {}


async def test_a_repeated_form_key_keeps_its_last_value(echo: httpx.AsyncClient) -> None:
    """Django QueryDict.__getitem__ returns the last value."""
    response = await echo.post(
        "/", content=b"a=1&a=2", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.json() == {"a": "2"}


async def test_malformed_json_is_a_drf_parse_error(echo: httpx.AsyncClient) -> None:
    """DRF ParseError: 400 `{"detail": "JSON parse error - ..."}`."""
    response = await echo.post("/", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


async def test_a_json_array_is_not_a_dictionary(echo: httpx.AsyncClient) -> None:
    """DRF Serializer: `{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}`."""
    response = await echo.post("/", json=[1])
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


async def test_an_unknown_media_type_is_415(echo: httpx.AsyncClient) -> None:
    """DRF UnsupportedMediaType: 415 `{"detail": "Unsupported media type \\"text/plain\\" in request."}`."""
    response = await echo.post("/", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


async def test_a_body_over_the_limit_is_413(echo: httpx.AsyncClient) -> None:
    """DESIGN principle 3: request bodies are bounded, with a clear error."""
    response = await echo.post("/", data={"token": "x" * MAX_BODY})
    assert response.status_code == 413
    assert {"detail": f"Request body is larger than {MAX_BODY} bytes."} == response.json()


async def test_a_streamed_body_over_the_limit_is_413(echo: httpx.AsyncClient) -> None:
    """The limit holds without a Content-Length (chunked upload)."""

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield b"x" * (MAX_BODY // 2)

    response = await echo.post("/", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def _errors(model: type[wire.WireModel], fields: dict[str, object], **kwargs: tuple[str, ...]) -> object:
    with pytest.raises(ApiError) as caught:
        wire.validate(model, fields, **kwargs)
    assert caught.value.status == 400
    return caught.value.body


def test_a_missing_field_is_required() -> None:
    """DRF Field.error_messages['required']."""
    assert _errors(KnockRequest, {}) == {"token": ["This field is required."]}


def test_a_long_field_names_its_limit() -> None:
    """DRF CharField max_length: `Ensure this field has no more than N characters.` (SRV data: 100)."""
    assert _errors(KnockRequest, {"token": "t", "data": "x" * 101}) == {
        "data": ["Ensure this field has no more than 100 characters."]
    }


def test_a_blank_field_may_not_be_blank() -> None:
    """DRF CharField allow_blank=False."""
    assert _errors(KnockRequest, {"token": "  "}) == {"token": ["This field may not be blank."]}


def test_a_null_required_field_may_not_be_null() -> None:
    """DRF Field.error_messages['null']."""
    assert _errors(KnockRequest, {"token": None}) == {"token": ["This field may not be null."]}


def test_a_non_string_is_not_a_valid_string() -> None:
    """reference §1.6: IOS-SDK's dict `data` is refused by DRF CharField with `Not a valid string.`."""
    assert _errors(KnockRequest, {"token": "t", "data": {"a": 1}}) == {"data": ["Not a valid string."]}


def test_numbers_are_accepted_as_strings() -> None:
    """DRF CharField.to_internal_value accepts int and float."""
    assert wire.validate(KnockRequest, {"token": 12}).token == "12"


def test_every_invalid_field_is_reported_at_once() -> None:
    """DRF Serializer.is_valid collects all field errors."""
    body = _errors(AccountRequest, {"email": "nope"})
    assert {"username", "password", "email"} == set(body)  # type: ignore[arg-type]


def test_a_bad_email_is_not_a_valid_email() -> None:
    """DRF EmailField: `Enter a valid email address.`."""
    assert _errors(AccountRequest, {"username": "u", "password": "p", "email": "nope"}) == {
        "email": ["Enter a valid email address."]
    }


def test_a_blank_email_is_no_email() -> None:
    """reference §1.3: email is optional and nullable; AND-SDK may send it empty."""
    assert wire.validate(AccountRequest, {"username": "u", "password": "p", "email": ""}).email is None


def test_whitespace_around_a_field_is_trimmed() -> None:
    """DRF CharField trim_whitespace=True."""
    assert wire.validate(AccountRequest, {"username": " bob ", "password": "p"}).username == "bob"


def test_spaces_are_stripped_from_an_apns_registration_id() -> None:
    """reference §1.4: SRV APNSRegistrationIdStringField removes every space."""
    parsed = wire.validate(ApnsDeviceRequest, {"registration_id": "<ab cd ef>"})
    assert parsed.registration_id == "<abcdef>"


def test_a_gcm_registration_id_keeps_inner_spaces() -> None:
    """reference §1.4: only the APNS serializer strips spaces."""
    assert wire.validate(GcmDeviceRequest, {"registration_id": "a b"}).registration_id == "a b"


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("False", False), ("1", True), (0, False), (True, True)]
)
def test_booleans_take_drf_spellings(raw: object, expected: bool) -> None:
    """DRF BooleanField TRUE_VALUES / FALSE_VALUES (form bodies send `true`/`false`)."""
    assert expected == wire.validate(GcmDeviceRequest, {"active": raw}).active


def test_a_bad_boolean_is_not_a_valid_boolean() -> None:
    """DRF BooleanField: `Must be a valid boolean.`."""
    assert _errors(GcmDeviceRequest, {"active": "maybe"}) == {"active": ["Must be a valid boolean."]}


def test_a_field_required_by_the_request_is_required() -> None:
    """reference §1.4: `registration_id` is required on POST and PUT, not on PATCH."""
    assert _errors(GcmDeviceRequest, {"name": "phone"}, required=("registration_id",)) == {
        "registration_id": ["This field is required."]
    }
    assert wire.validate(GcmDeviceRequest, {"name": "phone"}).registration_id is None


def test_unknown_fields_are_ignored() -> None:
    """AND-SDK's PUT sends the whole Device object (`id`, `date_created`, `type`); DRF ignores extras."""
    parsed = wire.validate(GcmDeviceRequest, {"registration_id": "r", "id": "x", "type": "GCM"})
    assert parsed.registration_id == "r"


def test_the_throttled_message_is_drfs() -> None:
    """DRF Throttled: `Request was throttled. Expected available in N seconds.` plus Retry-After."""
    error = wire.throttled(2.2)
    assert error.status == 429
    assert error.body == {"detail": "Request was throttled. Expected available in 3 seconds."}
    assert error.headers["Retry-After"] == "3"


def test_an_empty_error_body_is_empty() -> None:
    """reference §1.6: an unknown knock token is 404 with an empty body."""
    response = ApiError(404, None).to_response()
    assert response.body == b""


@given(
    st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.integers() | st.text(max_size=300))
)
def test_any_fields_validate_or_raise_api_error(fields: dict[str, object]) -> None:
    """STYLE R15: nothing but ApiError escapes validation."""
    for model in (AccountRequest, ApnsDeviceRequest, GcmDeviceRequest, KnockRequest, wire.TokenRequest):
        try:
            wire.validate(model, fields)
        except ApiError as exc:
            assert exc.status == 400
            json.dumps(exc.body)
