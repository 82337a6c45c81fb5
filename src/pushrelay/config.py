"""Settings: one TOML file plus `PUSHRELAY_*` environment overrides, validated once at start.

`PUSHRELAY_SERVER__LISTEN=0.0.0.0:8080` overrides `[server] listen`; `__` separates nested
keys. Every error names the key and the problem (`apps.chat.apns.key_file: no such file`).
Unknown keys are errors too: a misspelt credential key stops start-up instead of being
ignored. Relative paths are relative to the working directory.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pushrelay.errors import ConfigError

ENV_PREFIX = "PUSHRELAY_"
DEFAULT_CONFIG_FILE = Path("pushrelay.toml")
DEFAULT_APP = "default"


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError("no such file")
    return path


ExistingFile = Annotated[Path, AfterValidator(_existing_file)]


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port, such as 127.0.0.1:8080")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    listen: HostPort = "127.0.0.1:8080"
    public_url: HttpUrl = "http://127.0.0.1:8080"
    drain_timeout: float = Field(default=10.0, gt=0, description="seconds SIGTERM waits for in-flight work")
    max_body_bytes: int = Field(default=1_048_576, gt=0)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class StoreSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/pushrelay.db"
    migrate_on_start: bool = True
    connect_timeout: float = Field(default=60.0, ge=0, description="how long start-up retries the store")
    pool_size: int = Field(default=10, gt=0)

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return value


class SecretsSettings(_Section):
    key_file: Path = Path("var/server.key")
    create_if_missing: bool = Field(
        default=True, description="serve generates the key file on first start when it does not exist"
    )


class LogSettings(_Section):
    format: Literal["json", "kv"] = "kv"
    level: Literal["debug", "info", "warning", "error"] = "info"


class DispatchSettings(_Section):
    """Per lane, that is per (app, provider)."""

    queue_size: int = Field(default=20_000, gt=0, description="pushes waiting before load is shed")
    concurrency: int = Field(default=500, gt=0, description="pushes in flight to the provider")
    deadline: float = Field(default=30.0, gt=0, description="seconds before a push fails with timeout")
    backoff_base: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=30.0, gt=0)
    breaker_threshold: int = Field(default=10, gt=0, description="consecutive service faults that open it")
    breaker_cooldown: float = Field(default=10.0, gt=0, description="seconds before a half-open probe")


class ApnsSettings(_Section):
    topic: str
    environment: Literal["production", "sandbox"] = "production"
    team_id: str | None = None
    key_id: str | None = None
    key_file: ExistingFile | None = None
    cert_file: ExistingFile | None = None
    cert_password: str | None = Field(default=None, repr=False)
    endpoint: str | None = None
    ca_file: ExistingFile | None = None
    timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(
        default=8, gt=0, description="HTTP/2 connections, each carrying up to 100 pushes at once"
    )
    ping_interval: float = Field(default=30.0, gt=0, description="seconds of silence before a health ping")

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        token_auth = (self.team_id, self.key_id, self.key_file)
        if self.cert_file is None and None in token_auth:
            raise ValueError("set team_id, key_id and key_file (token auth) or cert_file")
        if self.cert_file is not None and self.key_file is not None:
            raise ValueError("set key_file or cert_file, not both")
        return self


class FcmSettings(_Section):
    service_account_file: ExistingFile
    endpoint: str | None = None
    ca_file: ExistingFile | None = None
    timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(
        default=8, gt=0, description="HTTP/2 connections, each with up to 100 streams"
    )
    ping_interval: float = Field(default=30.0, gt=0, description="seconds of silence before a health ping")


class SandboxSettings(_Section):
    enabled: bool = False
    capacity: int = Field(default=1000, gt=0, description="deliveries kept, oldest dropped first")


class GorushForwardSettings(_Section):
    """`[apps.<id>.gorush]`: deliver this app's pushes through an existing gorush."""

    url: HttpUrl
    timeout: float = Field(default=10.0, gt=0)


