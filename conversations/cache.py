"""Django's Redis cache, with one client object per pool and a one-round-trip ``incr``.

Django's client builds a new ``redis.Redis`` for every cache call. redis-py 8's
constructor copies its table of response callbacks each time: about 0.2 ms, three times
on the way to every reply's first token (lock, rate limit add and incr) and once after.
The client object is thread-safe (it takes a connection from the pool per command), so
one per pool serves every call.

Django's ``incr`` asks ``EXISTS`` and then ``INCRBY``: two round trips on every counted
request, and if the key expires between them ``INCRBY`` recreates it without a TTL. A
rate-limit counter reborn that way never expires, and django-ratelimit's ``add`` (which
sets the window) then keeps failing, so the user stays limited for good. One Lua
script does both steps atomically in a single round trip.
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


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}  # id(pool) -> redis.Redis; pools live as long as we do

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # its private helpers are not in the type stubs
        pool = django._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # A race here only builds a spare client once.
            client = self._clients.setdefault(id(pool), django._client(connection_pool=pool))
        return client

    def incr(self, key: Any, delta: int) -> int:
        client = self.get_client(key, write=True)
        value = client.eval(_INCR_IF_EXISTS, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
