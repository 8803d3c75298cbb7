"""A process's life: start-up, the sweep of replies dead processes left, graceful stop.

- Every reply being streamed holds a lease in ``replies-streaming`` (its message id).
  The heartbeat (``conversations.leases``) sweeps that set: a lease that ran out means
  its process died, and the message is settled ``interrupted`` with the partial text
  it last saved. At start-up the database is swept too, for rows whose lease never made
  it to the cache (a crash between the insert and the lease, or a Redis restart).
- SIGTERM first ends every open stream (its terminal frame, its final status), then
  lets the server stop. Streams register a stop callback for that.
- ``Lifespan`` wraps the ASGI application: servers that speak ASGI lifespan (uvicorn)
  start the heartbeat and the SIGTERM drain when the worker starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.utils import timezone

from conversations.aio import run_db
from conversations.leases import STREAMING_REPLIES, keeper, lease_release, leases_expired, leases_live
from conversations.llm import provider_close
from conversations.services import messages_settle_abandoned

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT = 5.0

_stops: set[Callable[[], Awaitable[None]]] = set()


def stream_register(stop: Callable[[], Awaitable[None]]) -> None:
    """``stop`` ends the caller's open stream cleanly; it is awaited on SIGTERM."""
    _stops.add(stop)


def stream_unregister(stop: Callable[[], Awaitable[None]]) -> None:
    _stops.discard(stop)


async def streams_drain() -> None:
    stops = list(_stops)
    if not stops:
        return
    logger.info("stopping %d open stream(s)", len(stops))
    async with asyncio.timeout(DRAIN_TIMEOUT):
        results = await asyncio.gather(*(stop() for stop in stops), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            logger.error("stream did not stop cleanly: %r", result)


async def replies_sweep() -> int:
    """Settle the replies whose process stopped renewing their lease."""
    expired = await leases_expired(STREAMING_REPLIES)
    if not expired:
        return 0
    settled = await run_db(messages_settle_abandoned, message_ids=[int(m) for m in expired])
    for member in expired:
        await lease_release(STREAMING_REPLIES, member)
    logger.warning("settled %d reply(ies) left streaming by a stopped process", settled)
    return settled


_swept_in: int | None = None  # the process id that ran its start-up sweep


async def replies_sweep_at_startup() -> int:
    """Once per process: settle rows left ``streaming`` that no live process holds a lease for."""
    global _swept_in
    if _swept_in == os.getpid():
        return await replies_sweep()
    live = {int(m) for m in await leases_live(STREAMING_REPLIES)}
    cutoff = timezone.now()
    if settings.REDIS_URL:
        # Other processes live on: a younger row may be a reply whose lease is being taken.
        cutoff -= timedelta(seconds=settings.LEASE_TTL_SECONDS)
    settled = await run_db(messages_settle_abandoned, created_before=cutoff, keep=live)
    _swept_in = os.getpid()
    if settled:
        logger.warning("start-up: settled %d reply(ies) left streaming", settled)
    return settled + await replies_sweep()


def _install_sigterm_drain(loop: asyncio.AbstractEventLoop) -> None:
    """Chain our drain in front of the server's own SIGTERM/SIGINT handling."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            async def drain_then_stop() -> None:
                try:
                    await streams_drain()
                except Exception:
                    logger.exception("drain on shutdown failed")
                previous(signum, frame)

            loop.call_soon_threadsafe(loop.create_task, drain_then_stop())

        signal.signal(sig, handler)


class Lifespan:
    """ASGI lifespan for the whole application; other scopes pass through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    _install_sigterm_drain(asyncio.get_running_loop())
                    keeper().start()  # its first beat sweeps what a dead process left
                except Exception as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await streams_drain()
                await provider_close()
                await send({"type": "lifespan.shutdown.complete"})
                return
