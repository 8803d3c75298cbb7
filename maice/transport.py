"""Between the web side and the agent: a request queue, one event log per request, stop.

``RedisBus`` (with ``REDIS_URL``): requests go on the stream ``maice:backend_to_agent``,
read by the agents' consumer group; each request's events are the stream
``maice:agent_to_backend:<request_id>`` (trimmed, expiring), whose entry ids are the SSE
event ids. Stop is a flag key plus a message on a pub/sub channel every agent listens to.

``LocalBus`` (embedded default): the same operations inside the web process. The agent
runs as a task of the web process's loop; event ids have Redis's ``<ms>-<seq>`` form, so
clients and the resume code see no difference.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from conversations.aio import PerLoop, redis_client

Entry = tuple[str, str]  # (event id, JSON data)
AGENT_GROUP = "agents"


def _ms_id(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def entries_after(entries: list[Entry], after: str) -> list[Entry]:
    mark = _ms_id(after)
    return [entry for entry in entries if _ms_id(entry[0]) > mark]


_EVENT_ID = re.compile(r"[0-9]{1,20}(?:-[0-9]{1,19})?")


def valid_event_id(value: str) -> bool:
    # (ASCII digits only: str.isdigit() also takes "²", which int() refuses.)
    return _EVENT_ID.fullmatch(value) is not None


class Bus(ABC):
    @abstractmethod
    async def dispatch(self, job: dict[str, Any]) -> bool:
        """Hand a request to an agent; False (and nothing queued) when none is alive to take it."""

    @abstractmethod
    async def publish(self, request_id: str, data: str) -> str:
        """Append one event; returns its id."""

    @abstractmethod
    async def read(self, request_id: str, after: str, wait: float) -> list[Entry]:
        """Events after ``after`` (``"0"``: from the start), waiting up to ``wait`` seconds for one."""

    @abstractmethod
    async def history(self, request_id: str) -> list[Entry]:
        """Every event stored for the request (nothing once it expired)."""

    @abstractmethod
    async def cancel(self, request_id: str) -> None:
        """Tell the agent working on the request (or the one that will) to stop."""

    @abstractmethod
    async def is_cancelled(self, request_id: str) -> bool: ...


# --- embedded ------------------------------------------------------------------------------


@dataclass
class _Log:
    entries: list[Entry] = field(default_factory=list)
    last: tuple[int, int] = (0, 0)
    created: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False


AgentRunner = Callable[[dict[str, Any], "Bus"], Awaitable[None]]


class LocalBus(Bus):
    def __init__(self, runner: AgentRunner) -> None:
        self._runner = runner
        self._logs: dict[str, _Log] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_purge = time.monotonic()

    def _log(self, request_id: str) -> _Log:
        log = self._logs.get(request_id)
        if log is None:
            self._purge()
            log = self._logs[request_id] = _Log()
        return log

    def _purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        ttl = settings.MAICE_EVENTS_TTL
        for request_id in [r for r, log in self._logs.items() if now - log.created > ttl]:
            if request_id not in self._tasks:
                del self._logs[request_id]

    async def dispatch(self, job: dict[str, Any]) -> bool:
        request_id = str(job["request_id"])
        self._log(request_id)
        task: asyncio.Task[None] = asyncio.ensure_future(self._runner(job, self))
        self._tasks[request_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(request_id, None))
        return True  # the agent is this process

    async def publish(self, request_id: str, data: str) -> str:
        log = self._log(request_id)
        ms = int(time.time() * 1000)
        last_ms, last_seq = log.last
        log.last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        event_id = f"{log.last[0]}-{log.last[1]}"
        log.entries.append((event_id, data))
        if len(log.entries) > settings.MAICE_EVENTS_MAXLEN:
            del log.entries[: len(log.entries) - settings.MAICE_EVENTS_MAXLEN]
        changed, log.changed = log.changed, asyncio.Event()
        changed.set()
        return event_id

    async def read(self, request_id: str, after: str, wait: float) -> list[Entry]:
        log = self._log(request_id)
        found = entries_after(log.entries, after)
        if found or wait <= 0:
            return found
        waiter = log.changed
        try:
            await asyncio.wait_for(waiter.wait(), wait)
        except TimeoutError:
            return []
        return entries_after(log.entries, after)

    async def history(self, request_id: str) -> list[Entry]:
        log = self._logs.get(request_id)
        return list(log.entries) if log else []

    async def cancel(self, request_id: str) -> None:
        self._log(request_id).cancelled = True
        task = self._tasks.get(request_id)
        if task is not None:
            task.cancel()

    async def is_cancelled(self, request_id: str) -> bool:
        log = self._logs.get(request_id)
        return bool(log and log.cancelled)


# --- Redis Streams ---------------------------------------------------------------------------


class Keys:
    """Key names; the prefix (``MAICE_REDIS_PREFIX``) is ``maice`` as in the spec."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.requests = f"{prefix}:backend_to_agent"
        self.cancel_channel = f"{prefix}:cancel"
        self.agents = f"{prefix}:agents"

    def events(self, request_id: str) -> str:
        return f"{self.prefix}:agent_to_backend:{request_id}"

    def cancelled(self, request_id: str) -> str:
        return f"{self.prefix}:cancelled:{request_id}"


