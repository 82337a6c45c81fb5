"""The OpenAPI 3.0 description of the ChatSecure Push API v1 as it is on the wire.

Hand-written rather than generated, because the wire is not what a framework would derive:
three request encodings per body, DRF's error shapes, the all-string account object, a
knock 404 with no body. Served at `/api/v1/openapi.json`, rendered at `/api/v1/docs/`.
"""

from __future__ import annotations

import html
from typing import Any

from pushrelay import __version__

Schema = dict[str, Any]

DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
TOKEN_PATTERN = r"^[0-9a-f]{40}$"
NOT_BLANK = r"\S"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(max_length: int | None = None, *, nullable: bool = False, required: bool = False) -> Schema:
    schema: Schema = {"type": "string"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if required:
        schema["pattern"] = NOT_BLANK
    if nullable:
        schema["nullable"] = True
    return schema


def _page_of(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": "string", "nullable": True},
            "previous": {"type": "string", "nullable": True},
            "results": {"type": "array", "items": _ref(item)},
        },
    }


def _device_request() -> Schema:
    return {
        "type": "object",
        "properties": {
            "name": _text(255, nullable=True),
            "active": {"type": "boolean"},
            "registration_id": _text(4096, required=True),
            "device_id": _text(255, nullable=True),
        },
    }


