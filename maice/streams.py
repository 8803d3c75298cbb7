"""The web side of a request's stream: read its events, enforce the timeouts, stop it.

Every wait is bounded: the agent must take a request within ``MAICE_PICKUP_TIMEOUT``
(else AGENT_UNAVAILABLE), each step must answer within ``MAICE_ANSWER_TIMEOUT``, chunks
(or the agent's word that the model is still writing a formula no chunk may cut) must
come at most ``MAICE_CHUNK_TIMEOUT`` apart once the answer streams and the whole
answer within ``MAICE_ANSWER_TIMEOUT`` of its first chunk, and the connection ends after
``MAICE_CONNECTION_TIMEOUT`` (else AGENT_TIMEOUT). A timeout is an event of the request
like any other (the web side appends it), so a resumed stream replays it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator

from django.conf import settings
from redis.exceptions import RedisError

from conversations import frames
from conversations.aio import background, run_db
from conversations.leases import lease_acquire, lease_release, leases_live
from maice import services
from maice.events import CHECKING, ERROR_MESSAGES, INTERNAL_TYPES, PROGRESS, Emitter, terminal_in
from maice.transport import Bus, Entry

logger = logging.getLogger(__name__)

# How long a stop waits for the agent's own CANCELLED (it stores the partial answer first).
CANCEL_WAIT_SECONDS = 1.0
# Streams of one request counted as its readers (tabs, resumes).
READERS_CAP = 64



def _answer_text(entries: list[Entry]) -> str:
    parts = []
    for _event_id, data in entries:
        event = json.loads(data)
        if event.get("type") == "answer_chunk":
            parts.append(str(event.get("content", "")))
    return "".join(parts)


async def request_give_up(bus: Bus, *, request_id: str, session_id: int, code: str) -> Entry:
    """End a request from the web side: its terminal event, the agent told to stop, and
    the stored answer settled with the text the client was shown."""
    entry = await Emitter(bus, request_id=request_id, session_id=session_id).error(code)
    await bus.cancel(request_id)
    shown = _answer_text(await bus.history(request_id))
    await run_db(services.request_settle, request_id=request_id, outcome=code, error_code=code, text=shown)
    logger.warning("maice request ended by the web side: request=%s code=%s", request_id, code)
    return entry


async def request_cancel(bus: Bus, *, request_id: str, session_id: int) -> str:
    """Stop a request: ``finished`` if it had already ended, else ``cancelled``."""
    history = await bus.history(request_id)
    if terminal_in(history) is not None:
        return "finished"
    await bus.cancel(request_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CANCEL_WAIT_SECONDS
    after = history[-1][0] if history else "0"
    while (remaining := deadline - loop.time()) > 0:
        entries = await bus.read(request_id, after, remaining)
        if terminal_in(entries) is not None:
            return "cancelled"
        if entries:
            after = entries[-1][0]
    # No agent answered (none took the request, or it died): end the stream here.
    await request_give_up(bus, request_id=request_id, session_id=session_id, code="CANCELLED")
    return "cancelled"


def _readers(request_id: str) -> str:
    # Leases, not a counter: the streams of a web process that dies stop counting within
    # seconds, so the request is still stopped when the stream that replaced them leaves.
    return f"maice-readers:{request_id}"


async def _cancel_if_abandoned(bus: Bus, *, request_id: str, session_id: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.MAICE_CONNECTION_TIMEOUT
    await asyncio.sleep(settings.MAICE_DISCONNECT_GRACE_MS / 1000)
    # Another stream took over (the seed's EventSource, a resume), or one of a process that
    # died still holds its lease: whoever leaves last, or the lease running out, decides.
    while await leases_live(_readers(request_id)):
        if loop.time() >= deadline:
            return  # (the request's own connection timeout has ended it)
        await asyncio.sleep(settings.LEASE_TTL_SECONDS / 3)
    if await request_cancel(bus, request_id=request_id, session_id=session_id) == "cancelled":
        logger.info("maice request stopped: the client left, request=%s", request_id)


def _on_left(bus: Bus, *, request_id: str, session_id: int) -> None:
    background(_cancel_if_abandoned(bus, request_id=request_id, session_id=session_id))


def unrecorded_error(*, session_id: int, request_id: str, code: str) -> bytes:
    """An ``error`` event that is not on the request's stream (there is none to append to)."""
    data = frames.maice_error(session_id=session_id, request_id=request_id, code=code, message=ERROR_MESSAGES[code])
    return frames.sse_event(f"{int(time.time() * 1000)}-0", data)


