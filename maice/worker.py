"""An agent worker on Redis Streams (``python manage.py run_maice_agent``).

Workers share the consumer group ``agents`` on ``maice:backend_to_agent``; each runs up
to ``MAICE_AGENT_CONCURRENCY`` requests at once. A worker renews the idle time of the
entries it holds (XCLAIM to itself) every ``claim_idle / 3``, so only a dead worker's
entries ever reach the idle threshold, and every worker takes those over (XAUTOCLAIM).
Stop (SIGTERM, SIGINT): no new requests, the ones in hand run to their end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError, ResponseError

from conversations.aio import redis_client
from maice.agent import agent_run
from maice.transport import AGENT_ALIVE_SECONDS, AGENT_GROUP, RedisBus

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
READ_BLOCK_MS = 1000
RETRY_SECONDS = 1.0  # after a Redis failure, before a loop tries again


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class AgentWorker:
    def __init__(self, *, name: str | None = None, concurrency: int | None = None,
                 claim_idle_ms: int | None = None) -> None:
        self.name = name or consumer_name()
        self.concurrency = concurrency or settings.MAICE_AGENT_CONCURRENCY
        self.claim_idle_ms = claim_idle_ms or settings.MAICE_AGENT_CLAIM_IDLE_MS
        self.bus = RedisBus()
        self.keys = self.bus.keys
        self.stopping = asyncio.Event()
        self.running: dict[str, asyncio.Task[None]] = {}  # entry id -> task
        self.by_request: dict[str, asyncio.Task[None]] = {}
        self.handled = 0

    async def run(self) -> None:
        redis = redis_client()
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await redis.xgroup_create(self.keys.requests, AGENT_GROUP, id="0", mkstream=True)
        await self._heartbeat_once()
        helpers = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._listen_for_cancels()),
                   asyncio.create_task(self._claim_dead())]
        logger.info("maice agent %s started (concurrency %d)", self.name, self.concurrency)
        try:
            await self._read()
            # Stopping: finish what is in hand, still renewing it so nobody claims it.
            if self.running:
                logger.info("maice agent %s finishing %d request(s)", self.name, len(self.running))
                await asyncio.wait(list(self.running.values()))
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await redis.zrem(self.keys.agents, self.name)
                await redis.xgroup_delconsumer(self.keys.requests, AGENT_GROUP, self.name)
            logger.info("maice agent %s stopped after %d request(s)", self.name, self.handled)

    def stop(self) -> None:
        self.stopping.set()

    # --- taking work ------------------------------------------------------------------------

    async def _read(self) -> None:
        redis = redis_client()
        while not self.stopping.is_set():
            free = self.concurrency - len(self.running)
            if free <= 0:
                await asyncio.wait(list(self.running.values()), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                found: Any = await redis.xreadgroup(AGENT_GROUP, self.name, {self.keys.requests: ">"}, count=free,
                                                   block=READ_BLOCK_MS)
            except RedisError as exc:
                # An outage past redis-py's own retries: the worker waits it out, not exits.
                logger.warning("maice agent %s: reading requests failed (%s); retrying", self.name, exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for _stream, entries in found or ():
                for entry_id, fields in entries:
                    self._start(entry_id, fields)

    async def _claim_dead(self) -> None:
        redis = redis_client()
        while True:
            await asyncio.sleep(self.claim_idle_ms / 3000)
            if self.stopping.is_set():
                continue
            free = self.concurrency - len(self.running)
            if free <= 0:
                continue
            try:
                claimed: Any = await redis.xautoclaim(
                    self.keys.requests, AGENT_GROUP, self.name, min_idle_time=self.claim_idle_ms,
                    start_id="0-0", count=free)
            except RedisError as exc:
                logger.warning("maice agent %s: XAUTOCLAIM failed (%s)", self.name, exc)
                continue
            for entry_id, fields in claimed[1]:
                if fields:  # a deleted entry comes back without fields
                    logger.warning("maice agent %s took over request entry %r", self.name, entry_id)
                    self._start(entry_id, fields)

    def _start(self, entry_id: bytes | str, fields: dict[Any, Any]) -> None:
        key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        if key in self.running:
            return
        try:
            job = json.loads(fields.get(b"job") or fields.get("job") or b"")
        except ValueError:
            job = None
        task = asyncio.create_task(self._handle(key, job))
        self.running[key] = task
        task.add_done_callback(lambda _task: self.running.pop(key, None))

    async def _handle(self, entry_id: str, job: Any) -> None:
        try:
            if not isinstance(job, dict) or not {"request_id", "session_id", "question_id", "kind"} <= job.keys():
                logger.error("maice agent: dropping malformed request entry %s", entry_id)
                return
            request_id = str(job["request_id"])
            # Its own task, so a stop cancels that request and nothing of the worker's.
            run = asyncio.create_task(agent_run(job, self.bus), name=f"maice-agent-{request_id}")
            self.by_request[request_id] = run
            try:
                await asyncio.wait({run})
            finally:
                self.by_request.pop(request_id, None)
            if not run.cancelled() and run.exception() is not None:
                logger.error("maice agent: request %s failed", request_id, exc_info=run.exception())
            self.handled += 1
        finally:
            # Acknowledged only now: had we died, another worker would have claimed it.
            async with redis_client().pipeline(transaction=False) as pipe:
                pipe.xack(self.keys.requests, AGENT_GROUP, entry_id)
                pipe.xdel(self.keys.requests, entry_id)
                await pipe.execute()

    # --- staying visible ------------------------------------------------------------------------

    async def _heartbeat_once(self) -> None:
        redis = redis_client()
        await redis.zadd(self.keys.agents, {self.name: time.time()})
        await redis.zremrangebyscore(self.keys.agents, "-inf", time.time() - 10 * AGENT_ALIVE_SECONDS)
        held: list[Any] = list(self.running)
        if held:
            # Renews the entries' idle time: the claim threshold is for dead workers only.
            await redis.xclaim(self.keys.requests, AGENT_GROUP, self.name, min_idle_time=0,
                               message_ids=held, justid=True)

    async def _heartbeat(self) -> None:
        interval = min(HEARTBEAT_SECONDS, self.claim_idle_ms / 3000)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._heartbeat_once()
            except Exception:
                logger.exception("maice agent heartbeat failed")

    async def _listen_for_cancels(self) -> None:
        while True:
            pubsub = redis_client().pubsub()
            try:
                await pubsub.subscribe(self.keys.cancel_channel)
                while True:
                    # (Not listen(): an idle channel would outwait the socket's read timeout.)
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=settings.REDIS_BLOCK_SECONDS)
                    if message is not None and message.get("type") == "message":
                        self._cancel(message.get("data"))
            except RedisError as exc:
                # A stop published while unsubscribed is missed; later ones are not.
                logger.warning("maice agent %s: cancel channel failed (%s); resubscribing", self.name, exc)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _cancel(self, data: Any) -> None:
        request_id = data.decode() if isinstance(data, bytes) else str(data)
        task = self.by_request.get(request_id)
        if task is not None and not task.done():
            logger.info("maice agent %s stopping request %s", self.name, request_id)
            task.cancel()
