from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User

from conversations.aio import redis_client, run_db

pytestmark = pytest.mark.django_db(transaction=True)


def _slow_count(delay: float) -> tuple[int, str]:
    time.sleep(delay)
    return User.objects.count(), threading.current_thread().name


async def test_run_db_runs_calls_side_by_side_not_in_one_queue() -> None:
    await run_db(User.objects.create_user, username="aio")
    started = time.monotonic()
    results = await asyncio.gather(*(run_db(_slow_count, 0.2) for _ in range(4)))
    elapsed = time.monotonic() - started
    assert [count for count, _ in results] == [1, 1, 1, 1]
    assert len({name for _, name in results}) == 4  # four threads, not one
    assert elapsed < 0.6  # one thread would take 0.8 s


async def test_run_db_passes_errors_through() -> None:
    with pytest.raises(User.DoesNotExist):
        await run_db(User.objects.get, username="nobody")


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
async def test_redis_client_is_one_per_loop() -> None:
    client = redis_client()
    assert client is redis_client()
    await client.set("aio-test", "1", ex=5)
    assert await client.get("aio-test") == b"1"


async def test_a_redis_that_stops_answering_fails_the_call_instead_of_holding_it(settings: Any) -> None:
    # A host that accepts the connection and then says nothing (a stalled server, a cut
    # without a reset): the call fails after the read timeout, and its caller answers.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT = f"redis://127.0.0.1:{port}/0", 1.0
    try:
        with pytest.raises(redis.exceptions.TimeoutError):  # (not wait_for's own)
            await asyncio.wait_for(redis_client().get("anything"), 20)
    finally:
        await redis_client().aclose(close_connection_pool=True)
        server.close()
