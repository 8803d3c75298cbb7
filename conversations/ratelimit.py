"""Limits kept in the shared cache, so every process sees the same counts.

Request rates use django-ratelimit's core (fixed windows); open-socket counts use
atomic cache counters. Both are plain sync functions usable from views and, wrapped
once, from consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from conversations.errors import RateLimited


@dataclass(frozen=True)
class RateDecision:
    limited: bool
    retry_after: int


def rate_limit_hit(*, scope: str, key: str, rate: str) -> RateDecision:
    """Count one request for ``key`` in ``scope`` and say whether it is over ``rate``."""
    usage = get_usage(None, group=scope, key=lambda _group, _request: key, rate=rate, increment=True)
    if usage is None:  # RATELIMIT_ENABLE is off
        return RateDecision(limited=False, retry_after=0)
    return RateDecision(limited=bool(usage["should_limit"]), retry_after=max(1, int(usage["time_left"])))


def rate_limit_enforce(*, scope: str, key: str, rate: str) -> None:
    decision = rate_limit_hit(scope=scope, key=key, rate=rate)
    if decision.limited:
        raise RateLimited(retry_after=decision.retry_after)


def request_rate_key(request: HttpRequest) -> str:
    """Signed-in users are limited per user; anonymous callers per client IP."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', 'unknown')}"


# A crashed process cannot release its sockets; the counter forgets them after this.
_SOCKET_TTL = 6 * 3600


def socket_slot_acquire(*, user_id: int, limit: int) -> bool:
    key = f"ws-open:{user_id}"
    cache.add(key, 0, _SOCKET_TTL)
    if cache.incr(key) > limit:
        cache.decr(key)
        return False
    cache.touch(key, _SOCKET_TTL)
    return True


def socket_slot_release(*, user_id: int) -> None:
    key = f"ws-open:{user_id}"
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0, _SOCKET_TTL)
    except ValueError:  # expired meanwhile
        pass


def generation_lock_acquire(*, session_id: int, ttl: int) -> bool:
    """One reply in flight per session, across sockets and processes."""
    return bool(cache.add(f"gen-lock:{session_id}", 1, ttl))


def generation_lock_release(*, session_id: int) -> None:
    cache.delete(f"gen-lock:{session_id}")
