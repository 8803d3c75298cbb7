"""Database and Redis from async code, without one shared thread.

asgiref's ``sync_to_async`` (so Channels' ``database_sync_to_async`` and Django's async
ORM) runs every call of a process on one thread under an ASGI server: concurrent
streams queue behind one another there. ``run_db`` runs a self-contained piece of sync
database work on a bounded pool of threads instead. Each call takes a connection
(from Django's pool on PostgreSQL) and gives it back when it ends (``CONN_MAX_AGE=0``),
so the pool's size bounds both threads and connections.

``redis_client`` is redis-py's asyncio client, one per event loop: Redis work on a
stream path never needs a thread at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, ParamSpec, TypeVar

import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections

P = ParamSpec("P")
T = TypeVar("T")

class LazyThreadPool:
    """A thread pool built on first use, and built again in a forked child.

    A child (a test's live server, a pre-forking server) inherits the pool object but none
    of its threads: work sent to it would wait forever.
    """

    def __init__(self, name: str, size: Callable[[], int]) -> None:
        self._name, self._size = name, size
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool, self._lock = None, threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self._size(), thread_name_prefix=self._name)
        return self._pool


_db_threads = LazyThreadPool("db", lambda: settings.DB_THREADS)


class PerLoop(Generic[T]):
    """One ``T`` per event loop, built on first use: a connection pool, a client or a task
    belongs to the loop that made it (a server runs one loop; tests run many)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        made = self._made.get(loop)
        if made is None:
            made = self._made[loop] = self._build()
        return made

    def pop(self) -> T | None:
        """The running loop's ``T``, forgotten (to be closed), if one was built."""
        return self._made.pop(asyncio.get_running_loop(), None)

    def clear(self) -> None:
        self._made.clear()


_background: set[asyncio.Task[Any]] = set()


def background(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """``coro`` as a task nobody awaits, kept referenced until it ends (the loop only holds
    tasks weakly, and a collected task stops midway)."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def future_cancel(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` (nothing once it is done) and wait until it has ended, its outcome
    read and dropped. A cancellation of the caller still comes through, which awaiting the
    future under ``suppress(BaseException)`` would swallow."""
    if not future.done():  # no await, so no point for a cancellation, when there is nothing to wait for
        future.cancel()
        await asyncio.wait({future})
    if not future.cancelled():
        future.exception()


def _in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()  # with CONN_MAX_AGE=0: back to the pool


async def run_db(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` on the database thread pool and return its result.

    Cancelling the caller does not stop ``fn``: it runs to its end (and commits) in its
    thread. A caller that must know the outcome of a write shields the await.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call: Callable[[], T] = functools.partial(_in_thread, fn, *args, **kwargs)
    return await loop.run_in_executor(_db_threads.get(), context.run, call)


def _redis_build() -> aioredis.Redis:
    # The read timeout is longer than any blocking read (REDIS_BLOCK_SECONDS).
    # A blocking pool: past REDIS_MAX_CONNECTIONS a burst of callers waits for a free
    # connection instead of failing. Each stream blocked on a read (MAICE's XREAD) holds
    # one, so the size must cover the streams one process serves at once.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=10,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT, socket_connect_timeout=5, health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)


_redis_clients = PerLoop(_redis_build)


def redis_client() -> aioredis.Redis:
    """The asyncio Redis client of the running loop (``REDIS_URL`` must be set)."""
    if not settings.REDIS_URL:
        raise ImproperlyConfigured("REDIS_URL is not set: the embedded mode has no Redis")
    return _redis_clients.get()
