"""The Redis cache's counters (only used with REDIS_URL; CI runs this against real Redis)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from conversations.cache import RedisCache

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis cache is only used with REDIS_URL")


@pytest.fixture
def cache() -> Iterator[RedisCache]:
    prefix = f"test-cache-{secrets.token_hex(4)}"
    cache = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})
    yield cache
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_incr_counts_up_and_down(cache: RedisCache) -> None:
    assert cache.add("hits", 1, 60)
    assert cache.incr("hits") == 2
    assert cache.incr("hits", 5) == 7
    assert cache.decr("hits", 3) == 4
    assert cache.get("hits") == 4


def test_incr_of_a_missing_key_fails_and_creates_nothing(cache: RedisCache) -> None:
    with pytest.raises(ValueError):
        cache.incr("gone")
    assert cache.get("gone") is None
    assert not cache.has_key("gone")


def test_incr_keeps_the_window(cache: RedisCache) -> None:
    # A counter must keep the TTL its window was added with, or a rate limit never lifts.
    cache.add("window", 1, 60)
    cache.incr("window")
    ttl = cache._cache.get_client(write=True).ttl(cache.make_key("window"))
    assert 0 < ttl <= 60


def test_an_expired_counter_is_not_reborn_without_a_ttl(cache: RedisCache) -> None:
    cache.add("window", 1, 60)
    cache.delete("window")  # what expiry between Django's EXISTS and INCRBY looks like
    with pytest.raises(ValueError):
        cache.incr("window")
    assert cache.add("window", 1, 60)  # django-ratelimit's next window can start