# An agent counts as alive while its heartbeat (AgentWorker) is this recent.
AGENT_ALIVE_SECONDS = 5.0
REQUESTS_MAXLEN = 100_000


# Queued only while some agent's heartbeat is recent: nobody would take it otherwise, and
# the student is told at once instead of after the pick-up timeout. One round trip.
_DISPATCH = """
if redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf') == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'job', ARGV[3])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBus(Bus):
    def __init__(self) -> None:
        self.keys = Keys(settings.MAICE_REDIS_PREFIX)

    async def dispatch(self, job: dict[str, Any]) -> bool:
        since = time.time() - AGENT_ALIVE_SECONDS
        queued = await redis_client().eval(_DISPATCH, 2, self.keys.agents, self.keys.requests, since,
                                           REQUESTS_MAXLEN, json.dumps(job))
        return bool(queued)

    async def publish(self, request_id: str, data: str) -> str:
        key = self.keys.events(request_id)
        async with redis_client().pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"data": data}, maxlen=settings.MAICE_EVENTS_MAXLEN, approximate=True)
            pipe.expire(key, settings.MAICE_EVENTS_TTL)
            event_id, _ = await pipe.execute()
        return _text(event_id)

    async def read(self, request_id: str, after: str, wait: float) -> list[Entry]:
        # (A caller waiting longer reads again: a read blocks within the socket's timeout.)
        block = max(1, int(min(wait, settings.REDIS_BLOCK_SECONDS) * 1000))
        found: Any = await redis_client().xread({self.keys.events(request_id): after or "0"}, block=block)
        entries: list[Entry] = []
        for _key, items in found or ():
            entries.extend((_text(event_id), _text(fields[b"data"])) for event_id, fields in items)
        return entries

    async def history(self, request_id: str) -> list[Entry]:
        items: Any = await redis_client().xrange(self.keys.events(request_id))
        return [(_text(event_id), _text(fields[b"data"])) for event_id, fields in items]

    async def cancel(self, request_id: str) -> None:
        async with redis_client().pipeline(transaction=False) as pipe:
            pipe.set(self.keys.cancelled(request_id), 1, ex=settings.MAICE_EVENTS_TTL)
            pipe.publish(self.keys.cancel_channel, request_id)
            await pipe.execute()

    async def is_cancelled(self, request_id: str) -> bool:
        return bool(await redis_client().exists(self.keys.cancelled(request_id)))


# --- which one ---------------------------------------------------------------------------------

def _local_bus() -> LocalBus:
    from maice.agent import agent_run

    return LocalBus(agent_run)


_local_buses = PerLoop(_local_bus)


def get_bus() -> Bus:
    """The Redis bus with ``REDIS_URL``, else this loop's in-process bus."""
    if settings.REDIS_URL:
        return RedisBus()
    return _local_buses.get()