SCHEMAS: dict[str, Schema] = {
    "AccountRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": _text(30, required=True),
            "password": _text(100, required=True),
            "email": {"type": "string", "format": "email", "maxLength": 100, "nullable": True},
            "app": {"type": "string", "description": "pushrelay: the configured app for the account"},
        },
    },
    "Account": {
        "type": "object",
        "description": "Every value is a string: IOS-SDK casts this object to [String: String].",
        "required": ["username", "email", "id"],
        "properties": {
            "username": {"type": "string"},
            "email": {"type": "string"},
            "id": {"type": "string", "format": "uuid"},
            "token": {"type": "string", "pattern": TOKEN_PATTERN},
        },
        "additionalProperties": {"type": "string"},
    },
    "DeviceRequest": _device_request(),
    "Device": {
        "type": "object",
        "required": ["name", "id", "active", "registration_id", "device_id", "date_created"],
        "properties": {
            "name": {"type": "string", "nullable": True},
            "id": {"type": "string", "format": "uuid"},
            "active": {"type": "boolean"},
            "registration_id": {"type": "string"},
            "device_id": {"type": "string", "nullable": True},
            "date_created": {"type": "string", "pattern": DATETIME_PATTERN},
        },
    },
    "DevicePage": _page_of("Device"),
    "TokenRequest": {
        "type": "object",
        "description": "Exactly one of apns_device and gcm_device: the id of one of your devices.",
        "properties": {
            "name": _text(100, nullable=True),
            "apns_device": _text(255, nullable=True),
            "gcm_device": _text(255, nullable=True),
        },
    },
    "Token": {
        "type": "object",
        "description": "Null fields are omitted (SRV NonNullSerializer).",
        "required": ["token", "date_expires"],
        "properties": {
            "name": {"type": "string"},
            "token": {"type": "string", "pattern": TOKEN_PATTERN},
            "apns_device": {"type": "string", "format": "uuid"},
            "gcm_device": {"type": "string", "format": "uuid"},
            "date_expires": {"type": "string", "pattern": DATETIME_PATTERN},
            "push_info": {
                "type": "object",
                "description": "docs/v3 push_info: what a sender needs to knock, federation included.",
                "required": ["white_list_token", "api_endpoint", "app_bundle_id"],
                "properties": {
                    "white_list_token": {"type": "string", "pattern": TOKEN_PATTERN},
                    "api_endpoint": {"type": "string"},
                    "app_bundle_id": {"type": "string"},
                },
            },
        },
    },
    "TokenPage": _page_of("Token"),
    "KnockRequest": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": _text(200, required=True),
            "data": _text(100, nullable=True),
            "priority": {**_text(100, nullable=True), "description": "'high' sends an alert; else low"},
        },
    },
    "Knock": {
        "type": "object",
        "required": ["token", "data", "priority"],
        "properties": {
            "token": {"type": "string"},
            "data": {"type": "string", "nullable": True},
            "priority": {"type": "string", "nullable": True},
        },
    },
    "PubSub": {"type": "object", "required": ["jid"], "properties": {"jid": {"type": "string"}}},
    "ApiRoot": {"type": "object", "additionalProperties": {"type": "string"}},
    "Detail": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
    "FieldErrors": {
        "type": "object",
        "description": 'DRF validation errors: {"field": ["message"]} or {"non_field_errors": [...]}.',
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "AccountError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int, empty_404: bool = False, account_errors: bool = False) -> Schema:
    detail = _ref("Detail")
    described = {
        400: ("Invalid input", {"anyOf": [_ref("FieldErrors"), detail]}),
        401: ("Missing or invalid Authorization: Token", detail),
        403: ("Not allowed", detail),
        404: ("Not found", detail),
        405: ("Method not allowed", detail),
        413: ("Body too large", detail),
        415: ("Unsupported media type", detail),
        429: ("Throttled; see Retry-After", detail),
        503: ("Busy; see Retry-After", detail),
    }
    out: Schema = {}
    for code in (*codes, 405, 503):
        description, schema = described[code]
        if account_errors and code in (400, 401):
            schema = {"anyOf": [schema, _ref("AccountError")]}
        out[str(code)] = (
            {"description": description} if code == 404 and empty_404 else _json(schema, description)
        )
    return out


def _body(schema: str) -> Schema:
    content = {kind: {"schema": _ref(schema)} for kind in ENCODINGS}
    return {"required": False, "content": content}


ENCODINGS = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
AUTH: list[Schema] = [{"token": []}]
BODY_ERRORS = (400, 413, 415)


def _op(summary: str, responses: Schema, *, body: str | None = None, auth: bool = True) -> Schema:
    op: Schema = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = _body(body)
    op["security"] = AUTH if auth else [{}, *AUTH]
    return op


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _paths() -> Schema:
    ok = _json
    device_id = [_path_param("id", "the device's id (a UUID)")]
    token_param = [_path_param("token", "the 40-hex whitelist token")]
    paths: Schema = {
        "/api/v1/": {
            "get": _op("API root", {"200": ok(_ref("ApiRoot"), "Prefixes"), **_errors(401)}, auth=False)
        },
        "/api/v1/accounts/": {
            "post": _op(
                "Create an account, or log in to it (200 both)",
                {
                    "200": ok(_ref("Account"), "The account and its API key"),
                    **_errors(429, *BODY_ERRORS, 401, account_errors=True),
                },
                body="AccountRequest",
                auth=False,
            ),
            "get": _op("Your account", {"200": ok(_ref("Account"), "Your account"), **_errors(401)}),
        },
        "/api/v1/accounts/{username}/": {
            "parameters": [_path_param("username", "your username")],
            "get": _op("Your account", {"200": ok(_ref("Account"), "Your account"), **_errors(401, 404)}),
            "delete": _op(
                "Delete your account, devices and tokens",
                {"204": {"description": "Deleted"}, **_errors(401, 404)},
            ),
        },
    }
    for kind in ("apns", "gcm"):
        paths[f"/api/v1/device/{kind}/"] = {
            "get": _op(
                f"Your {kind} devices",
                {"200": ok(_ref("DevicePage"), "A page"), **_errors(401, 404)},
                auth=False,
            ),
            "post": _op(
                f"Register an {kind} device",
                {"201": ok(_ref("Device"), "Created"), **_errors(401, *BODY_ERRORS)},
                body="DeviceRequest",
            ),
        }
        paths[f"/api/v1/device/{kind}/{{id}}/"] = {
            "parameters": device_id,
            "get": _op(
                "One of your devices",
                {"200": ok(_ref("Device"), "The device"), **_errors(401, 404)},
                auth=False,
            ),
            "put": _op(
                "Update (registration_id required)",
                {"200": ok(_ref("Device"), "Updated"), **_errors(401, 404, *BODY_ERRORS)},
                body="DeviceRequest",
            ),
            "patch": _op(
                "Update some fields",
                {"200": ok(_ref("Device"), "Updated"), **_errors(401, 404, *BODY_ERRORS)},
                body="DeviceRequest",
            ),
            "delete": _op(
                "Delete the device and its tokens", {"204": {"description": "Deleted"}, **_errors(401, 404)}
            ),
        }
    paths["/api/v1/tokens/"] = {
        "get": _op(
            "Your whitelist tokens", {"200": ok(_ref("TokenPage"), "A page"), **_errors(401, 403, 404)}
        ),
        "post": _op(
            "Mint a whitelist token",
            {"201": ok(_ref("Token"), "Created"), **_errors(401, *BODY_ERRORS)},
            body="TokenRequest",
        ),
    }
    paths["/api/v1/tokens/{token}/"] = {
        "parameters": token_param,
        "get": _op("One of your tokens", {"200": ok(_ref("Token"), "The token"), **_errors(401, 403, 404)}),
        "put": _op(
            "Rename or move it",
            {"200": ok(_ref("Token"), "Updated"), **_errors(401, 404, *BODY_ERRORS)},
            body="TokenRequest",
        ),
        "patch": _op(
            "Rename or move it",
            {"200": ok(_ref("Token"), "Updated"), **_errors(401, 404, *BODY_ERRORS)},
            body="TokenRequest",
        ),
        "delete": _op("Revoke it", {"204": {"description": "Revoked"}, **_errors(401, 404)}),
    }
    paths["/api/v1/messages/"] = {
        "post": _op(
            "Knock: push to every device of the token's owner",
            {
                "202": ok(_ref("Knock"), "Accepted: the input, echoed"),
                **_errors(401, 404, 429, *BODY_ERRORS, empty_404=True),
            },
            body="KnockRequest",
            auth=False,
        )
    }
    paths["/api/v1/pubsub/"] = {
        "get": _op(
            "The XEP-0357 push service JID",
            {"200": ok(_ref("PubSub"), "The JID"), **_errors(401)},
            auth=False,
        )
    }
    return paths


def document(public_url: str) -> Schema:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ChatSecure Push API v1 (pushrelay)",
            "version": __version__,
            "description": "Wire-compatible with ChatSecure-Push-Server; divergences: docs/chatsecure.md.",
        },
        "servers": [{"url": public_url}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token <key>",
                }
            },
        },
    }


def docs_page(schema: Schema) -> str:
    """A self-contained HTML index of the operations (no external scripts)."""
    rows = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            codes = ", ".join(op["responses"])
            rows.append(
                f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ChatSecure Push API v1</title></head><body>"
        f"<h1>{html.escape(schema['info']['title'])}</h1><p>{html.escape(schema['info']['description'])}</p>"
        "<p>Machine-readable: <a href='/api/v1/openapi.json'>openapi.json</a>. Bodies may be JSON, "
        "form-urlencoded or multipart; authenticate with <code>Authorization: Token &lt;key&gt;</code>.</p>"
        "<table border='1' cellpadding='4'>"
        "<tr><th>Method</th><th>Path</th><th>What</th><th>Statuses</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
