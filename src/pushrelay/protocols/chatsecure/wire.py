"""The ChatSecure Push API v1 wire format, as Django REST Framework 3.10 rendered it.

Everything a real client parses is fixed here, once: request bodies in JSON, form-urlencoded or
multipart encoding (reference §1.1), DRF's field rules and error texts, the datetime format the
iOS and Android SDKs parse (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), compact JSON rendering, and the
error shapes `{"field": ["msg"]}`, `{"detail": "..."}` and the accounts endpoint's `{"error": "..."}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from pushrelay.domain import JSON

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

REQUIRED = "This field is required."
NOT_FOUND = "Not found."
NOT_AUTHENTICATED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
PERMISSION_DENIED = "You do not have permission to perform this action."


def format_datetime(moment: datetime) -> str:
    """DRF's `DATETIME_FORMAT` in SRV settings: UTC, always six fractional digits, a literal `Z`.

    Naive datetimes are taken as UTC (SQLite hands timezone-aware columns back naive).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


def render_json(body: JSON) -> bytes:
    """DRF's JSONRenderer: compact separators, UTF-8 rather than `\\u` escapes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: JSON, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(render_json(body), status, headers=headers, media_type="application/json")


class ApiError(Exception):
    """An answer other than success, already in DRF's terms. `body=None` means an empty body."""

    def __init__(self, status: int, body: JSON | None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        if self.body is None:
            return Response(b"", self.status, headers=self.headers)
        return json_response(self.body, self.status, self.headers)


def detail_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(status, {"detail": message}, headers)


def field_errors(errors: Mapping[str, list[str]]) -> ApiError:
    body: dict[str, JSON] = {field: list(messages) for field, messages in errors.items()}
    return ApiError(400, body)


def not_authenticated() -> ApiError:
    return detail_error(401, NOT_AUTHENTICATED, {"WWW-Authenticate": "Token"})


def invalid_token(message: str = INVALID_TOKEN) -> ApiError:
    return detail_error(401, message, {"WWW-Authenticate": "Token"})


def not_found() -> ApiError:
    return detail_error(404, NOT_FOUND)


def method_not_allowed(method: str, allowed: list[str]) -> ApiError:
    return detail_error(405, f'Method "{method}" not allowed.', {"Allow": ", ".join(allowed)})


def throttled(wait: float) -> ApiError:
    """DRF's Throttled: the wait rounded up to whole seconds, in the text and in `Retry-After`."""
    seconds = max(1, int(-(-wait // 1)))
    unit = "second" if seconds == 1 else "seconds"
    return detail_error(
        429, f"Request was throttled. Expected available in {seconds} {unit}.", {"Retry-After": str(seconds)}
    )


# ---------------------------------------------------------------------------------------------
# Request bodies


async def read_body(request: Request, max_bytes: int) -> dict[str, object]:
    """The request's fields, whichever of the three encodings real clients use (reference §1.1).

    JSON (IOS-SDK), `application/x-www-form-urlencoded` (AND-SDK) and `multipart/form-data`
    (RubDub, DRF tests). An empty body is no fields. Raises ApiError 413, 415 or 400.
    """
    raw = await _read_capped(request, max_bytes)
    if not raw:
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return _parse_json(raw)
    if media_type == "application/x-www-form-urlencoded":
        return _parse_urlencoded(raw)
    if media_type == "multipart/form-data":
        return await _parse_multipart(request.headers, raw)
    raise detail_error(415, f'Unsupported media type "{media_type}" in request.')


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> ApiError:
    return detail_error(413, f"Request body is larger than {max_bytes} bytes.")


def _parse_json(raw: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise detail_error(400, f"JSON parse error - {exc}") from None
    if not isinstance(parsed, dict):
        kind = "NoneType" if parsed is None else type(parsed).__name__
        raise field_errors({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    return parsed


def _parse_urlencoded(raw: bytes) -> dict[str, object]:
    """Django's QueryDict: the last value of a repeated key wins."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise detail_error(400, "Form body is not valid UTF-8 urlencoded data.") from None
    return dict(pairs)


async def _parse_multipart(headers: Headers, raw: bytes) -> dict[str, object]:
    async def once() -> AsyncGenerator[bytes, None]:
        yield raw

    try:
        form = await MultiPartParser(headers, once(), max_files=10, max_fields=50).parse()
    except MultiPartException as exc:
        raise detail_error(400, f"Multipart form parse error - {exc.message}") from None
    fields: dict[str, object] = {}
    for key, value in form.multi_items():
        fields[key] = value
        if isinstance(value, UploadFile):
            await value.close()
    return fields


# ---------------------------------------------------------------------------------------------
# DRF field rules, as pydantic validators carrying DRF's own messages


def _fail(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


def _as_text(value: object, *, allow_null: bool) -> str | None:
    """DRF CharField.to_internal_value: str, int and float are accepted, bool and the rest are not."""
    if value is None:
        if allow_null:
            return None
        raise _fail("null", "This field may not be null.")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail("invalid", "Not a valid string.")
    return str(value)


def _char_rule(
    max_length: int | None, *, allow_null: bool, allow_blank: bool, strip_spaces: bool
) -> Callable[[object], str | None]:
    def validate(value: object) -> str | None:
        text = _as_text(value, allow_null=allow_null)
        if text is None:
            return None
        text = text.replace(" ", "") if strip_spaces else text.strip()
        if text == "" and not allow_blank:
            if allow_null:
                return None  # DRF's form input turns an empty nullable field into null
            raise _fail("blank", "This field may not be blank.")
        if max_length is not None and len(text) > max_length:
            raise _fail("max_length", f"Ensure this field has no more than {max_length} characters.")
        return text

    return validate


def char_field(
    max_length: int | None = None,
    *,
    allow_null: bool = False,
    allow_blank: bool = False,
    strip_spaces: bool = False,
) -> PlainValidator:
    """DRF CharField: trims whitespace, refuses blank unless allowed, caps the length.

    `strip_spaces` is SRV's APNSRegistrationIdStringField, which removes every space instead.
    """
    rule = _char_rule(max_length, allow_null=allow_null, allow_blank=allow_blank, strip_spaces=strip_spaces)
    return PlainValidator(rule, json_schema_input_type=str)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def email_field(max_length: int) -> PlainValidator:
    """DRF EmailField(allow_null=True): a blank value means no address."""
    as_char = _char_rule(max_length, allow_null=True, allow_blank=False, strip_spaces=False)

    def validate(value: object) -> str | None:
        text = as_char(value)
        if text is not None and not _EMAIL.match(text):
            raise _fail("invalid", "Enter a valid email address.")
        return text

    return PlainValidator(validate, json_schema_input_type=str)


_TRUE: frozenset[object] = frozenset(
    {"t", "T", "y", "Y", "yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1}
)
_FALSE: frozenset[object] = frozenset(
    {"f", "F", "n", "N", "no", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0}
)


def _boolean(value: object) -> bool:
    """DRF BooleanField's accepted spellings."""
    try:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    except TypeError:  # unhashable (a list or dict from JSON)
        pass
    raise _fail("invalid", "Must be a valid boolean.")


Text = Annotated[str, char_field()]
Boolean = Annotated[bool, PlainValidator(_boolean, json_schema_input_type=bool)]


class WireModel(BaseModel):
    """A request body: unknown fields are ignored, as DRF serializers ignore them."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Model = TypeVar("Model", bound=WireModel)


def _drf_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        location = str(error["loc"][0]) if error["loc"] else "non_field_errors"
        message = REQUIRED if error["type"] == "missing" else error["msg"]
        errors.setdefault(location, []).append(message)
    return errors


def omit_nulls(body: Mapping[str, Any]) -> dict[str, JSON]:
    """SRV's NonNullSerializer (token responses): null fields and empty lists are left out."""
    return {key: value for key, value in body.items() if value is not None and value != []}


def validate(model: type[Model], fields: Mapping[str, object], *, required: tuple[str, ...] = ()) -> Model:
    """Validate `fields` as `model`, or raise ApiError 400 `{"field": ["DRF message", ...]}`.

    `required` names fields the model leaves optional that this request needs (PUT, not PATCH).
    DRF reports every field's problem at once; so do we.
    """
    missing = {name: [REQUIRED] for name in required if name not in fields}
    try:
        parsed = model.model_validate(dict(fields))
    except ValidationError as exc:
        raise field_errors(_drf_errors(exc) | missing) from None
    if missing:
        raise field_errors(missing)
    return parsed


# ---------------------------------------------------------------------------------------------
# The request bodies (SRV serializers, reference §1.3-§1.6)

MAX_REGISTRATION_ID = 4096
"""SRV's TextField had no cap. APNs tokens are 64 hex digits today, FCM tokens about 160 chars."""


class AccountRequest(WireModel):
    """SRV `CreateUserSerializer`: create an account, or log in to it."""

    username: Annotated[str, char_field(30)]
    password: Annotated[str, char_field(100)] = Field(repr=False)
    email: Annotated[str | None, email_field(100)] = None


class ApnsDeviceRequest(WireModel):
    """SRV `APNSDeviceSerializer`. `registration_id` is the token's hex; spaces are removed."""

    name: Annotated[str | None, char_field(255, allow_null=True)] = None
    active: Boolean = True
    registration_id: Annotated[str | None, char_field(MAX_REGISTRATION_ID, strip_spaces=True)] = Field(
        default=None, repr=False
    )
    device_id: Annotated[str | None, char_field(255, allow_null=True)] = None


class GcmDeviceRequest(WireModel):
    """SRV `GCMDeviceSerializer`. `registration_id` is the FCM registration token."""

    name: Annotated[str | None, char_field(255, allow_null=True)] = None
    active: Boolean = True
    registration_id: Annotated[str | None, char_field(MAX_REGISTRATION_ID)] = Field(default=None, repr=False)
    device_id: Annotated[str | None, char_field(255, allow_null=True)] = None


DeviceRequest = ApnsDeviceRequest | GcmDeviceRequest


class TokenRequest(WireModel):
    """SRV `TokenSerializer`: exactly one of `apns_device` and `gcm_device` (a device `id`)."""

    name: Annotated[str | None, char_field(100, allow_null=True)] = None
    apns_device: Annotated[str | None, char_field(255, allow_null=True)] = None
    gcm_device: Annotated[str | None, char_field(255, allow_null=True)] = None


class KnockRequest(WireModel):
    """SRV `MessageSerializer`: the unauthenticated knock."""

    token: Annotated[str, char_field(200)] = Field(repr=False)
    data: Annotated[str | None, char_field(100, allow_null=True)] = None
    priority: Annotated[str | None, char_field(100, allow_null=True)] = None
