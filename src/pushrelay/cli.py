"""The `pushrelay` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pushrelay import __version__
from pushrelay.config import DEFAULT_CONFIG_FILE, Settings, load_settings
from pushrelay.domain import AppId, Message, Platform
from pushrelay.errors import ConfigError, PushRelayError
from pushrelay.logs import configure_logging
from pushrelay.secrets import Keyring, write_key_file

EXIT_CONFIG = 2
FAKES = ("fake-apns", "fake-fcm")
EXIT_FAILURE = 1

CONFIG_TEMPLATE = """\
# pushrelay configuration. Every key can be overridden from the environment:
# PUSHRELAY_SERVER__LISTEN=0.0.0.0:8080 sets [server] listen ("__" separates nested keys).

[server]
listen = "127.0.0.1:8080"               # keep on loopback unless a TLS proxy sits in front
public_url = "http://127.0.0.1:8080"    # how clients and other servers reach this relay
drain_timeout = 10                      # seconds SIGTERM waits for in-flight pushes

[store]
url = "sqlite+aiosqlite:///var/pushrelay.db"   # or "postgresql+asyncpg://user@host/db"
migrate_on_start = true

[secrets]
key_file = "{key_file}"      # 0600; back it up: without it the sealed data cannot be read

[log]
format = "kv"                # "json" in production
level = "info"

[dispatch]                   # per (app, provider) lane
queue_size = 20000
concurrency = 500
deadline = 30                # seconds before a push fails with "timeout"

# One block per mobile app. With neither apns nor fcm configured, the sandbox records pushes.
[apps.default.sandbox]
enabled = true

# [apps.chat.apns]
# topic = "org.example.chat"
# environment = "production"   # or "sandbox"
# team_id = "ABCDE12345"
# key_id = "XYZ987WVUT"
# key_file = "secrets/AuthKey_XYZ987WVUT.p8"
#
# [apps.chat.fcm]
# service_account_file = "secrets/firebase-service-account.json"
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in FAKES:
        # The fakes parse their own options, --help included.
        args = argparse.Namespace(command=argv[0], args=argv[1:], run=_fake)
    else:
        args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    try:
        result: int = args.run(args)
        return result
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except PushRelayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


class _OneLinePerCommand(argparse.HelpFormatter):
    """argparse measures the command column before it sees the sub-commands; give it room up front."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=40, width=100)
        self._action_max_length = 16


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushrelay",
        description="A federated, privacy-preserving push relay.",
        formatter_class=_OneLinePerCommand,
    )
    parser.add_argument("--version", action="version", version=f"pushrelay {__version__}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument(
            "-c", "--config", type=Path, help="TOML file (default: $PUSHRELAY_CONFIG, ./pushrelay.toml)"
        )
        sub.set_defaults(command=name, run=run)
        return sub

    command("serve", "run the relay (HTTP API, protocols, delivery)", _serve)
    init = command("init", "write a commented config file and a fresh server key", _init)
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    command("check-config", "validate the configuration and exit", _check_config)
    command("migrate", "bring the database schema up to date", _migrate)
    command("rotate-key", "re-seal every stored secret under a fresh key", _rotate_key)
    send = command("send", "push one test message to a device token", _send)
    send.add_argument("--app", default="default", help="app id from the config")
    send.add_argument("--platform", choices=[p.value for p in Platform], required=True)
    send.add_argument("--title")
    send.add_argument("--body", default="Hello from pushrelay")
    send.add_argument("token", help="the device push token")
    for name, help in (
        ("fake-apns", "run a spec-faithful fake APNs (tests, demos, the benchmark)"),
        ("fake-fcm", "run a spec-faithful fake FCM and its OAuth endpoint"),
    ):
        fake = commands.add_parser(name, help=help, description=help, add_help=False)
        fake.add_argument("args", nargs=argparse.REMAINDER, help="see `pushrelay %(prog)s --help`")
        fake.set_defaults(command=name, run=_fake)
    return parser


def _fake(args: argparse.Namespace) -> int:
    from pushrelay.testing import fake_apns, fake_fcm

    run_fake = fake_apns.main if args.command == "fake-apns" else fake_fcm.main
    return run_fake(list(args.args))


def _load(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    configure_logging(settings.log)
    return settings


def _serve(args: argparse.Namespace) -> int:
    from pushrelay.server import serve

    return serve(_load(args))


def _init(args: argparse.Namespace) -> int:
    config_path: Path = args.config or DEFAULT_CONFIG_FILE
    key_path = Path("var/server.key")
    for path in (config_path, key_path):
        if path.exists() and not args.force:
            print(f"{path} exists; use --force to overwrite", file=sys.stderr)
            return EXIT_FAILURE
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(CONFIG_TEMPLATE.format(key_file=key_path))
    write_key_file(key_path, Keyring.generate())
    print(f"wrote {config_path} and {key_path} (mode 0600)")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from pushrelay.app import read_keyring

    settings = load_settings(args.config)
    read_keyring(settings)
    print(f"configuration ok: {len(settings.apps)} app(s): {', '.join(sorted(settings.apps))}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from pushrelay.store.database import Database

    settings = _load(args)

    async def run() -> None:
        database = Database(settings.store)
        try:
            await database.connect()
            await database.migrate()
        finally:
            await database.dispose()

    asyncio.run(run())
    print("database schema is up to date")
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    from pushrelay.rotation import rotate_key

    settings = _load(args)
    count = asyncio.run(rotate_key(settings))
    print(f"re-sealed {count} value(s); {settings.secrets.key_file} now holds only the new key")
    return 0


def _send(args: argparse.Namespace) -> int:
    from pushrelay.app import Runtime

    settings = _load(args)

    async def run() -> str:
        runtime = Runtime(settings)
        await runtime.start()
        try:
            message = Message(title=args.title, body=args.body)
            (outcome,) = await runtime.relay.push_to_tokens(
                AppId(args.app), Platform(args.platform), [args.token], message
            )
            return repr(outcome)
        finally:
            await runtime.stop()

    print(asyncio.run(run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