class AppSettings(_Section):
    apns: ApnsSettings | None = None
    fcm: FcmSettings | None = None
    gorush: GorushForwardSettings | None = None
    sandbox: SandboxSettings = SandboxSettings()
    api_key: str | None = Field(default=None, repr=False, description="bearer key for the gorush API")


class ChatSecureSettings(_Section):
    """`[chatsecure]`: the ChatSecure Push API v1 (docs/chatsecure.md)."""

    enabled: bool = True
    default_app: str | None = Field(
        default=None, description="app of accounts created without an `app` field; None = the first app"
    )
    token_lifetime: float = Field(
        default=30 * 86400,
        gt=0,
        description="seconds a whitelist token lives (SRV DEFAULT_TOKEN_EXPIRY_TIME_S)",
    )
    low_priority: Literal["drop", "background"] = Field(
        default="drop",
        description="iOS pushes for knocks not marked high: drop (as SRV did) or send in the background",
    )
    max_body_bytes: int = Field(default=16_384, gt=0, description="largest request body accepted")
    page_size: int = Field(default=100, gt=0, description="items per page of a list")
    knock_rate: float = Field(default=0.5, gt=0, description="knocks per second per whitelist token")
    knock_burst: int = Field(default=10, gt=0, description="knocks one token may send at once")
    account_rate: float = Field(
        default=0.05, gt=0, description="account creations and logins per second per IP"
    )
    account_burst: int = Field(default=10, gt=0, description="account creations and logins at once per IP")
    password_time_cost: int = Field(default=3, gt=0, description="argon2id passes")
    password_memory_kib: int = Field(default=65_536, ge=8, description="argon2id memory per hash")
    password_parallelism: int = Field(default=4, gt=0, description="argon2id lanes")
    password_concurrency: int = Field(default=2, gt=0, description="password hashes computed at once")
    prune_interval: float = Field(
        default=86_400, gt=0, description="seconds between prunes of expired tokens"
    )


class XmppAppSettings(_Section):
    """`[xmpp.apps.<id>]`: how the XEP-0357 component pushes to one app's devices."""

    stateless: bool = Field(default=False, description="nodes are sealed blobs; publishes read no database")
    forward_summary: bool = Field(
        default=False, description="forward the summary's body and sender to the device (privacy!)"
    )
    mutable_content: bool = Field(
        default=True, description="APNs alerts wake a Notification Service Extension"
    )
    alert_title: str = "New message"


class XmppSettings(_Section):
    """`[xmpp]`: the XEP-0357 app server component (XEP-0114) and its registration dialects."""

    enabled: bool = False
    jid: str = "push.localhost"
    server: HostPort = Field(
        default="127.0.0.1:5347", description="host:port of the XMPP server's component port"
    )
    secret: str = Field(default="", repr=False, description="the component's shared secret")
    reconnect_max: float = Field(default=60.0, gt=0, description="longest wait between reconnect attempts")
    rate_interval: float = Field(default=5.0, ge=0, description="seconds between pushes to one node; 0 = off")
    max_in_flight: int = Field(default=10_000, gt=0, description="publishes being handled at once")
    fcm_app: str | None = Field(default=None, description="app for Conversations' register-push-fcm")
    apns_app: str | None = Field(default=None, description="app for Conversations' register-push-apns")
    tigase_app: str | None = Field(default=None, description="app for Siskin's register-device")
    push_modules: dict[str, str] = Field(
        default_factory=dict, description="Monal/fpush pushModule -> app: node = APNs token, no secret"
    )
    apps: dict[str, XmppAppSettings] = Field(default_factory=dict)
    bridge_endpoints: list[str] = Field(
        default_factory=list, description="other ChatSecure /api/v1/messages/ URLs knocks may be forwarded to"
    )

    @field_validator("bridge_endpoints")
    @classmethod
    def _https_urls(cls, value: list[str]) -> list[str]:
        if any(not url.startswith("https://") for url in value):
            raise ValueError("bridge endpoints must be https:// URLs")
        return value

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> Self:
        if self.enabled and not self.secret:
            raise ValueError("set secret (the component's shared secret) when enabled")
        return self

    def app_settings(self, app: str) -> XmppAppSettings:
        return self.apps.get(app, XmppAppSettings())


