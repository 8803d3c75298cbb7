"""The SSE answer for general, news and regulatory questions, in Anthropic's Messages format.

Order (customs.md): session_info, message_start, the metadata block for a new session,
the text block (text deltas of about ``CUSTOMS_DELTA_CHARS`` characters, detail-button
deltas as they become ready), content_block_stop, message_delta, message_stop.

The chat save (the user's message, its intent record and the reply's row, in one
transaction within ``CUSTOMS_SAVE_TIMEOUT``) runs beside the first frames and the answer's
request, the detail buttons (``CUSTOMS_DETAIL_TIMEOUT``) beside the whole answer.
A client that leaves cancels this generator: the upstream call is closed at once and the
partial answer stored ``interrupted`` (``reply_generate``). A message the screening
flagged gets its pre-written answer in the same frames, stored with the turn; no model
is asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

from django.conf import settings

from conversations import frames
from conversations.aio import background, future_cancel, run_db
from conversations.generation import (
    ReplyChunk,
    ReplyEvent,
    ReplyFailed,
    ReplyFinished,
    RowUnavailable,
    reply_generate,
)
from conversations.llm import OFFLINE_MODEL, ChatMessage, ChatRequest
from conversations.llm.base import Usage
from conversations.models import Message, MessageStatus, Product
from conversations.ratelimit import generation_lock_release
from conversations.screening import SAFETY_MODEL
from conversations.services import message_finalize
from customs.models import Intent
from customs.prompts import system_prompt
from customs.selectors import EarlierTurn, detail_buttons_select
from customs.services import StreamTurn, turn_rows

logger = logging.getLogger(__name__)

ERROR_TEXTS = {
    "LLM_TIMEOUT": "응답 시간이 초과되었습니다. 잠시 후 다시 시도해 주세요.",
    "LLM_UNAVAILABLE": "AI 서비스에 일시적으로 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
    "SAVE_TIMEOUT": "대화 저장이 지연되어 응답을 중단했습니다. 다시 시도해 주세요.",
}
DEFAULT_ERROR_TEXT = "응답 처리 중 오류가 발생했습니다."
BUTTONS_TIMEOUT_TEXT = "상세페이지 정보 준비 시간이 초과되었습니다"
BLOCKED_TEXT = ("죄송합니다. 방금 답변은 안전 검토에서 보류되어 보여 드릴 수 없습니다. 질문을 조금 바꿔 다시 물어봐 "
                "주시거나 관세청 고객지원센터(국번 없이 125)에 문의해 주세요.")


def _model_name() -> str:
    return settings.CUSTOMS_LLM_MODEL if settings.LLM_BASE_URL else OFFLINE_MODEL


def _reply_open(*, turn: StreamTurn, uuid_: str, started: float) -> Message:
    return turn_rows(turn=turn, reply_uuid=uuid_, model=_model_name(), started=started)


def _llm_request(*, turn: StreamTurn) -> ChatRequest:
    return ChatRequest(
        product=Product.CUSTOMS,
        messages=(ChatMessage("system", system_prompt(turn.intent.intent)), *turn.history,
                  ChatMessage("user", turn.text)),
        model=settings.CUSTOMS_LLM_MODEL,
        temperature=settings.CUSTOMS_TEMPERATURE,
        max_tokens=settings.CUSTOMS_MAX_TOKENS,
        context={"intent": turn.intent.intent.value, "entities": turn.intent.entities},
    )


def _slices(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _buttons(turn: StreamTurn) -> list[dict[str, Any]]:
    if turn.fixed_answer is not None:
        return []  # no trade pages beside a reply to someone at risk
    return await run_db(detail_buttons_select, intent=turn.intent.intent, message=turn.text)


async def _fixed_events(row: Awaitable[Message]) -> AsyncGenerator[ReplyEvent, None]:
    """A pre-written answer, stored complete with the turn: sent whole once stored."""
    try:
        message = await row
    except Exception as exc:  # (a cancellation is not one: it goes through)
        raise RowUnavailable(exc) from exc
    yield ReplyChunk(message.content)
    yield ReplyFinished(message.pk, message.content, MessageStatus.COMPLETE)


async def answer_stream(*, turn: StreamTurn, started: float, lock_owner: str) -> AsyncGenerator[str, None]:
    """The SSE frames of one answer; releases the session's turn lock when it ends."""
    session_uuid = turn.session.key
    index = 0
    saving: asyncio.Future[Message] | None = None
    row: asyncio.Future[Message] | None = None  # the saving, within its time limit
    unsaved = ""  # why the reply row, if it gets written, must be settled here
    buttons: asyncio.Task[list[dict[str, Any]]] | None = None
    merging: AsyncGenerator[str, None] | None = None
    settled = False
    try:
        yield frames.customs_session_info(session_uuid=session_uuid, timestamp=time.time())
        # The reply row and the buttons are prepared while the first frames go out.
        reply_uuid = str(uuid.uuid4())
        saving = asyncio.ensure_future(run_db(_reply_open, turn=turn, uuid_=reply_uuid, started=started))
        buttons = asyncio.create_task(asyncio.wait_for(_buttons(turn), settings.CUSTOMS_DETAIL_TIMEOUT))
        model = SAFETY_MODEL if turn.fixed_answer is not None else _model_name()
        yield frames.customs_message_start(message_id=f"msg_{uuid.uuid4().hex[:24]}", model=model,
                                           parent_uuid=turn.asked_uuid, uuid=reply_uuid)
        if turn.is_new:
            yield frames.customs_metadata_block_start(index=index, session_uuid=session_uuid,
                                                      start_timestamp=frames.utc_timestamp())
            yield frames.customs_block_stop(index=index, stop_timestamp=frames.utc_timestamp())
            index += 1
        yield frames.customs_text_block_start(index=index, start_timestamp=frames.utc_timestamp())
        # The answer's request goes out while the row is written. Shielded: past the limit
        # the row may still be written, and is then settled below.
        row = asyncio.ensure_future(asyncio.wait_for(asyncio.shield(saving), settings.CUSTOMS_SAVE_TIMEOUT))
        if turn.fixed_answer is not None:
            events = _fixed_events(row)
        else:
            events = reply_generate(assistant=row, request=_llm_request(turn=turn), started=started,
                                    fallback=BLOCKED_TEXT, time_limit=settings.CUSTOMS_LLM_TIMEOUT)
        merging = _merge(index, events, buttons)
        try:
            async for frame in merging:
                yield frame
        except RowUnavailable as exc:
            if not isinstance(exc.error, TimeoutError):
                raise exc.error from None
            logger.warning("customs chat save timed out: session=%s", session_uuid)
            unsaved = "SAVE_TIMEOUT"
            async for frame in _error_end(index, unsaved):
                yield frame
            return
        settled = True
    except Exception:
        # A bug must still end the stream in its error form: an exception escaping an
        # async generator leaves Django's response, and so the client, hanging.
        logger.exception("customs stream failed: session=%s", session_uuid)
        async for frame in _error_end(index, "STREAMING_ERROR"):
            yield frame
    finally:
        if merging is not None:
            # Closed here, not left to the collector, when the client left while a frame was
            # being sent: the reply is settled and the upstream closed before we go on.
            await merging.aclose()
        if buttons is not None:
            buttons.cancel()
        if row is not None:
            await future_cancel(row)  # (the saving itself is shielded)
        if saving is not None and not settled:
            await _settle_unstarted(saving, code=unsaved)
        await asyncio.shield(generation_lock_release(session_id=turn.session.pk, owner=lock_owner))


