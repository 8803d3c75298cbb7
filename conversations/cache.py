"""Django's Redis cache with an ``incr`` that cannot recreate an expired counter.

Django's ``incr`` asks ``EXISTS`` and then ``INCRBY``: if the key expires between them
``INCRBY`` recreates it without a TTL. A rate-limit counter reborn that way never
expires, and django-ratelimit's ``add`` (which sets the window) then keeps failing, so
the user stays limited for good. One Lua script does both steps atomically.

Stream paths do not use this cache (``conversations.aio.redis_client`` instead); plain
Django views and django-ratelimit do.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_INCR_IF_EXISTS = """
if redis.call('exists', KEYS[1]) == 1 then
    return redis.call('incrby', KEYS[1], ARGV[1])
end
return false
"""


class AtomicIncrRedisCacheClient(RedisCacheClient):
    def incr(self, key: Any, delta: int) -> int:
        client = self.get_client(key, write=True)
        value = client.eval(_INCR_IF_EXISTS, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = AtomicIncrRedisCacheClient
