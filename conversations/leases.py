"""Leases: locks, socket slots and live replies that a dead process cannot keep.

A lease is a member of a named set with an expiry time. A holder renews its leases
while it lives (``LeaseKeeper``: one heartbeat per process renews all of them at once);
a process killed with SIGKILL stops renewing and its leases run out within
``LEASE_TTL_SECONDS``. Three sets use it:

- ``gen-lock:<session id>``, capacity 1: the one reply in flight per session;
- ``ws-open:<user id>``, capacity ``WS_MAX_SOCKETS_PER_USER``: a user's open sockets;
- ``replies-streaming``, no capacity: replies being streamed, so a sweep can settle the
  rows a dead process left ``streaming`` (``conversations.recovery``).

With ``REDIS_URL`` a set is a Redis sorted set scored by expiry (Redis's own clock, so
every process agrees), changed by Lua scripts in one round trip each through
``redis.asyncio``. In the embedded mode (one process, local-memory cache) the same
sets live in the local-memory cache and are changed on the event loop's thread, with
no await in between, so each change is atomic. Keys go through the cache's
``make_key``, the scheme django-ratelimit's counters use too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from conversations.aio import PerLoop, background, redis_client

logger = logging.getLogger(__name__)

STREAMING_REPLIES = "replies-streaming"

# KEYS[1] set; ARGV: member, ttl ms, capacity (-1: none). Expired members of a capped
# set are dropped here; an uncapped set keeps them for the sweep to find.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local cap = tonumber(ARGV[3])
if cap >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= cap then
        return 0
    end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if cap >= 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
# KEYS: sets; ARGV: ttl ms, then one member per key, then one capped flag per key.
_RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[1])
local kept = {}
for i, key in ipairs(KEYS) do
    local member = ARGV[1 + i]
    local score = redis.call('ZSCORE', key, member)
    if score and tonumber(score) > now then
        redis.call('ZADD', key, 'XX', now + ttl, member)
        if ARGV[1 + #KEYS + i] == '1' then redis.call('PEXPIRE', key, ttl) end
        kept[i] = 1
    else
        kept[i] = 0
    end
end
return kept
"""
_EXPIRED = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
"""


def _ttl() -> float:
    return float(settings.LEASE_TTL_SECONDS)


# --- the two stores ------------------------------------------------------------------------


async def _redis_acquire(key: str, member: str, ttl: float, cap: int | None) -> bool:
    client = redis_client()
    return bool(await client.eval(_ACQUIRE, 1, key, member, int(ttl * 1000), -1 if cap is None else cap))


async def _redis_renew(leases: list[tuple[str, str, bool]], ttl: float) -> list[bool]:
    client = redis_client()
    keys = [key for key, _, _ in leases]
    args = [int(ttl * 1000), *(m for _, m, _ in leases), *("1" if capped else "0" for _, _, capped in leases)]
    return [bool(kept) for kept in await client.eval(_RENEW, len(keys), *keys, *args)]


def _memory_members(key: str) -> dict[str, float]:
    members: dict[str, float] = cache.get(key) or {}
    return members


def _memory_acquire(key: str, member: str, ttl: float, cap: int | None) -> bool:
    now = time.time()
    members = _memory_members(key)
    if cap is not None:
        members = {m: expiry for m, expiry in members.items() if expiry > now}
        if member not in members and len(members) >= cap:
            return False
    members[member] = now + ttl
    cache.set(key, members, None)
    return True


def _memory_renew(leases: list[tuple[str, str, bool]], ttl: float) -> list[bool]:
    now = time.time()
    kept = []
    for key, member, _capped in leases:
        members = _memory_members(key)
        alive = members.get(member, 0.0) > now
        if alive:
            members[member] = now + ttl
            cache.set(key, members, None)
        kept.append(alive)
    return kept


# --- the interface ---------------------------------------------------------------------------


async def lease_acquire(name: str, member: str, *, cap: int | None) -> bool:
    """Take a lease on ``member`` of set ``name`` (False when ``cap`` members hold it).

    Taken leases are renewed by the process's heartbeat until ``lease_release``.
    """
    taking = asyncio.ensure_future(_lease_take(name, member, cap))
    try:
        return await asyncio.shield(taking)
    except asyncio.CancelledError:
        # Cancelled (a stop) while Redis may be granting it: once granted it is handed back,
        # not left to lock the user out until it expires. The caller ends only after that,
        # so its next request finds the lease free (shielded: a second cancellation does not
        # stop the hand-back, it only stops the wait for it).
        await asyncio.shield(background(_hand_back(taking, name, member)))
        raise


async def _hand_back(taking: asyncio.Future[bool], name: str, member: str) -> None:
    await asyncio.wait({taking})
    if not taking.cancelled() and taking.exception() is None and taking.result():
        await lease_release(name, member)


async def _lease_take(name: str, member: str, cap: int | None) -> bool:
    key, ttl = cache.make_key(name), _ttl()
    if settings.REDIS_URL:
        taken = await _redis_acquire(key, member, ttl, cap)
    else:
        taken = _memory_acquire(key, member, ttl, cap)
    if taken:
        keeper().hold(key, member, capped=cap is not None)
    return taken


async def lease_release(name: str, member: str) -> None:
    key = cache.make_key(name)
    keeper().drop(key, member)
    if settings.REDIS_URL:
        await redis_client().zrem(key, member)
        return
    members = _memory_members(key)
    if members.pop(member, None) is not None:
        cache.set(key, members, None)


async def leases_expired(name: str) -> list[str]:
    """Members of ``name`` whose lease ran out (their holder died); they stay until released."""
    key = cache.make_key(name)
    if settings.REDIS_URL:
        return [m.decode() for m in await redis_client().eval(_EXPIRED, 1, key)]
    now = time.time()
    return [m for m, expiry in _memory_members(key).items() if expiry <= now]


async def leases_live(name: str) -> set[str]:
    """Members of ``name`` whose lease is current."""
    key = cache.make_key(name)
    if settings.REDIS_URL:
        now_ms = int(time.time() * 1000)  # only for the start-up sweep, where a second of skew is harmless
        members = await redis_client().zrangebyscore(key, now_ms, "+inf")
        return {m.decode() for m in members if isinstance(m, bytes)}
    now = time.time()
    return {m for m, expiry in _memory_members(key).items() if expiry > now}


# --- the heartbeat -------------------------------------------------------------------------------


@dataclass
class LeaseKeeper:
    """Renews every lease this process holds, in one round trip per beat."""

    held: dict[tuple[str, str], bool] = field(default_factory=dict)  # (key, member) -> capped
    task: asyncio.Task[None] | None = None

    def hold(self, key: str, member: str, *, capped: bool) -> None:
        self.held[(key, member)] = capped
        self.start()

    def drop(self, key: str, member: str) -> None:
        self.held.pop((key, member), None)

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._beat(), name="lease-heartbeat")

    async def renew(self) -> None:
        leases = [(key, member, capped) for (key, member), capped in self.held.items()]
        if not leases:
            return
        ttl = _ttl()
        kept = await _redis_renew(leases, ttl) if settings.REDIS_URL else _memory_renew(leases, ttl)
        for (key, member, _), alive in zip(leases, kept, strict=True):
            if not alive and (key, member) in self.held:
                # Our beat came too late (a stalled loop): someone may hold it now.
                logger.warning("lease lost: %s", key)
                self.held.pop((key, member), None)

    async def _beat(self) -> None:
        interval = _ttl() / 3
        next_sweep = 0.0
        loop = asyncio.get_running_loop()
        sweeping: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    await self.renew()
                except Exception:
                    logger.exception("lease heartbeat failed; retrying")
                if loop.time() >= next_sweep and (sweeping is None or sweeping.done()):
                    # Beside the beat, not in it: a sweep waiting on a busy database must not
                    # let this process's own leases run out.
                    next_sweep = loop.time() + _ttl()
                    sweeping = loop.create_task(_sweep(), name="lease-sweep")
                await asyncio.sleep(interval)
        finally:
            if sweeping is not None:
                sweeping.cancel()


async def _sweep() -> None:
    # Once per process this also sweeps the database (until that succeeds), then the leases only.
    from conversations.recovery import replies_sweep_at_startup

    try:
        await replies_sweep_at_startup()
    except Exception:
        logger.exception("sweep of abandoned replies failed; it runs again later")


# This event loop's keeper (one per process under a server).
keeper = PerLoop(LeaseKeeper).get
