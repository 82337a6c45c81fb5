"""A throwaway ejabberd 23.01 with mod_push on loopback, started straight from `erl`.

No Erlang distribution (the node is `nonode@nohost`, so no epmd is left behind), a fresh
Mnesia directory, free ports, the component `push.localhost` on an `ejabberd_service`
listener. Users are created by `ejabberd_auth:try_register` once the application started.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .servers import (
    COMPONENT_JID,
    COMPONENT_SECRET,
    DOMAIN,
    PASSWORD,
    USERS,
    XmppServer,
    free_port,
    require_binary,
    stop_process,
    wait_for_port,
)

CONFIG = """\
hosts:
  - {domain}
loglevel: info
log_rotate_count: 0
certfiles: []
listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
  -
    port: {component}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      "{component_jid}":
        password: "{secret}"
auth_method: internal
auth_password_format: plain
s2s_access: none
access_rules:
  c2s:
    allow: all
modules:
  mod_disco: {{}}
  mod_roster: {{}}
  mod_offline: {{}}
  mod_mam:
    default: always
  mod_stream_mgmt: {{}}
  mod_push: {{}}
  mod_ping: {{}}
"""

ERL_LIBS = "/usr/lib/x86_64-linux-gnu"


class Ejabberd(XmppServer):
    name = "ejabberd"

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.push_max_errors = None  # ejabberd drops a registration at its first non-wait error
        self.users = list(USERS)
        self.log_file = directory / "ejabberd.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        erl = require_binary("erl")
        if not Path(ERL_LIBS, "ejabberd-23.01").exists() and not list(Path(ERL_LIBS).glob("ejabberd-*")):
            import pytest

            pytest.skip("ejabberd is not installed (scripts/install-system-deps.sh installs it)")
        config = self.dir / "ejabberd.yml"
        config.write_text(
            CONFIG.format(
                domain=DOMAIN,
                c2s=self.c2s_port,
                component=self.component_port,
                component_jid=COMPONENT_JID,
                secret=COMPONENT_SECRET,
            )
        )
        (self.dir / "db").mkdir()
        users = ", ".join(f'<<"{u}">>' for u in self.users)
        register = (
            f'[ejabberd_auth:try_register(U, <<"{DOMAIN}">>, <<"{PASSWORD}">>) || U <- [{users}]],'
            ' io:format("users-ready~n")'
        )
        env = {
            **os.environ,
            "EJABBERD_CONFIG_PATH": str(config),
            "EJABBERD_LOG_PATH": str(self.log_file),
            "ERL_LIBS": ERL_LIBS,
            "HOME": str(self.dir),
        }
        self._process = subprocess.Popen(
            [
                erl,
                "-noinput",
                "+K",
                "true",
                "-mnesia",
                "dir",
                f'"{self.dir / "db"}"',
                "-s",
                "ejabberd",
                "-eval",
                register,
            ],
            env=env,
            cwd=self.dir,
            stdout=(self.dir / "erl.out").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.log_file.touch()
        wait_for_port(self.c2s_port, self._process, self.log_file)
        wait_for_port(self.component_port, self._process, self.log_file)
        self._wait_for_users()

    def _wait_for_users(self, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while b"users-ready" not in (self.dir / "erl.out").read_bytes():
            if time.monotonic() > deadline:
                raise RuntimeError("ejabberd did not create the test users")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
