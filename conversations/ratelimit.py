"""Limits kept in the shared cache, so every process sees the same counts.

Request rates are django-ratelimit's fixed windows. Plain Django views count through
django-ratelimit itself (``rate_limit_hit``); stream paths count the very same cache key
with one Redis round trip from the event loop (``rate_limit_hit_async``), so both paths
add to one counter. Open sockets and the one reply in flight per session are leases
(``conversations.leases``): a process that dies stops holding them within seconds.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate, get_usage

from conversations.aio import redis_client
from conversations.errors import RateLimited, ServiceUnavailable
from conversations.leases import lease_acquire, lease_release
from conversations.safety import Assessment, assess_async

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateDecision:
    limited: bool
    retry_after: int
    # The counter could not be reached (Redis down, RATELIMIT_FAIL_OPEN off): refused, but
    # as an outage (503), not as the user's own excess (429).
    unavailable: bool = False


def rate_limit_hit(*, scope: str, key: str, rate: str, increment: bool = True) -> RateDecision:
    """Count one request for ``key`` in ``scope`` and say whether it is over ``rate``; without
    ``increment``, say whether one more would be, counting nothing."""
    usage = get_usage(None, group=scope, key=lambda _group, _request: key, rate=rate, increment=increment)
    if usage is None:  # RATELIMIT_ENABLE is off
        return RateDecision(limited=False, retry_after=0)
    limited = usage["should_limit"] if increment else usage["count"] >= usage["limit"]
    return RateDecision(limited=bool(limited), retry_after=max(1, int(usage["time_left"])))


def rate_limit_enforce(*, scope: str, key: str, rate: str) -> None:
    rate_limit_raise(rate_limit_hit(scope=scope, key=key, rate=rate))


# django-ratelimit's add-then-incr, atomic and in one round trip. Django's Redis cache
# stores integers as plain numbers, so either path can read and count the other's value.
_HIT = """
if redis.call('SET', KEYS[1], 1, 'EX', ARGV[1], 'NX') then return 1 end
return redis.call('INCR', KEYS[1])
"""


async def rate_limit_hit_async(*, scope: str, key: str, rate: str) -> RateDecision:
    """``rate_limit_hit`` for async callers: the same counter, without a thread."""
    if not settings.REDIS_URL:
        # The local-memory cache is this process's memory: no I/O to wait for.
        return rate_limit_hit(scope=scope, key=key, rate=rate)
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return RateDecision(limited=False, retry_after=0)
    limit, period = _split_rate(rate)
    window = _get_window(key, period)
    # The key django-ratelimit's get_usage builds (method ALL), through the cache's prefix.
    cache_key = cache.make_key(_make_cache_key(scope, window, rate, key, get_usage.ALL))  # type: ignore[attr-defined]
    try:
        count = int(await redis_client().eval(_HIT, 1, cache_key, period + EXPIRATION_FUDGE))
    except redis.RedisError:
        if settings.RATELIMIT_FAIL_OPEN:
            return RateDecision(limited=False, retry_after=0)
        logger.warning("rate limit counter unavailable: scope=%s", scope)
        return RateDecision(limited=True, retry_after=1, unavailable=True)
    return RateDecision(limited=count > limit, retry_after=max(1, window - int(time.time())))


async def rate_limit_enforce_async(*, scope: str, key: str, rate: str, text: str | None = None) -> Assessment | None:
    """Count the request and refuse it over ``rate``, unless ``text`` (the user's message) is
    one the screening rules flag: that is answered in pre-written words, with no model call,
    and a person at risk is never told to wait.

    Returns the screening that let an over-limit message through (the caller answers with
    it, asking no model: not even a classifier or the moderation endpoint), else None.
    """
    decision = await rate_limit_hit_async(scope=scope, key=key, rate=rate)
    if text is not None and (decision.limited or decision.unavailable):
        screening = await assess_async(text)
        if screening.flagged:
            return screening
    rate_limit_raise(decision)
    return None


def rate_limit_raise(decision: RateDecision) -> None:
    """The refusal a decision stands for: 503 for an unreachable counter, 429 for excess."""
    if decision.unavailable:
        raise ServiceUnavailable()
    if decision.limited:
        raise RateLimited(retry_after=decision.retry_after)


def request_rate_key(request: HttpRequest) -> str:
    """Signed-in users are limited per user; anonymous callers per client IP."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', 'unknown')}"


async def socket_slot_acquire(*, user_id: int, socket_id: str, limit: int) -> bool:
    """One of the user's ``limit`` open sockets, held while the socket lives."""
    return await lease_acquire(f"ws-open:{user_id}", socket_id, cap=limit)


async def socket_slot_release(*, user_id: int, socket_id: str) -> None:
    await lease_release(f"ws-open:{user_id}", socket_id)


async def generation_lock_acquire(*, session_id: int, owner: str) -> bool:
    """One reply in flight per session, across sockets and processes."""
    return await lease_acquire(f"gen-lock:{session_id}", owner, cap=1)


async def generation_lock_release(*, session_id: int, owner: str) -> None:
    await lease_release(f"gen-lock:{session_id}", owner)
