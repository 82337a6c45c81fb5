"""The Waku binding: the Status server on the network status-go uses, through an nwaku node.

It talks to nwaku's REST API (relay): subscribes the node to the configured pubsub topic
(`POST /relay/v1/subscriptions`), polls what arrived (`GET /relay/v1/messages/{topic}`) and
publishes replies (`POST /relay/v1/messages/{topic}`). nwaku caches by pubsub topic, so one
poll returns every content topic of the shard; the binding keeps the content topics it
listens to in memory and drops the rest:

* the server's personal and partitioned topics (registrations; asymmetric payloads),
* one public-chat topic per registered key (queries; symmetric payloads under the PBKDF2
  key of the chat name), loaded in bulk from the store at start and added on registration.

A reply goes, asymmetrically encrypted and signed by the server's key, to the partitioned
topic of the key that sent the request, as status-go's `SendPrivate` does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import OrderedDict, defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import structlog

from pushrelay.config import StatusWakuSettings
from pushrelay.errors import BadRequest
from pushrelay.protocols.status import crypto, waku_payload
from pushrelay.protocols.status.server import Reply

if TYPE_CHECKING:
    from pushrelay.protocols.status.service import StatusService

log = structlog.get_logger(__name__)

PAYLOAD_VERSION = 1
CONCURRENCY = 32
SYMMETRIC_KEY_CACHE = 10_000
MAX_BACKOFF = 30.0


class WakuBinding:
    def __init__(
        self,
        service: StatusService,
        settings: StatusWakuSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._service = service
        self._settings = settings
        self._http = httpx.AsyncClient(
            base_url=settings.rest_url, timeout=settings.timeout, transport=transport
        )
        self._topic_path = quote(settings.pubsub_topic, safe="")
        self._private_topics: set[str] = set()
        self._query_chats: dict[str, set[str]] = defaultdict(set)
        self._symmetric_keys: OrderedDict[str, bytes] = OrderedDict()
        self._subscribed = False
        self._poller: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def start(self) -> None:
        identity = self._service.server.identity
        self._private_topics = {
            waku_payload.personal_topic(identity.public_key),
            waku_payload.partitioned_topic(identity.public_key),
        }
        for hashed_key in await self._service.server.registry.registered_keys():
            self.listen_to_queries(hashed_key)
        self._poller = asyncio.create_task(self._poll_forever(), name="status-waku-poller")
        log.info("status.waku_started", node=self._settings.rest_url, query_topics=len(self._query_chats))

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self._http.aclose()

    def listen_to_queries(self, hashed_key: bytes) -> None:
        """Join the public chat where clients ask about `hashed_key` (status-go `JoinPublic`)."""
        name = waku_payload.query_chat_name(hashed_key)
        self._query_chats[waku_payload.content_topic(name)].add(name)

    @property
    def content_topics(self) -> set[str]:
        return self._private_topics | set(self._query_chats)

    async def poll_once(self) -> int:
        """Subscribe if needed, fetch what arrived, handle it; returns how many messages were relevant."""
        if not self._subscribed:
            response = await self._http.post("/relay/v1/subscriptions", json=[self._settings.pubsub_topic])
            response.raise_for_status()
            self._subscribed = True
        response = await self._http.get(f"/relay/v1/messages/{self._topic_path}")
        if response.status_code == 404:  # the node restarted and forgot the subscription
            self._subscribed = False
            return 0
        response.raise_for_status()
        relevant = [m for m in response.json() if m.get("contentTopic") in self.content_topics]
        if relevant:
            async with asyncio.TaskGroup() as group:
                for message in relevant:
                    group.create_task(self._handle_bounded(message))
        return len(relevant)

    async def _poll_forever(self) -> None:
        backoff = self._settings.poll_interval
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # top of the poller: log, back off, keep polling
                log.warning("status.waku_poll_failed", error=type(exc).__name__, retry_in=backoff)
                self._subscribed = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = self._settings.poll_interval
            await asyncio.sleep(self._settings.poll_interval)

    async def _handle_bounded(self, message: dict[str, Any]) -> None:
        async with self._slots:
            try:
                await self._handle(message)
            except (BadRequest, KeyError, TypeError, ValueError) as exc:  # not a message we can read
                log.debug("status.waku_message_dropped", error=type(exc).__name__)
            except Exception as exc:  # top of a task: one message must not stop the poller
                log.warning("status.waku_message_failed", error=type(exc).__name__)

    async def _handle(self, message: dict[str, Any]) -> None:
        if int(message.get("version", 0)) != PAYLOAD_VERSION:
            return
        data = await self._open(message["contentTopic"], base64.b64decode(message["payload"], validate=True))
        if data is None:
            return
        reply = await self._service.handle(data)
        if reply is not None:
            await self._send(reply)

    async def _open(self, topic: str, payload: bytes) -> bytes | None:
        """Decrypt with the key the topic implies; None if it was not for us or is unsigned."""
        try:
            if topic in self._private_topics:
                plaintext = waku_payload.decrypt_asymmetric(self._service.server.identity, payload)
            else:
                plaintext = await self._decrypt_query(topic, payload)
            unwrapped = waku_payload.unwrap(plaintext)
        except crypto.CryptoError:
            return None
        # status-go's HandleTransportLayer refuses messages without a transport signature.
        return None if unwrapped.signer is None else unwrapped.data

    async def _decrypt_query(self, topic: str, payload: bytes) -> bytes:
        for name in self._query_chats.get(topic, ()):
            with contextlib.suppress(crypto.CryptoError):
                return waku_payload.decrypt_symmetric(await self._symmetric_key(name), payload)
        raise crypto.CryptoError("no query key opens this payload")

    async def _send(self, reply: Reply) -> None:
        identity = self._service.server.identity
        plaintext = waku_payload.wrap(reply.message, identity)
        body = {
            "payload": base64.b64encode(waku_payload.encrypt_asymmetric(reply.recipient, plaintext)).decode(),
            "contentTopic": waku_payload.partitioned_topic(reply.recipient),
            "version": PAYLOAD_VERSION,
            "timestamp": time.time_ns(),
        }
        response = await self._http.post(f"/relay/v1/messages/{self._topic_path}", json=body)
        response.raise_for_status()

    async def _symmetric_key(self, chat_name: str) -> bytes:
        """PBKDF2 costs tens of milliseconds: keys are derived on first use, off the loop, and cached."""
        key = self._symmetric_keys.get(chat_name)
        if key is None:
            key = await asyncio.to_thread(crypto.public_query_key, chat_name)
            self._symmetric_keys[chat_name] = key
            if len(self._symmetric_keys) > SYMMETRIC_KEY_CACHE:
                self._symmetric_keys.popitem(last=False)
        else:
            self._symmetric_keys.move_to_end(chat_name)
        return key