async def request_events(
    bus: Bus, *, request_id: str, session_id: int, after: str = "0", accepted: bool = False
) -> AsyncIterator[bytes]:
    """SSE bytes of one request from ``after`` on, until its terminal event.

    ``accepted``: an agent already took the request (a resume); else the pick-up timer runs.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    connection_deadline = start + settings.MAICE_CONNECTION_TIMEOUT
    last_event = last_write = start
    answer_started: float | None = None
    last_chunk: float | None = None
    ended = False
    reader = secrets.token_hex(8)
    # (Past the cap a stream is not counted: the others keep the request alive.)
    await lease_acquire(_readers(request_id), reader, cap=READERS_CAP)
    try:
        while True:
            deadlines = [connection_deadline, last_write + settings.MAICE_KEEPALIVE_SECONDS]
            if not accepted:
                deadlines.append(start + settings.MAICE_PICKUP_TIMEOUT)
            elif last_chunk is not None and answer_started is not None:
                deadlines += [last_chunk + settings.MAICE_CHUNK_TIMEOUT, answer_started + settings.MAICE_ANSWER_TIMEOUT]
            else:
                deadlines.append(last_event + settings.MAICE_ANSWER_TIMEOUT)
            try:
                entries = await bus.read(request_id, after, max(0.0, min(deadlines) - loop.time()))
            except RedisError:
                # Redis is gone: the stream cannot go on, but it ends with an event, not a cut.
                logger.exception("maice stream lost Redis: request=%s", request_id)
                ended = True
                yield unrecorded_error(session_id=session_id, request_id=request_id, code="AGENT_UNAVAILABLE")
                return
            now = loop.time()
            for event_id, data in entries:
                after, last_event = event_id, now
                event = json.loads(data)
                kind = event.get("type")
                accepted = True
                if kind in INTERNAL_TYPES:
                    if kind == PROGRESS and last_chunk is not None:
                        last_chunk = now
                    elif kind == CHECKING:
                        last_chunk = None  # no more chunks: the step's timeout from here
                    continue
                if kind == "answer_chunk":
                    answer_started = answer_started or now
                    last_chunk = now
                elif kind == "answer_complete":
                    last_chunk = None
                yield frames.sse_event(event_id, data)
                last_write = now
                if kind in frames.MAICE_TERMINAL_TYPES:
                    ended = True
                    return
            if entries:
                continue
            code = None
            if now >= connection_deadline:
                code = "AGENT_TIMEOUT"
            elif not accepted:
                if now >= start + settings.MAICE_PICKUP_TIMEOUT:
                    code = "AGENT_UNAVAILABLE"
            elif last_chunk is not None and answer_started is not None:
                chunk_late = now >= last_chunk + settings.MAICE_CHUNK_TIMEOUT
                if chunk_late or now >= answer_started + settings.MAICE_ANSWER_TIMEOUT:
                    code = "AGENT_TIMEOUT"
            elif now >= last_event + settings.MAICE_ANSWER_TIMEOUT:
                code = "AGENT_TIMEOUT"
            if code is not None:
                event_id, data = await request_give_up(bus, request_id=request_id, session_id=session_id, code=code)
                ended = True
                yield frames.sse_event(event_id, data)
                return
            if now - last_write >= settings.MAICE_KEEPALIVE_SECONDS:
                yield frames.sse_comment("keep-alive")
                last_write = now
    finally:
        # Runs on a client's disconnect too (the server cancels the response task).
        with contextlib.suppress(RedisError):
            await asyncio.shield(lease_release(_readers(request_id), reader))
        if not ended:
            _on_left(bus, request_id=request_id, session_id=session_id)