async def answer_replay(*, earlier: EarlierTurn, session_uuid: str) -> AsyncGenerator[str, None]:
    """A retried turn's stored reply in the answer's frames, without the model: its text as
    stored (none if a moderator hid it), ended as it ended, with the detail buttons."""
    reply = earlier.reply
    index = 0  # the session is not new: no metadata block
    yield frames.customs_session_info(session_uuid=session_uuid, timestamp=time.time())
    yield frames.customs_message_start(message_id=f"msg_{uuid.uuid4().hex[:24]}", model=reply.model,
                                       parent_uuid=earlier.asked.client_msg_id or "", uuid=reply.client_msg_id or "")
    yield frames.customs_text_block_start(index=index, start_timestamp=frames.utc_timestamp())
    buttons = asyncio.create_task(asyncio.wait_for(_stored_buttons(earlier), settings.CUSTOMS_DETAIL_TIMEOUT))
    try:
        async for frame in _merge(index, _stored_events(reply), buttons):
            yield frame
    finally:
        buttons.cancel()


async def _stored_buttons(earlier: EarlierTurn) -> list[dict[str, Any]]:
    if earlier.reply.model == SAFETY_MODEL or earlier.intent not in Intent.values:
        return []  # no trade pages beside a reply to someone at risk
    return await run_db(detail_buttons_select, intent=Intent(earlier.intent), message=earlier.asked.content)


