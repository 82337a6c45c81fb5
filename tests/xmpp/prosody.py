"""A throwaway Prosody 0.12 with mod_cloud_notify on loopback (reference/xep0357.md §9).

A fresh data directory, free ports, the component `push.localhost`, plain-text c2s, and
`push_max_errors = 3` so that disabling after errors is quick to observe. Users are written
straight into the data directory (faster than `prosodyctl register`).
"""

from __future__ import annotations

import os
import re
import subprocess
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

PUSH_MAX_ERRORS = 3

CONFIG = """\
{run_as_root}
daemonize = false
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{dir}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}; s2s_ports = {{ }}; component_ports = {{ {component} }}
http_ports = {{ }}; https_ports = {{ }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = {{ "roster"; "saslauth"; "disco"; "carbons"; "mam"; "smacks"; "ping";
                    "offline"; "cloud_notify"; }}
modules_disabled = {{ "s2s" }}
push_max_errors = {max_errors}
smacks_hibernation_time = 60
VirtualHost "{domain}"
Component "{component_jid}"
  component_secret = "{secret}"
"""


PUSH_ERROR = re.compile(r"Got error <(\w*):([\w-]*):[^>]*> for identifier '([^']*)': (error count|NOT)")


class Prosody(XmppServer):
    name = "prosody"

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.push_max_errors = PUSH_MAX_ERRORS
        self.users = list(USERS)
        self.log_file = directory / "prosody.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = require_binary("prosody")
        config = self.dir / "prosody.cfg.lua"
        config.write_text(
            CONFIG.format(
                run_as_root="run_as_root = true" if os.geteuid() == 0 else "",
                dir=self.dir,
                c2s=self.c2s_port,
                component=self.component_port,
                max_errors=self.push_max_errors,
                domain=DOMAIN,
                component_jid=COMPONENT_JID,
                secret=COMPONENT_SECRET,
            )
        )
        accounts = self.dir / "data" / DOMAIN / "accounts"
        accounts.mkdir(parents=True)
        for user in self.users:
            (accounts / f"{user}.dat").write_text(f'return {{\n\t["password"] = "{PASSWORD}";\n}};\n')
        self.log_file.touch()
        self._process = subprocess.Popen(
            [binary, "-F", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "prosody.err").open("wb"),
        )
        wait_for_port(self.c2s_port, self._process, self.log_file)
        wait_for_port(self.component_port, self._process, self.log_file)

    def restart(self) -> None:
        """Stop and start again on the same ports and data (registrations survive, as in production)."""
        assert self._process is not None
        stop_process(self._process)
        self._process = subprocess.Popen(
            [require_binary("prosody"), "-F", "--config", str(self.dir / "prosody.cfg.lua")],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "prosody.err").open("ab"),
        )
        wait_for_port(self.c2s_port, self._process, self.log_file)
        wait_for_port(self.component_port, self._process, self.log_file)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def push_errors(self, node: str) -> list[tuple[str, str, bool]]:
        """mod_cloud_notify's log of error replies to pushes for `node`: (type, condition, counted)."""
        identifier = f"{COMPONENT_JID}<{node}"
        return [
            (kind, condition, verdict == "error count")
            for kind, condition, logged_for, verdict in PUSH_ERROR.findall(self.log_text())
            if logged_for == identifier
        ]

    def disabled_push_for(self, node: str) -> bool:
        """Whether mod_cloud_notify deleted the registration for `node` after push_max_errors."""
        return f"Disabling push notifications for identifier '{COMPONENT_JID}<{node}'" in self.log_text()
