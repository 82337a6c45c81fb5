"""config.py: every error names its key; the environment overrides the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushrelay.config import Settings, load_settings
from pushrelay.errors import ConfigError


def problems(tmp_path: Path, toml: str, environ: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "pushrelay.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ or {})
    return error.value.problems


def test_no_file_gives_the_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.server.listen == "127.0.0.1:8080"
    assert settings.store.url == "sqlite+aiosqlite:///var/pushrelay.db"
    assert settings.apps["default"].sandbox.enabled


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[apps.chat.apns]\ntopic = "t"\nteam_id = "T"\nkey_id = "K"\nkey_file = "missing.p8"\n',
            "apps.chat.apns.key_file: no such file",
        ),
        (
            '[apps.chat.apns]\ntopic = "t"\n',
            "apps.chat.apns: set team_id, key_id and key_file (token auth) or cert_file",
        ),
        ('[apps.chat.apns]\nteam_id = "T"\n', "apps.chat.apns.topic: required"),
        (
            '[apps.chat.apns]\ntopic = "t"\ncert_file = "c.pem"\nenvironment = "prod"\n',
            "apps.chat.apns.environment: Input should be 'production' or 'sandbox'",
        ),
        (
            '[apps.chat.fcm]\nservice_account_file = "nope.json"\n',
            "apps.chat.fcm.service_account_file: no such file",
        ),
        ("[apps.chat.sandbox]\nenabeld = true\n", "apps.chat.sandbox.enabeld: unknown key"),
        ('[server]\nlisten = "8080"\n', "server.listen: expected host:port, such as 127.0.0.1:8080"),
        ('[server]\npublic_url = "example.org"\n', "server.public_url: expected an http:// or https:// URL"),
        (
            '[store]\nurl = "mysql://x"\n',
            "store.url: expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB",
        ),
        ("[dispatch]\nqueue_size = 0\n", "dispatch.queue_size: Input should be greater than 0"),
        ('[log]\nformat = "xml"\n', "log.format: Input should be 'json' or 'kv'"),
        ("apps = {}\n", "apps: configure at least one [apps.<id>] block"),
        ("[typo]\nx = 1\n", "typo: unknown key"),
    ],
)
def test_each_error_names_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    assert expected in problems(tmp_path, toml)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, "[server\n")
    assert message.startswith(f"{tmp_path / 'pushrelay.toml'}: not valid TOML")


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "absent.toml", {})


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    path = tmp_path / "pushrelay.toml"
    path.write_text('[server]\nlisten = "127.0.0.1:1"\n')
    settings = load_settings(
        path,
        {
            "PUSHRELAY_SERVER__LISTEN": "0.0.0.0:9000",
            "PUSHRELAY_DISPATCH__DEADLINE": "5.5",
            "PUSHRELAY_APPS__CHAT__SANDBOX__ENABLED": "true",
            "UNRELATED": "x",
        },
    )
    assert settings.server.listen == "0.0.0.0:9000"
    assert settings.dispatch.deadline == 5.5
    assert settings.apps["chat"].sandbox.enabled


def test_environment_errors_name_the_key(tmp_path: Path) -> None:
    assert (
        "dispatch.deadline: Input should be a valid number, unable to parse string as a number"
        in problems(tmp_path, "", {"PUSHRELAY_DISPATCH__DEADLINE": "soon"})
    )


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.server.listen = "x"  # type: ignore[misc]
