"""The MAICE agent: one request from the queue to its last event.

The same code runs in ``run_maice_agent`` workers (Redis Streams) and, without Redis,
inside the web process. A request it picks up may have been started by a worker that
died: what that worker already published is not published again, and an answer it was
streaming cannot be continued word for word, so that request ends with one error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from django.conf import settings

from conversations import frames
from conversations.aio import future_cancel, run_db
from conversations.generation import ReplyProgress
from conversations.llm import Accepted, LLMError, TextDelta, Usage, get_provider
from conversations.models import MessageStatus
from conversations.safety import screen_output, screen_output_tail
from maice import selectors, services, steps
from maice.chunking import AnswerChunker, split_answer
from maice.events import ACCEPTED, CHECKING, PROGRESS, Emitter, event_type, terminal_in
from maice.models import Mode, Quality, QuestionStatus
from maice.selectors import AgentState
from maice.steps import Classification
from maice.transport import Bus

logger = logging.getLogger(__name__)

CRISIS_SUMMARY = "힘든 마음을 털어놓았고, 도움을 받을 수 있는 곳을 안내받았어요."
CRISIS_TITLE = "도움 안내"
# A blocked answer's replacement, in a tutor's words (the counselor's fallback asks about feelings).
BLOCKED_TEXT = ("죄송해요, 방금 답변은 안전 검토에서 보류되어 보여 드릴 수 없어요. "
                "질문을 조금 바꿔서 다시 물어봐 주세요.")


async def _after_first(first: asyncio.Future[Any], stream: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """The stream's items, its first one already being read by ``first``."""
    try:
        yield await first
    except StopAsyncIteration:
        return
    async for item in stream:
        yield item


def _ms_since(epoch: float) -> int:
    return max(0, round((time.time() - epoch) * 1000))


