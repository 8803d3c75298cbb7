"""Chunk coalescing: the first text at once, then at most one flush per interval.

Fewer, larger chunks cost the client fewer frames (and TTS fewer restarts) while the
first words still go out the moment they arrive. No sleeps: a flush is due either when
new text arrives after the interval or when the interval ends with text waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from conversations.aio import future_cancel
from conversations.llm import StreamItem, TextDelta


async def coalesce(source: AsyncIterator[StreamItem], *, interval: float) -> AsyncGenerator[StreamItem, None]:
    """Merge ``TextDelta`` items; other items flush pending text and pass through."""
    loop = asyncio.get_running_loop()
    buffer: list[str] = []
    last_flush: float | None = None
    pending: asyncio.Future[StreamItem] | None = None
    try:
        while True:
            if pending is None and not buffer:
                # No text waits for a flush, so no timer to race the read against: no task.
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    break
            else:
                if pending is None:
                    pending = asyncio.ensure_future(anext(source))
                timeout = None
                if buffer and last_flush is not None:
                    timeout = max(0.0, last_flush + interval - loop.time())
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                if not done:
                    last_flush = loop.time()
                    yield TextDelta("".join(buffer))
                    buffer.clear()
                    continue
                future, pending = pending, None
                try:
                    item = future.result()
                except StopAsyncIteration:
                    break
                except Exception:
                    # Text that arrived before the failure is still the caller's to show and keep.
                    if buffer:
                        text = "".join(buffer)
                        buffer.clear()
                        yield TextDelta(text)
                    raise
            if not isinstance(item, TextDelta):
                if buffer:
                    yield TextDelta("".join(buffer))
                    buffer.clear()
                yield item
                continue
            buffer.append(item.text)
            now = loop.time()
            if last_flush is None or now - last_flush >= interval:
                last_flush = now
                yield TextDelta("".join(buffer))
                buffer.clear()
        if buffer:
            yield TextDelta("".join(buffer))
    finally:
        # Cancelled or closed early: stop the read in flight before closing the source,
        # which closes the upstream response.
        if pending is not None:
            await future_cancel(pending)  # its own outcome must not mask ours
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
