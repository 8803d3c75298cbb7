"""Streaming an assistant reply into a stored ``Message``, for every product.

The message ends in exactly one state: ``complete``, ``blocked`` (output screening),
``failed`` (upstream error, partial text kept) or ``interrupted`` (cancelled or the
client left, partial text kept). Products turn the events into their own frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from conversations.aio import PerLoop, run_db
from conversations.leases import STREAMING_REPLIES, lease_acquire, lease_release
from conversations.llm import Accepted, ChatRequest, LLMError, StreamItem, TextDelta, Usage, get_provider
from conversations.models import Message, MessageStatus
from conversations.safety import SAFE_FALLBACK_REPLY, screen_output, screen_output_tail
from conversations.services import message_finalize, messages_progress
from conversations.streaming import coalesce

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyStarted:
    """The upstream has the request (or failed before it could): products say "begin" now."""

    message_id: int


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


ReplyEvent = ReplyStarted | ReplyChunk | ReplyFinished | ReplyFailed


def _ms(start: float, end: float) -> int:
    return max(0, round((end - start) * 1000))


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (``time.monotonic()``)."""
    return _ms(started, time.monotonic())


class ProgressSaver:
    """The partial text of every reply this process streams, saved for all of them in one
    ``UPDATE`` every ``STREAM_SAVE_MS``.

    One statement a beat, not one per reply: with a hundred replies streaming, their saves
    queued for the database threads ahead of the next replies' first writes. A save only
    touches rows still ``streaming``, so one that lands after a reply's final state changes
    nothing.
    """

    def __init__(self) -> None:
        self.pending: dict[int, str] = {}
        self.task: asyncio.Task[None] | None = None

    def mark(self, message_id: int, text: str) -> None:
        self.pending[message_id] = text
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._beat(), name="reply-progress")

    def drop(self, message_id: int) -> None:
        self.pending.pop(message_id, None)

    async def _beat(self) -> None:
        while self.pending:
            await asyncio.sleep(settings.STREAM_SAVE_MS / 1000)
            batch, self.pending = self.pending, {}
            try:
                await run_db(messages_progress, texts=batch)
            except Exception:
                # The replies' next text comes in the next beat; their final state supersedes it.
                logger.exception("saving %d streaming replies' text failed", len(batch))


progress_saver = PerLoop(ProgressSaver).get


class ReplyProgress:
    """A streaming reply's lease and its periodic saves, ended once the final state is stored.

    The lease tells every process's sweep the row is alive; the saves leave the partial
    text behind if this process dies.
    """

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        # Taken while the request goes out, not before it: one round trip off the way.
        self.leased = asyncio.ensure_future(lease_acquire(STREAMING_REPLIES, str(message_id), cap=None))
        self.saver = progress_saver()  # (looked up once: ``save`` runs per chunk)

    def save(self, text: str) -> None:
        self.saver.mark(self.message_id, text)

    async def finalize(self, **fields: Any) -> None:
        # Shielded: a second cancellation must not lose the final state of a reply.
        await asyncio.shield(self._finalize(fields))

    async def _finalize(self, fields: dict[str, Any]) -> None:
        self.saver.drop(self.message_id)
        await run_db(message_finalize, message_id=self.message_id, **fields)
        await asyncio.wait({self.leased})  # released below even if the request never got far
        if not self.leased.cancelled():
            self.leased.exception()  # a failed lease was already reported by the stream
        await lease_release(STREAMING_REPLIES, str(self.message_id))


async def _with_tail(stream: AsyncIterator[StreamItem], tail: str) -> AsyncGenerator[StreamItem, None]:
    """``stream`` with ``tail`` as its last text (before usage): fixed words the reply must end with."""
    try:
        async for item in stream:
            if isinstance(item, Usage) and tail:
                yield TextDelta(" " + tail)
                tail = ""
            yield item
        if tail:
            yield TextDelta(" " + tail)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _within(source: AsyncIterator[StreamItem], time_limit: float) -> AsyncGenerator[StreamItem, None]:
    """``source``, ended with ``LLM_TIMEOUT`` once ``time_limit`` seconds have passed."""
    deadline = time.monotonic() + time_limit
    try:
        while True:
            try:
                item = await asyncio.wait_for(anext(source), max(0.0, deadline - time.monotonic()))
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LLMError(LLMError.TIMEOUT, "reply time limit reached", permanent=True) from None
            yield item
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