class _Run:
    def __init__(self, job: dict[str, Any], emitter: Emitter, seen: set[str]) -> None:
        self.job = job
        self.emitter = emitter
        self.seen = seen
        self.question_id = int(job["question_id"])
        self.accepted_at = float(job.get("accepted_at") or time.time())
        self.usage = steps.StepUsage()
        self.progress: ReplyProgress | None = None  # the answer row (its lease and saves), once written
        self.shown = ""  # answer text already published
        self.ttfc_ms: int | None = None
        self.signalled_at = 0.0  # monotonic time of the answer's last chunk or progress event
        self.chunk_gap = float(job.get("chunk_gap") or settings.MAICE_CHUNK_TIMEOUT)

    async def emit_once(self, event: str, **fields: Any) -> None:
        if event not in self.seen:
            await self.emitter.emit(event, **fields)

    async def execute(self) -> None:
        state = await run_db(selectors.agent_state, question_id=self.question_id)
        if "answer_chunk" in self.seen:
            await run_db(services.request_settle, request_id=self.emitter.request_id, outcome="AGENT_UNAVAILABLE",
                         error_code="AGENT_UNAVAILABLE")
            await self.emitter.error("AGENT_UNAVAILABLE")
            return
        if state.fixed_answer is not None:
            await self.answer_fixed(state.fixed_answer, summary=CRISIS_SUMMARY)
            return
        classification = state.classification
        question = state.question
        if self.job["kind"] == "clarification":
            if state.improved_question and "clarification_complete" in self.seen:
                improvement = steps.Improvement(state.improved_question, False)
            else:
                improvement = await steps.improve(question=state.question, previous=state.rounds, usage=self.usage)
                await run_db(services.improvement_store, question_id=self.question_id, improvement=improvement)
            await self.emit_once("clarification_complete", improved_question=improvement.improved_question)
            if classification is None:
                classification = await asyncio.to_thread(steps.classify_by_rules, state.question)
            if improvement.needs_more and len(state.rounds) < settings.MAICE_MAX_CLARIFICATIONS:
                await self.clarify(state, classification, round=len(state.rounds) + 1)
                return
            question = improvement.improved_question
        elif state.mode == Mode.AGENT:
            if classification is None:
                await self.emit_once("classification_start")
                classification = await steps.classify(state.question, usage=self.usage)
                await run_db(services.classification_store, question_id=self.question_id,
                             classification=classification)
            await self.emit_once("classification_complete", result=classification.result())
            if classification.quality == Quality.NEEDS_CLARIFY and settings.MAICE_MAX_CLARIFICATIONS > 0:
                await self.clarify(state, classification, round=1)
                return
        await self.answer(state, question, classification)

    async def clarify(self, state: AgentState, classification: Classification, *, round: int) -> None:
        questions = await steps.clarify(question=state.question, classification=classification, round=round,
                                        previous=state.rounds, usage=self.usage)
        await run_db(services.clarification_open, question_id=self.question_id, round=round, questions=questions,
                     elapsed=_ms_since(self.accepted_at), usage=self.usage.total())
        await self.emitter.emit("clarification_required", questions=questions)

    async def _open_answer(self, state: AgentState) -> None:
        pending = asyncio.ensure_future(run_db(services.answer_open, question_id=self.question_id,
                                               reply_to_id=state.last_user_message_id))
        try:
            answer = await asyncio.shield(pending)
        except asyncio.CancelledError:
            # The row is written all the same: know it, so the stop settles it.
            with contextlib.suppress(Exception):
                self.progress = ReplyProgress((await pending).pk)
            raise
        self.progress = ReplyProgress(answer.pk)

    async def _settle(self, **fields: Any) -> None:
        """The answer's final state; its lease goes with it."""
        assert self.progress is not None
        await self.progress.finalize(**fields)

    async def _chunk(self, index: int, content: str) -> None:
        await self.emitter.emit("answer_chunk", chunk_id=index + 1, chunk_index=index, content=content)
        if self.ttfc_ms is None:
            self.ttfc_ms = _ms_since(self.accepted_at)
        self.shown += content
        self.signalled_at = time.monotonic()
        if self.progress is not None:
            self.progress.save(self.shown)

    async def _held(self) -> None:
        """The model is writing, but the chunker holds its text: tell the web side, at most
        twice per gap it allows between chunks, that the answer has not stalled."""
        if time.monotonic() - self.signalled_at >= self.chunk_gap / 2:
            self.signalled_at = time.monotonic()
            await self.emitter.emit(PROGRESS)

    async def answer(self, state: AgentState, question: str, classification: Classification | None) -> None:
        answer_type = steps.answer_type(mode=state.mode, classification=classification)
        request = steps.answer_request(question=question, mode=state.mode, classification=classification,
                                       history=state.history)
        # The request goes out first; the answer row is written while the model works on
        # its first token (the row is not needed before the first chunk).
        stream = get_provider().stream(request)
        first: asyncio.Future[Any] = asyncio.ensure_future(anext(stream))
        chunker = AnswerChunker(min_chars=settings.MAICE_CHUNK_MIN_CHARS, max_chars=settings.MAICE_CHUNK_MAX_CHARS)
        count = 0
        blocked: str | None = None
        try:
            try:
                await self._open_answer(state)
                async with contextlib.aclosing(_after_first(first, stream)) as items:
                    async for item in items:
                        if isinstance(item, Usage):
                            self.usage.add(item)
                            continue
                        if isinstance(item, Accepted) or not isinstance(item, TextDelta):
                            continue
                        pieces = chunker.feed(item.text)
                        for piece in pieces:
                            screening = screen_output_tail(shown=self.shown, added=piece)
                            if screening.flagged:
                                blocked = screening.category or "unsafe"
                                break
                            await self._chunk(count, piece)
                            count += 1
                        if blocked:
                            break
                        if not pieces and count:
                            await self._held()
            finally:
                await future_cancel(first)  # a failure of the first read is handled below
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()  # stops the upstream call, also when cancelled
        except LLMError as exc:
            logger.warning("maice answer failed: request=%s code=%s", self.emitter.request_id, exc.code)
            if self.progress is None:
                await self._open_answer(state)
            await self._settle(status=MessageStatus.FAILED, text=self.shown, error_code=exc.code,
                               usage=self.usage.total(), ttfc_ms=self.ttfc_ms, total_ms=_ms_since(self.accepted_at))
            await run_db(services.question_status_set, question_id=self.question_id, status=QuestionStatus.FAILED)
            await self.emitter.error("LLM_ERROR")
            return
        if blocked is None:
            for piece in chunker.flush():
                screening = screen_output(self.shown + piece, final=True)
                if screening.flagged:
                    blocked = screening.category or "unsafe"
                    break
                await self._chunk(count, piece)
                count += 1
        if blocked is None and self.shown and settings.LLM_MODERATION:
            await self.emitter.emit(CHECKING)
            if await get_provider().moderate(self.shown):
                blocked = "moderation"  # judged whole, like every product's reply, before it is stored complete
        if blocked is not None:
            logger.warning("maice answer blocked: request=%s reason=%s", self.emitter.request_id, blocked)
            written = self.shown + chunker.pending
            await self._chunk(count, ("\n\n" if self.shown else "") + BLOCKED_TEXT)
            count += 1
            await self._settle(status=MessageStatus.BLOCKED, text=BLOCKED_TEXT, blocked_text=written,
                               flag_detail=blocked, usage=self.usage.total(), ttfc_ms=self.ttfc_ms,
                               total_ms=_ms_since(self.accepted_at))
        else:
            await self._settle(status=MessageStatus.COMPLETE, text=self.shown, usage=self.usage.total(),
                               ttfc_ms=self.ttfc_ms, total_ms=_ms_since(self.accepted_at))
        await run_db(services.answer_type_store, question_id=self.question_id, answer_type=answer_type)
        await self.emitter.emit("answer_complete", total_chunks=count, answer_type=answer_type)
        tags = classification.unit_tags if classification else []
        spent = steps.StepUsage()
        summary = await steps.summarize(question=question, answer=self.shown, tags=tags, usage=spent)
        await run_db(services.summary_store, question_id=self.question_id, summary=summary,
                     usage=spent.total())
        await self.emitter.emit("summary_complete", summary=summary.summary)

    async def answer_fixed(self, text: str, *, summary: str) -> None:
        """A pre-written answer (a student in crisis): no model is asked anything."""
        state = await run_db(selectors.agent_state, question_id=self.question_id)
        await self._open_answer(state)
        pieces = split_answer(text, min_chars=settings.MAICE_CHUNK_MIN_CHARS, max_chars=settings.MAICE_CHUNK_MAX_CHARS)
        for index, piece in enumerate(pieces):
            await self._chunk(index, piece)
        await self._settle(status=MessageStatus.COMPLETE, text=self.shown, ttfc_ms=self.ttfc_ms,
                           total_ms=_ms_since(self.accepted_at))
        # Not a question the tutor answers; freepass still says which mode answered it.
        answer_type = "freepass" if state.mode == Mode.FREEPASS else "unanswerable"
        await run_db(services.answer_type_store, question_id=self.question_id, answer_type=answer_type)
        await self.emitter.emit("answer_complete", total_chunks=len(pieces), answer_type=answer_type)
        # A title of the tutor's, not the student's words.
        await run_db(services.summary_store, question_id=self.question_id,
                     summary=steps.Summary(summary, CRISIS_TITLE, []))
        await self.emitter.emit("summary_complete", summary=summary)

    async def stopped(self) -> None:
        """Cancelled (stop, the client left, the web side timed out): keep what was shown."""
        # The web side ends a stalled request with its own error before it stops us.
        ended = terminal_in(await self.emitter.bus.history(self.emitter.request_id))
        code = ended if ended in ("AGENT_TIMEOUT", "AGENT_UNAVAILABLE") else "CANCELLED"
        if self.progress is not None:
            stopped = code == "CANCELLED"
            await self._settle(status=MessageStatus.INTERRUPTED if stopped else MessageStatus.FAILED, text=self.shown,
                               error_code="" if stopped else code, usage=self.usage.total(), ttfc_ms=self.ttfc_ms,
                               total_ms=_ms_since(self.accepted_at))
        await run_db(services.request_settle, request_id=self.emitter.request_id, outcome=code, error_code=code)
        if not self.emitter.finished:
            await self.emitter.error(code)

    async def failed(self) -> None:
        if self.progress is not None:
            await self._settle(status=MessageStatus.FAILED, text=self.shown, error_code="AGENT_ERROR",
                               ttfc_ms=self.ttfc_ms, total_ms=_ms_since(self.accepted_at))
        await run_db(services.request_settle, request_id=self.emitter.request_id, outcome="LLM_ERROR",
                     error_code="LLM_ERROR")
        if not self.emitter.finished:
            await self.emitter.error("LLM_ERROR")


async def agent_run(job: dict[str, Any], bus: Bus) -> None:
    """Run one request; never raises but for its own cancellation (which it reports first)."""
    request_id = str(job["request_id"])
    emitter = Emitter(bus, request_id=request_id, session_id=int(job["session_id"]))
    before = await bus.history(request_id)
    if terminal_in(before) is not None:
        return  # already over (answered, timed out or stopped on the web side)
    if await bus.is_cancelled(request_id):
        await run_db(services.request_settle, request_id=request_id, outcome="CANCELLED", error_code="CANCELLED")
        await emitter.error("CANCELLED")
        return
    await bus.publish(request_id, frames.maice_event(ACCEPTED, session_id=emitter.session_id, request_id=request_id))
    run = _Run(job, emitter, {event_type(data) for _id, data in before})
    try:
        await run.execute()
    except asyncio.CancelledError:
        # Shielded: a second cancellation must not lose the stored state or the last event.
        await asyncio.shield(run.stopped())
        raise
    except Exception:
        logger.exception("maice agent failed: request=%s", request_id)
        await asyncio.shield(run.failed())
