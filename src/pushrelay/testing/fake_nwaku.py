"""A fake nwaku node: the relay part of its REST API, on a real loopback socket.

It follows nwaku's OpenAPI documents (`waku/waku_api/rest/relay/openapi.yaml`,
`doc/relayapi_messages.yaml`, `doc/relayapi_subscriptions.yaml`, `doc/schemas/apitypes.yaml`):

* `POST /relay/v1/subscriptions` with a JSON array of pubsub topics → `200 OK` (text/plain);
  `DELETE` the same → `200 OK`;
* `GET /relay/v1/messages/{pubsubTopic}` → the `RelayWakuMessage`s (`payload` base64,
  `contentTopic`, `version`, `timestamp`) received on a subscribed topic since the last call;
  a topic nobody subscribed to is answered `404` (the node only caches subscribed topics);
* `POST /relay/v1/messages/{pubsubTopic}` with one `RelayWakuMessage` → `200 OK`; `400` when
  the body is not such a message.

What it does not do is be a network: messages "arrive" when a test calls `inject`, and what
the client publishes is recorded in `published`, not relayed anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import socket
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CACHE_SIZE = 1000
"""Messages kept per pubsub topic between polls, oldest dropped first."""


class FakeNwaku:
    def __init__(self) -> None:
        self.subscriptions: set[str] = set()
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.polls = 0
        self._cache: dict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=CACHE_SIZE))
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/relay/v1/subscriptions", self._subscribe, methods=["POST"]),
                Route("/relay/v1/subscriptions", self._unsubscribe, methods=["DELETE"]),
                Route("/relay/v1/messages/{topic:path}", self._get_messages, methods=["GET"]),
                Route("/relay/v1/messages/{topic:path}", self._post_message, methods=["POST"]),
            ]
        )

    def inject(self, pubsub_topic: str, message: dict[str, Any]) -> bool:
        """A message arrives from the network; kept only if the topic is subscribed (as nwaku does)."""
        if pubsub_topic not in self.subscriptions:
            return False
        self._cache[pubsub_topic].append(message)
        return True

    def restart(self) -> None:
        """Forget subscriptions and cached messages, as a restarted node does."""
        self.subscriptions.clear()
        self._cache.clear()

    async def _subscribe(self, request: Request) -> Response:
        topics = await _json_list(request)
        if topics is None:
            return PlainTextResponse("Failed to decode request", status_code=400)
        self.subscriptions.update(topics)
        return PlainTextResponse("OK")

    async def _unsubscribe(self, request: Request) -> Response:
        topics = await _json_list(request)
        if topics is None:
            return PlainTextResponse("Failed to decode request", status_code=400)
        for topic in topics:
            self.subscriptions.discard(topic)
            self._cache.pop(topic, None)
        return PlainTextResponse("OK")

    async def _get_messages(self, request: Request) -> Response:
        topic = request.path_params["topic"]
        self.polls += 1
        if topic not in self.subscriptions:
            return PlainTextResponse(f"Not subscribed to topic: {topic}", status_code=404)
        cached = self._cache.pop(topic, deque())
        return JSONResponse(list(cached))

    async def _post_message(self, request: Request) -> Response:
        try:
            message = await request.json()
            base64.b64decode(message["payload"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return PlainTextResponse("Failed to decode request", status_code=400)
        if not isinstance(message.get("contentTopic"), str):
            return PlainTextResponse("Missing contentTopic", status_code=400)
        self.published.append((request.path_params["topic"], message))
        return PlainTextResponse("OK")


async def _json_list(request: Request) -> list[str] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    if not isinstance(body, list) or not all(isinstance(t, str) for t in body):
        return None
    return body


@asynccontextmanager
async def running(fake: FakeNwaku | None = None) -> AsyncIterator[FakeNwaku]:
    """Serve a fake node on 127.0.0.1 (a free port) for the duration of the block."""
    fake = fake or FakeNwaku()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(fake.app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise RuntimeError("the fake nwaku server stopped before it started")
            await asyncio.sleep(0.01)
        yield fake
    finally:
        server.should_exit = True
        await task
        sock.close()
