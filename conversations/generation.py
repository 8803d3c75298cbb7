"""Streaming an assistant reply into a stored ``Message``, for every product.

The message ends in exactly one state: ``complete``, ``blocked`` (output screening),
``failed`` (upstream error, partial text kept) or ``interrupted`` (cancelled or the
client left, partial text kept). Products turn the events into their own frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from conversations.aio import run_db
from conversations.leases import STREAMING_REPLIES, lease_acquire, lease_release
from conversations.llm import Accepted, ChatRequest, LLMError, Usage, get_provider
from conversations.models import Message, MessageStatus
from conversations.safety import SAFE_FALLBACK_REPLY, screen_output
from conversations.services import message_finalize, message_progress
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


def _ms(start: float, end: float) -> int:
    return max(0, round((end - start) * 1000))


async def _finalize(**fields: Any) -> None:
    # Shielded: a second cancellation must not lose the final state of a reply.
    await asyncio.shield(run_db(message_finalize, **fields))


async def reply_generate(
    *, assistant: Message, request: ChatRequest, started: float
) -> AsyncGenerator[ReplyEvent, None]:
    """Stream the model's reply to ``request`` into ``assistant``.

    ``started`` is when the user's request arrived. While the reply streams it holds a
    lease (a sweep settles it if this process dies) and its text so far is saved every
    ``STREAM_SAVE_MS``, so a crash leaves the partial text behind.
    """
    provider = get_provider()
    member = str(assistant.pk)
    source = coalesce(provider.stream(request), interval=settings.STREAM_FLUSH_MS / 1000)
    save_every = settings.STREAM_SAVE_MS / 1000
    saved_at = time.monotonic()
    saving: asyncio.Future[None] | None = None
    shown = ""  # what the client has been sent
    usage: Usage | None = None
    ttfc_ms: int | None = None
    finished = False
    try:
        await lease_acquire(STREAMING_REPLIES, member, cap=None)
        block_reason: str | None = None
        blocked_text = ""
        try:
            async for item in source:
                if isinstance(item, Accepted):
                    continue
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
                now = time.monotonic()
                if ttfc_ms is None:
                    ttfc_ms = _ms(started, now)
                shown = candidate
                yield ReplyChunk(item.text)
                if now - saved_at >= save_every and (saving is None or saving.done()):
                    saved_at = now
                    # In the background: the stream does not wait for the database.
                    saving = asyncio.ensure_future(run_db(message_progress, message_id=assistant.pk, text=shown))
        finally:
            await source.aclose()  # stops the upstream request if it is still running
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
            await _finalize(
                message_id=assistant.pk, status=MessageStatus.BLOCKED, text=SAFE_FALLBACK_REPLY,
                blocked_text=blocked_text, flag_detail=block_reason, usage=usage, ttfc_ms=ttfc_ms, total_ms=total_ms,
            )
            finished = True
            yield ReplyChunk(("\n" if shown else "") + SAFE_FALLBACK_REPLY)
            yield ReplyFinished(assistant.pk, SAFE_FALLBACK_REPLY, MessageStatus.BLOCKED, usage, ttfc_ms)
            return
        await _finalize(message_id=assistant.pk, status=MessageStatus.COMPLETE, text=text, usage=usage,
                        ttfc_ms=ttfc_ms, total_ms=total_ms)
        finished = True
        yield ReplyFinished(assistant.pk, text, MessageStatus.COMPLETE, usage, ttfc_ms)
    except LLMError as exc:
        logger.warning("llm failure: message=%s code=%s detail=%s", assistant.pk, exc.code, exc.detail)
        await _finalize(message_id=assistant.pk, status=MessageStatus.FAILED, text=shown,
                        error_code=exc.code, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        yield ReplyFailed(assistant.pk, exc.code)
    except Exception:
        # A bug in a responder or screen: the client gets a stream error, so the stored
        # reply must say failed too, not "interrupted" as if the user had left.
        logger.exception("reply generation failed: message=%s", assistant.pk)
        await _finalize(message_id=assistant.pk, status=MessageStatus.FAILED, text=shown,
                        error_code=LLMError.STREAMING, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        finished = True
        yield ReplyFailed(assistant.pk, LLMError.STREAMING)
    finally:
        if not finished:
            # Cancelled (stop, disconnect, shutdown) or closed by the caller: keep the partial text.
            await _finalize(message_id=assistant.pk, status=MessageStatus.INTERRUPTED, text=shown,
                            usage=usage, ttfc_ms=ttfc_ms, total_ms=_ms(started, time.monotonic()))
        if saving is not None and not saving.cancelled():
            await asyncio.wait({saving})
            saving.exception()  # a failed progress save is superseded by the final state
        await asyncio.shield(lease_release(STREAMING_REPLIES, member))
