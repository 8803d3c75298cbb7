"""Limits kept in the shared cache: request rates, open sockets, one generation per session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from conversations.errors import RateLimited, ServiceUnavailable
from conversations.leases import keeper
from conversations.ratelimit import (
    generation_lock_acquire,
    generation_lock_release,
    rate_limit_enforce,
    rate_limit_enforce_async,
    rate_limit_hit,
    rate_limit_hit_async,
    request_rate_key,
    socket_slot_acquire,
    socket_slot_release,
)
from tests.conftest import Clock


def hits(n: int, *, scope: str = "test.reply", key: str = "user:1", rate: str = "10/m") -> list[bool]:
    return [rate_limit_hit(scope=scope, key=key, rate=rate).limited for _ in range(n)]


def test_ten_per_minute_allows_ten_then_limits(clock: Clock) -> None:
    assert hits(10) == [False] * 10

    decision = rate_limit_hit(scope="test.reply", key="user:1", rate="10/m")
    assert decision.limited
    assert 1 <= decision.retry_after <= 60


def test_limit_lifts_when_the_window_passes(clock: Clock) -> None:
    hits(10)
    assert rate_limit_hit(scope="test.reply", key="user:1", rate="10/m").limited
    clock.now += 60
    assert not rate_limit_hit(scope="test.reply", key="user:1", rate="10/m").limited


def test_keys_and_scopes_are_counted_separately(clock: Clock) -> None:
    hits(11, key="user:1")
    assert hits(10, key="user:2") == [False] * 10
    assert hits(10, key="user:1", scope="test.other") == [False] * 10


def test_enforce_raises_rate_limited_with_retry_after(clock: Clock) -> None:
    for _ in range(2):
        rate_limit_enforce(scope="test.enforce", key="ip:10.0.0.1", rate="2/m")

    with pytest.raises(RateLimited) as caught:
        rate_limit_enforce(scope="test.enforce", key="ip:10.0.0.1", rate="2/m")

    assert caught.value.code == "RATE_LIMITED"
    assert caught.value.status == 429
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60


def test_rate_key_is_the_user_when_signed_in_and_the_ip_otherwise(make_user: Any) -> None:
    request = RequestFactory().post("/api/session/start", REMOTE_ADDR="203.0.113.9")
    request.user = AnonymousUser()
    assert request_rate_key(request) == "ip:203.0.113.9"

    request.user = make_user()
    assert request_rate_key(request) == f"user:{request.user.pk}"


async def test_the_async_path_counts_on_the_same_counter_as_django_ratelimit(clock: Clock) -> None:
    # Plain views count through django-ratelimit, streams through rate_limit_hit_async:
    # a user must not get ten of each.
    assert hits(6) == [False] * 6
    decisions = [await rate_limit_hit_async(scope="test.reply", key="user:1", rate="10/m") for _ in range(5)]
    assert [d.limited for d in decisions] == [False] * 4 + [True]
    assert 1 <= decisions[-1].retry_after <= 60
    assert hits(1) == [True]
    assert not (await rate_limit_hit_async(scope="test.reply", key="user:2", rate="10/m")).limited


async def test_socket_slots_refuse_the_fourth_and_release_frees_one() -> None:
    assert [await socket_slot_acquire(user_id=1, socket_id=f"s{i}", limit=3) for i in range(4)] == [
        True, True, True, False]  # fmt: skip
    assert await socket_slot_acquire(user_id=2, socket_id="s0", limit=3)  # another user's sockets do not count
    await socket_slot_release(user_id=1, socket_id="s1")
    assert await socket_slot_acquire(user_id=1, socket_id="s4", limit=3)
    assert not await socket_slot_acquire(user_id=1, socket_id="s5", limit=3)


async def test_extra_releases_do_not_grant_extra_slots() -> None:
    await socket_slot_release(user_id=7, socket_id="never")  # nothing held yet
    assert await socket_slot_acquire(user_id=7, socket_id="a", limit=1)
    await socket_slot_release(user_id=7, socket_id="a")
    await socket_slot_release(user_id=7, socket_id="a")
    assert [await socket_slot_acquire(user_id=7, socket_id=s, limit=1) for s in ("b", "c")] == [True, False]


async def test_generation_lock_admits_one_per_session() -> None:
    assert await generation_lock_acquire(session_id=1, owner="a")
    assert not await generation_lock_acquire(session_id=1, owner="b")
    assert await generation_lock_acquire(session_id=2, owner="b")
    await generation_lock_release(session_id=1, owner="b")  # not the holder: changes nothing
    assert not await generation_lock_acquire(session_id=1, owner="c")
    await generation_lock_release(session_id=1, owner="a")
    assert await generation_lock_acquire(session_id=1, owner="c")


async def test_leases_of_a_dead_holder_expire_within_the_ttl(settings: Any) -> None:
    # A process killed with SIGKILL stops renewing: its lock and slots run out.
    settings.LEASE_TTL_SECONDS = 1
    assert await generation_lock_acquire(session_id=3, owner="dead")
    assert await socket_slot_acquire(user_id=9, socket_id="dead", limit=1)
    keeper().held.clear()  # no more heartbeats
    assert not await generation_lock_acquire(session_id=3, owner="alive")
    await asyncio.sleep(1.1)
    assert await generation_lock_acquire(session_id=3, owner="alive")
    assert await socket_slot_acquire(user_id=9, socket_id="alive", limit=1)


async def test_the_heartbeat_keeps_live_leases(settings: Any) -> None:
    settings.LEASE_TTL_SECONDS = 1
    assert await generation_lock_acquire(session_id=4, owner="alive")
    for _ in range(3):
        await asyncio.sleep(0.4)
        await keeper().renew()
    assert not await generation_lock_acquire(session_id=4, owner="other")


async def test_a_sweep_stuck_on_the_database_does_not_stop_the_heartbeat(settings: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The beat itself (no manual renew): a sweep that waits on a busy or locked database
    # must not let this process's own lock run out under a reply that is still streaming.
    import conversations.recovery

    stuck = asyncio.Event()

    async def sweep_waiting_on_the_database() -> int:
        stuck.set()
        await asyncio.sleep(3600)
        return 0

    monkeypatch.setattr(conversations.recovery, "replies_sweep_at_startup", sweep_waiting_on_the_database)
    settings.LEASE_TTL_SECONDS = 1
    assert await generation_lock_acquire(session_id=5, owner="alive")  # starts the heartbeat
    await asyncio.wait_for(stuck.wait(), 2)
    await asyncio.sleep(1.5)
    assert not await generation_lock_acquire(session_id=5, owner="other")
    await generation_lock_release(session_id=5, owner="alive")
    task = keeper().task
    assert task is not None
    task.cancel()


async def test_an_unreachable_counter_refuses_as_an_outage_not_as_excess(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.RATELIMIT_FAIL_OPEN = False
    with pytest.raises(ServiceUnavailable):
        await rate_limit_enforce_async(scope="test.reply", key="user:1", rate="10/m")
    settings.RATELIMIT_FAIL_OPEN = True
    await rate_limit_enforce_async(scope="test.reply", key="user:1", rate="10/m")  # let through