class StatusWakuSettings(_Section):
    """`[status.waku]`: the Waku binding, through an nwaku node's REST API."""

    enabled: bool = False
    rest_url: HttpUrl = "http://127.0.0.1:8645"
    pubsub_topic: str = Field(default="/waku/2/rs/16/32", description="status-go's default shard")
    poll_interval: float = Field(default=0.5, gt=0, description="seconds between polls of the node")
    timeout: float = Field(default=10.0, gt=0, description="seconds per REST call")


class StatusSettings(_Section):
    """`[status]`: the Status push notification server (spec 71 as status-go implements it)."""

    enabled: bool = True
    app: str | None = Field(
        default=None, description="the [apps.<id>] whose APNs/FCM deliver Status pushes; None = the first app"
    )
    dedupe_retention: float = Field(
        default=7 * 86400.0, gt=0, description="seconds a notification request id is remembered"
    )
    prune_interval: float = Field(default=3600.0, gt=0, description="seconds between prunes of expired ids")
    max_message_bytes: int = Field(default=65_536, gt=0, description="largest envelope accepted")
    max_notifications: int = Field(default=100, gt=0, description="items in one notification request")
    max_query_keys: int = Field(default=100, gt=0, description="public keys in one query")
    waku: StatusWakuSettings = StatusWakuSettings()


class GorushSettings(_Section):
    """`[gorush]`: the gorush-compatible `POST /api/push`.

    A request carrying `Authorization: Bearer <key>` goes to the app whose `api_key` it is.
    One without goes to `app`, or to the only configured app; with several apps and no
    `app`, the key is required.
    """

    enabled: bool = True
    app: str | None = None
    max_notifications: int = Field(default=100, gt=0, description="gorush's core.max_notification")
    max_tokens: int = Field(default=500, gt=0, description="tokens per notification (FCM's limit)")
    hide_token: bool = Field(default=False, description="mask tokens in the response's logs like gorush")


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    secrets: SecretsSettings = SecretsSettings()
    log: LogSettings = LogSettings()
    dispatch: DispatchSettings = DispatchSettings()
    apps: dict[str, AppSettings] = Field(
        default_factory=lambda: {DEFAULT_APP: AppSettings(sandbox=SandboxSettings(enabled=True))}
    )
    chatsecure: ChatSecureSettings = ChatSecureSettings()
    xmpp: XmppSettings = XmppSettings()
    status: StatusSettings = StatusSettings()
    gorush: GorushSettings = GorushSettings()

    @model_validator(mode="after")
    def _gorush_app_exists(self) -> Self:
        if self.gorush.app is not None and self.gorush.app not in self.apps:
            raise ValueError(f"gorush.app: no app {self.gorush.app!r} in [apps]")
        return self

    @field_validator("apps")
    @classmethod
    def _at_least_one_app(cls, apps: dict[str, AppSettings]) -> dict[str, AppSettings]:
        if not apps:
            raise ValueError("configure at least one [apps.<id>] block")
        for app_id in apps:
            if not app_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise ValueError(f"app id {app_id!r}: use letters, digits, '-', '_' and '.'")
        return apps


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate.

    With no `path`, `$PUSHRELAY_CONFIG` or `./pushrelay.toml` is read if present; otherwise
    the embedded defaults apply (SQLite under var/, one sandbox app). Raises ConfigError.
    """
    environ = os.environ if environ is None else environ
    path = _config_path(path, environ)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([f"{path}: no such file"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    problems = _apply_environment(raw, environ)
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _config_path(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    if path is not None:
        return path
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    problems = []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        if not all(keys):
            problems.append(f"{name}: empty key segment")
            continue
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                problems.append(f"{name}: {'.'.join(keys)} is not a table")
                break
            node = child
        else:
            node[keys[-1]] = _parse_env_value(value)
    return problems


def _parse_env_value(value: str) -> Any:
    """`true`, `3`, `1.5`, `["a", "b"]` are read as TOML values; anything else is a string."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required"
        problems.append(f"{location}: {message}" if location else message)
    return problems
