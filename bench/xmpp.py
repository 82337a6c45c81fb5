"""XEP-0357 component throughput: `python -m bench.xmpp [--prosody-messages N] [--raw-publishes N]`.

1. End to end: a real Prosody (the test harness's) publishes for offline messages to many
   push-enabled users; the component pushes them through the Relay to the sandbox provider.
   Figure: pushes delivered per second, from the first message sent to the last delivery.
2. The component's own ceiling: a raw XEP-0114 server (`pushrelay.testing.xmpp_server`)
   authenticates the component and pipelines publishes with a bounded window; figure:
   publishes answered per second (all must be `result`).

Everything runs on loopback and stops by itself; results go to bench/results/xmpp.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pushrelay.app import Runtime
from pushrelay.config import LogSettings, Settings
from pushrelay.domain import AppId
from pushrelay.logs import configure_logging
from pushrelay.protocols.xmpp import build
from pushrelay.testing.xmpp_server import RawComponentServer

RESULTS = Path(__file__).parent / "results" / "xmpp.json"
JID, SECRET = "push.localhost", "s3cret"
DATA = "jabber:x:data"


def settings(directory: Path, component_port: int, stateless: bool = False) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{directory}/relay.db"},
            "secrets": {"key_file": str(directory / "server.key")},
            "log": {"level": "warning"},
            "apps": {"conversations": {"sandbox": {"enabled": True, "capacity": 1_000_000}}},
            "xmpp": {
                "enabled": True,
                "jid": JID,
                "server": f"127.0.0.1:{component_port}",
                "secret": SECRET,
                "fcm_app": "conversations",
                "rate_interval": 0,
                "apps": {"conversations": {"stateless": stateless}},
            },
        }
    )


async def through_prosody(messages: int, users: int) -> dict[str, Any]:
    from tests.xmpp.clients import Phone
    from tests.xmpp.prosody import Prosody

    with tempfile.TemporaryDirectory() as tmp:
        prosody = Prosody(Path(tmp))
        prosody.start()
        runtime = Runtime(settings(Path(tmp), prosody.component_port))
        await runtime.start()
        component = build(runtime.relay)
        await component.start()
        phones: list[Phone] = []
        try:
            await component.wait_connected(10)
            targets = prosody.users[1 : users + 1]
            for i, user in enumerate(targets):
                phone = await Phone(user, prosody.c2s_port).online()
                fields = {"token": f"token-{i}", "android-id": f"device-{i}"}
                form = (await phone.command(JID, "register-push-fcm", fields)).form()
                await phone.enable(JID, form["node"][0], {"secret": form["secret"][0]})
                await phone.offline()
            sender = await Phone(prosody.users[0], prosody.c2s_port).online()
            phones.append(sender)
            sandbox = runtime.relay.sandbox(AppId("conversations"))
            started = time.perf_counter()
            for n in range(messages):
                sender.say(targets[n % len(targets)], f"m{n}")
                if n % 100 == 99:
                    await asyncio.sleep(0)
            deadline = started + 120
            while len(sandbox.deliveries) < messages and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            delivered = len(sandbox.deliveries)
        finally:
            for phone in phones:
                phone.abort()
            await component.stop()
            await runtime.stop()
            prosody.stop()
    return {
        "messages": messages,
        "users": users,
        "delivered": delivered,
        "seconds": round(elapsed, 3),
        "pushes_per_second": round(delivered / elapsed, 1),
    }


def command(i: int) -> str:
    fields = (
        f"<field var='token'><value>tok-{i}</value></field>"
        f"<field var='android-id'><value>d{i}</value></field>"
    )
    return (
        f"<iq type='set' id='r{i}' from='user{i}@localhost/bench' to='{JID}'>"
        f"<command xmlns='http://jabber.org/protocol/commands' node='register-push-fcm' action='execute'>"
        f"<x xmlns='{DATA}' type='submit'>{fields}</x></command></iq>"
    )


def publish(i: int, node: str, secret: str) -> str:
    return (
        f"<iq type='set' id='p{i}' from='localhost' to='{JID}'>"
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        f"<publish node='{node}'><item><notification xmlns='urn:xmpp:push:0'/></item></publish>"
        f"<publish-options><x xmlns='{DATA}' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
        f"<field var='secret'><value>{secret}</value></field></x></publish-options></pubsub></iq>"
    )


async def raw_ceiling(publishes: int, nodes: int, window: int, stateless: bool = False) -> dict[str, Any]:
    raw = RawComponentServer(JID, SECRET)
    await raw.start()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(settings(Path(tmp), raw.port, stateless))
        await runtime.start()
        component = build(runtime.relay)
        await component.start()
        try:
            await raw.authenticated()
            registered = []
            for i in range(nodes):
                raw.send(command(i))
                reply = await asyncio.wait_for(raw.replies.get(), 10)
                values = {
                    f.get("var"): f.findtext(f"{{{DATA}}}value") for f in reply.iter(f"{{{DATA}}}field")
                }
                registered.append((values["node"], values["secret"]))
            counts = {"result": 0, "error": 0}
            done = asyncio.Event()
            free = asyncio.Semaphore(window)

            def on_reply(element: ET.Element) -> None:
                counts["result" if element.get("type") == "result" else "error"] += 1
                free.release()
                if counts["result"] + counts["error"] >= publishes:
                    done.set()

            raw.on_reply = on_reply
            started = time.perf_counter()
            for i in range(publishes):
                await free.acquire()
                node, secret = registered[i % nodes]
                raw.send(publish(i, node, secret))
                if i % 200 == 199:
                    await raw.drain()
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - started
        finally:
            await component.stop()
            await runtime.stop()
            await raw.stop()
    return {
        "stateless": stateless,
        "publishes": publishes,
        "nodes": nodes,
        "window": window,
        "results": counts["result"],
        "errors": counts["error"],
        "seconds": round(elapsed, 3),
        "publishes_per_second": round(publishes / elapsed, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging(LogSettings(level="warning"))
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": "sqlite",
        "provider": "sandbox",
    }
    report["component_ceiling"] = await raw_ceiling(args.raw_publishes, args.nodes, args.window)
    rate = report["component_ceiling"]["publishes_per_second"]
    print(f"component ceiling (raw XEP-0114 load, stateful nodes): {rate} publishes/s")
    report["component_ceiling_stateless"] = await raw_ceiling(
        args.raw_publishes, args.nodes, args.window, True
    )
    rate = report["component_ceiling_stateless"]["publishes_per_second"]
    print(f"component ceiling (raw XEP-0114 load, stateless nodes): {rate} publishes/s")
    report["through_prosody"] = await through_prosody(args.prosody_messages, args.users)
    print(f"end to end through Prosody 0.12: {report['through_prosody']['pushes_per_second']} pushes/s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-publishes", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--prosody-messages", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
