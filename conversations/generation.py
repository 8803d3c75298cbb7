"""Streaming an assistant reply into a stored ``Message``, for every product.

The message ends in exactly one state: ``complete``, ``blocked`` (output screening),
``failed`` (upstream error, partial text kept) or ``interrupted`` (cancelled or the
client left, partial text kept). Products turn the events into their own frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Self

from channels.db import database_sync_to_async
from django.conf import settings

from conversations.llm import Accepted, ChatRequest, LLMError, StreamItem, TextDelta, Usage, get_provider
from conversations.models import Message, MessageStatus
from conversations.safety import SAFE_FALLBACK_REPLY, screen_output
from conversations.services import message_finalize
from conversations.streaming import coalesce

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyChunk:
    text: str


@dataclass(frozen=True)
class ReplyFinished:
    message_id: int
    text: str
    status: MessageStatus
    usage: Usage | None = None
    ttfc_ms: int | None = None
    crisis: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class ReplyFailed:
    message_id: int
    code: str


ReplyEvent = ReplyChunk | ReplyFinished | ReplyFailed

# Channels' wrapper returns the worker thread's connection to the pool after each call.
message_finalize_async = database_sync_to_async(message_finalize)


def _ms(start: float, end: float) -> int:
    return max(0, round((end - start) * 1000))


async def with_tail(stream: AsyncIterator[StreamItem], tail: str) -> AsyncIterator[StreamItem]:
    """``stream`` with ``tail`` as its last text (before usage): fixed words the reply must end with."""
    try:
        async for item in stream:
            if isinstance(item, Usage):
                yield TextDelta(" " + tail)
                tail = ""
            yield item
        if tail:
            yield TextDelta(" " + tail)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class Upstream:
    """An LLM call already on its way: the request is sent when this is built.

    Callers start it as soon as the prompt is known, wait for ``accepted()``, and do
    their remaining bookkeeping (the reply row) while the model works on its first
    token: done earlier, that work would hold the GIL while the request is being sent.
    Items arrive coalesced (``STREAM_FLUSH_MS``); ``Accepted`` is not passed on.
    """

    def __init__(self, request: ChatRequest, *, tail: str = "") -> None:
        stream = get_provider().stream(request)
        if tail:
            stream = with_tail(stream, tail)
        self._source = coalesce(stream, interval=settings.STREAM_FLUSH_MS / 1000)
        self._first: asyncio.Future[StreamItem] | None = asyncio.ensure_future(anext(self._source))

    async def accepted(self) -> None:
        """Return once the upstream has the request, or has failed (raised by iteration)."""
        first = self._first
        if first is None:
            return
        await asyncio.wait({first})
        if not first.cancelled() and first.exception() is None and isinstance(first.result(), Accepted):
            self._first = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> TextDelta | Usage:
        first, self._first = self._first, None
        item = await first if first is not None else await anext(self._source)
        while isinstance(item, Accepted):
            item = await anext(self._source)
        return item

    async def aclose(self) -> None:
        """Stop the call (the provider closes the upstream response). Safe to repeat."""
        first, self._first = self._first, None
        if first is not None:
            first.cancel()
            await asyncio.wait({first})  # the current task's own cancellation still raises
            if not first.cancelled():
                first.exception()  # consumed: a failure nobody asked for is not an error
        await self._source.aclose()


async def reply_generate(
    *, assistant: Message, upstream: Upstream, started: float
) -> AsyncGenerator[ReplyEvent, None]:
    """Stream ``upstream`` into ``assistant``; ``started`` is when the user's request arrived."""
    provider = get_provider()
    shown = ""  # what the client has been sent
    usage: Usage | None = None
    ttfc_ms: int | None = None
    finished = False
    try:
        block_reason: str | None = None
        blocked_text = ""
        try:
            async for item in upstream:
                if isinstance(item, Usage):
                    usage = item
                    continue
                candidate = shown + item.text
                screening = screen_output(candidate)
                if screening.flagged:
                    # Stop before the unsafe part reaches the user; closing the upstream
                    # below stops upstream generation. Reviewers see what was written.
                    block_reason = screening.category or "unsafe"
                    blocked_text = candidate
                    break
                if ttfc_ms is None:
                    ttfc_ms = _ms(started, time.monotonic())
                shown = candidate
                yield ReplyChunk(item.text)
        finally:
            await upstream.aclose()
        text = shown
        if block_reason is None:
            # A last sentence without punctuation is only judged once the reply is whole.
            screening = screen_output(text, final=True)
            if screening.flagged:
                block_reason, blocked_text = screening.category or "unsafe", text
        if block_reason is None and text and settings.LLM_MODERATION and await provider.moderate(text):
            block_reason, blocked_text = "moderation", text
        total_ms = _ms(started, time.monotonic())
        if block_reason is not None:
            logger.warning("assistant reply blocked: message=%s reason=%s", assistant.pk, block_reason)
            await message_finalize_async(
                message_id=assistant.pk, status=MessageStatus.BLOCKED, text=SAFE_FALLBACK_REPLY,
                blocked_text=blocked_text, flag_detail=block_reason, usage=usage, ttfc_ms=ttfc_ms, total_ms=total_ms,
            )
            finished = True
            yield ReplyChunk(("\n" if shown else "") + SAFE_FALLBACK_REPLY)
            yield ReplyFinished(assistant.pk, SAFE_FALLBACK_REPLY, MessageStatus.BLOCKED, usage, ttfc_ms)
            return
        await message_finalize_async(message_id=assistant.pk, status=MessageStatus.COMPLETE, text=text, usage=usage,
                        ttfc_ms=ttfc_ms, total_ms=total_ms)
        finished = True
        yield ReplyFinished(assistant.pk, text, MessageStatus.COMPLETE, usage, ttfc_ms)
    except LLMError as exc:
        logger.warning("llm failure: message=%s code=%s detail=%s", assistant.pk, exc.code, exc.detail)
        await message_finalize_async(message_id=assistant.pk, status=MessageStatus.FAILED, text=shown,
                        error_code=exc.code, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        yield ReplyFailed(assistant.pk, exc.code)
    except Exception:
        # A bug in a responder or screen: the client gets a stream error, so the stored
        # reply must say failed too, not "interrupted" as if the user had left.
        logger.exception("reply generation failed: message=%s", assistant.pk)
        await message_finalize_async(message_id=assistant.pk, status=MessageStatus.FAILED, text=shown,
                        error_code=LLMError.STREAMING, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        yield ReplyFailed(assistant.pk, LLMError.STREAMING)
    finally:
        if not finished:
            # Cancelled (stop, disconnect) or closed by the caller: keep the partial text.
            # Shielded so a second cancellation cannot lose the final state.
            await asyncio.shield(message_finalize_async(
                message_id=assistant.pk, status=MessageStatus.INTERRUPTED, text=shown,
                usage=usage, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()),
            ))
