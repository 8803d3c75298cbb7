"""Customs request limits, async: Redis (redis.asyncio) when configured, else the local cache.

Kept apart from ``conversations.ratelimit`` (sync, django-ratelimit) so the stream path
never needs a thread for them; both count in fixed windows.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from conversations.aio import redis_client
from conversations.errors import Busy, RateLimited

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period]


def _prefix() -> str:
    return str(settings.CACHES.get("default", {}).get("KEY_PREFIX") or "chat")


async def rate_limit_check(*, scope: str, key: str, rate: str) -> None:
    """Count one request of ``key``; raise ``RateLimited`` (with Retry-After) past ``rate``."""
    limit, period = _parse_rate(rate)
    now = time.time()
    window = int(now // period)
    retry_after = max(1, int((window + 1) * period - now))
    name = f"{_prefix()}:rl:{scope}:{key}:{window}"
    if settings.REDIS_URL:
        async with redis_client().pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, period + 1)
            count, _ = await pipe.execute()
    else:
        # The local-memory cache never blocks: no thread needed.
        cache.add(name, 0, period + 1)
        count = cache.incr(name)
    if int(count) > limit:
        raise RateLimited(retry_after=retry_after)


def caller_rate(*, user_id: int | None, ip: str) -> tuple[str, str]:
    """(key, rate): signed-in users per user, guests per client IP."""
    if user_id is not None:
        return f"user:{user_id}", settings.CUSTOMS_RATE
    return f"ip:{ip}", settings.CUSTOMS_GUEST_RATE


async def session_lock_acquire(*, session_key: str) -> None:
    """One turn in flight per session (a lease: a dead process's lock expires); else ``Busy``."""
    ttl = int(settings.CUSTOMS_LLM_TIMEOUT) + 30
    name = f"{_prefix()}:customs-turn:{session_key}"
    if settings.REDIS_URL:
        acquired = await redis_client().set(name, "1", nx=True, ex=ttl)
    else:
        acquired = cache.add(name, 1, ttl)
    if not acquired:
        raise Busy()


async def session_lock_release(*, session_key: str) -> None:
    name = f"{_prefix()}:customs-turn:{session_key}"
    if settings.REDIS_URL:
        await redis_client().delete(name)
    else:
        cache.delete(name)