class RowUnavailable(Exception):
    """The reply's row could not be written: the request was closed; ``error`` says why."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


async def reply_generate(
    *, assistant: Message | Awaitable[Message], request: ChatRequest, started: float,
    fallback: str = SAFE_FALLBACK_REPLY, time_limit: float | None = None, tail: str = "",
) -> AsyncGenerator[ReplyEvent, None]:
    """Stream the model's reply to ``request`` into ``assistant``.

    ``started`` is when the user's request arrived. The request goes out first. The
    reply's row may still be being written (``assistant`` an awaitable): the model works
    on its first token meanwhile, and if the row cannot be written the request is closed
    and ``RowUnavailable`` raised before any event. Once the upstream has the request
    and the row exists, the reply's lease (a sweep settles the row if this process dies)
    is taken and ``ReplyStarted`` yielded. The text so far is saved every
    ``STREAM_SAVE_MS``, so a crash leaves the partial text behind. A blocked reply is
    replaced by ``fallback`` (the product's own words); ``time_limit`` is a product's
    limit on the whole reply; ``tail`` is fixed text the reply ends with (the help lines
    after a check-in).
    """
    provider = get_provider()
    stream = provider.stream(request)
    if tail:
        stream = _with_tail(stream, tail)
    if time_limit is not None:
        stream = _within(stream, time_limit)
    source = coalesce(stream, interval=settings.STREAM_FLUSH_MS / 1000)
    row: asyncio.Future[Message] | None = None
    progress: ReplyProgress | None = None
    if isinstance(assistant, Message):
        progress = ReplyProgress(assistant.pk)
    else:
        row = asyncio.ensure_future(assistant)

    async def ready() -> ReplyProgress:
        nonlocal progress
        if progress is None:
            assert row is not None
            try:
                message = await asyncio.shield(row)
            except Exception as exc:  # (a cancellation is not one: it goes through)
                raise RowUnavailable(exc) from exc
            progress = ReplyProgress(message.pk)
        return progress

    shown = ""  # what the client has been sent
    usage: Usage | None = None
    ttfc_ms: int | None = None
    finished = False
    announced = False
    try:
        block_reason: str | None = None
        blocked_text = ""
        try:
            async for item in source:
                if isinstance(item, Accepted):
                    reply = await ready()
                    await reply.leased
                    announced = True
                    yield ReplyStarted(reply.message_id)
                    continue
                if isinstance(item, Usage):
                    usage = item
                    continue
                candidate = shown + item.text
                screening = screen_output_tail(shown=shown, added=item.text)
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
                (progress or await ready()).save(shown)  # set from the first chunk on: no await per chunk
        finally:
            await source.aclose()  # stops the upstream request if it is still running
        reply = await ready()
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
            logger.warning("assistant reply blocked: message=%s reason=%s", reply.message_id, block_reason)
            await reply.finalize(
                status=MessageStatus.BLOCKED, text=fallback,
                blocked_text=blocked_text, flag_detail=block_reason, usage=usage, ttfc_ms=ttfc_ms, total_ms=total_ms,
            )
            finished = True
            yield ReplyChunk(("\n" if shown else "") + fallback)
            yield ReplyFinished(reply.message_id, fallback, MessageStatus.BLOCKED, usage, ttfc_ms)
            return
        await reply.finalize(status=MessageStatus.COMPLETE, text=text, usage=usage, ttfc_ms=ttfc_ms, total_ms=total_ms)
        finished = True
        yield ReplyFinished(reply.message_id, text, MessageStatus.COMPLETE, usage, ttfc_ms)
    except RowUnavailable:
        finished = True  # there is no row to settle
        raise
    except LLMError as exc:
        reply = await ready()
        logger.warning("llm failure: message=%s code=%s detail=%s", reply.message_id, exc.code, exc.detail)
        await reply.finalize(status=MessageStatus.FAILED, text=shown,
                             error_code=exc.code, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        if not announced:
            yield ReplyStarted(reply.message_id)
        yield ReplyFailed(reply.message_id, exc.code)
    except Exception:
        # A bug in a responder or screen: the client gets a stream error, so the stored
        # reply must say failed too, not "interrupted" as if the user had left.
        reply = await ready()
        logger.exception("reply generation failed: message=%s", reply.message_id)
        await reply.finalize(status=MessageStatus.FAILED, text=shown,
                             error_code=LLMError.STREAMING, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        if not announced:
            yield ReplyStarted(reply.message_id)
        yield ReplyFailed(reply.message_id, LLMError.STREAMING)
    finally:
        if not finished:
            # Cancelled (stop, disconnect, shutdown) or closed by the caller: keep the partial text.
            with contextlib.suppress(RowUnavailable):
                await (await ready()).finalize(status=MessageStatus.INTERRUPTED, text=shown, usage=usage,
                                               ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