async def _stored_events(reply: Message) -> AsyncGenerator[ReplyEvent, None]:
    text = "" if reply.hidden else reply.content
    if text:
        yield ReplyChunk(text)
    if reply.status == MessageStatus.FAILED:
        yield ReplyFailed(reply.pk, reply.error_code or "STREAMING_ERROR")
    else:
        yield ReplyFinished(reply.pk, text, MessageStatus(reply.status),
                            usage=Usage(reply.model, reply.prompt_tokens, reply.completion_tokens))


async def _settle_unstarted(saving: asyncio.Future[Message], *, code: str) -> None:
    """The reply never started (the client left, or the save was too slow): its row, once
    written, ends ``failed`` with ``code`` or ``interrupted``; never left ``streaming``.
    A no-op for a reply ``reply_generate`` settled."""

    async def settle() -> None:
        await asyncio.wait({saving})
        if not saving.cancelled() and saving.exception() is None:
            status = MessageStatus.FAILED if code else MessageStatus.INTERRUPTED
            await run_db(message_finalize, message_id=saving.result().pk, status=status, text="", error_code=code)

    # A task of its own, shielded: the row is settled even when this stream is cancelled
    # meanwhile (the client left during a slow save), and that cancellation still comes through.
    await asyncio.shield(background(settle()))


async def _error_end(index: int, code: str) -> AsyncGenerator[str, None]:
    yield frames.customs_text_delta(index=index, text=ERROR_TEXTS.get(code, DEFAULT_ERROR_TEXT))
    yield frames.customs_message_delta(stop_reason="error", input_tokens=None, output_tokens=0)
    yield frames.customs_message_stop()


async def _merge(index: int, events: AsyncGenerator[ReplyEvent, None],
                 buttons: asyncio.Task[list[dict[str, Any]]]) -> AsyncGenerator[str, None]:
    """Text deltas as the model writes, button deltas as they are ready, then the end."""
    size = settings.CUSTOMS_DELTA_CHARS
    buttons_pending = True
    reading: asyncio.Future[ReplyEvent] | None = None
    finished: ReplyFinished | ReplyFailed | None = None
    try:
        while finished is None or buttons_pending:
            waiting: set[asyncio.Future[Any]] = {buttons} if buttons_pending else set()
            if finished is None:
                reading = reading or asyncio.ensure_future(anext(events))
                waiting.add(reading)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if buttons_pending and buttons in done:
                buttons_pending = False
                for frame in _button_frames(index, buttons):
                    yield frame
            if reading is not None and reading in done:
                event, reading = reading.result(), None
                if isinstance(event, ReplyChunk):
                    for piece in _slices(event.text, size):
                        yield frames.customs_text_delta(index=index, text=piece)
                elif isinstance(event, ReplyFinished | ReplyFailed):
                    finished = event
                    if isinstance(event, ReplyFailed):
                        break  # the error form: no buttons wait on a failed answer
        if isinstance(finished, ReplyFailed):
            async for frame in _error_end(index, finished.code):
                yield frame
            return
        assert finished is not None
        usage = finished.usage
        yield frames.customs_block_stop(index=index, stop_timestamp=frames.utc_timestamp())
        yield frames.customs_message_delta(
            stop_reason="end_turn",
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=(usage.completion_tokens or 0) if usage else 0,
        )
        yield frames.customs_message_stop()
    finally:
        if reading is not None:
            await future_cancel(reading)
        await events.aclose()


def _button_frames(index: int, buttons: asyncio.Task[list[dict[str, Any]]]) -> list[str]:
    if buttons.cancelled():
        return []
    error = buttons.exception()
    if isinstance(error, TimeoutError):
        return [frames.customs_buttons_timeout(index=index, message=BUTTONS_TIMEOUT_TEXT)]
    if error is not None:
        logger.warning("customs detail buttons failed: %s", type(error).__name__)
        return []
    ready = buttons.result()
    if not ready:
        return []
    return [frames.customs_buttons_start(index=index, button_count=len(ready), processing_status="준비 중"),
            *(frames.customs_button_ready(index=index, button=button) for button in ready)]
