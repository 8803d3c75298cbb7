"""Counseling writes: the session lifecycle and the AI reply flow."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.aio import run_db
from conversations.errors import Busy, DomainError, InvalidMessage, MessageTooLong, SessionEnded
from conversations.generation import (
    ReplyChunk,
    ReplyFailed,
    ReplyFinished,
    ReplyStarted,
    RowUnavailable,
    elapsed_ms,
    reply_generate,
)
from conversations.llm import OFFLINE_MODEL, ChatMessage, ChatRequest
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, Role, SessionStatus
from conversations.ratelimit import (
    generation_lock_acquire,
    generation_lock_release,
    rate_limit_hit_async,
    rate_limit_raise,
)
from conversations.risk import input_screen, risk_guard
from conversations.safety import Assessment, Level, assess_async, check_in, fixed_reply, held_reply
from conversations.safety.replies import guidance
from conversations.screening import SAFETY_MODEL, screening_detail, screening_flags, screening_store, user_turns_recent
from conversations.selectors import history_window, session_get_owned
from conversations.services import message_append, message_finalize
from counseling.prompts import emotion_normalize, system_prompt

# --- Sessions ---------------------------------------------------------------------------


def session_start(*, user: User, counselor_id: str = "") -> ChatSession:
    # 24 random bytes: 192 bits, URL-safe, unguessable.
    return ChatSession.objects.create(
        key="sess_" + secrets.token_urlsafe(24),
        product=Product.COUNSELING,
        user=user,
        counselor_id=counselor_id[:64],
    )


def session_pause(*, session: ChatSession) -> ChatSession:
    if session.status == SessionStatus.ENDED:
        raise SessionEnded()
    if session.status != SessionStatus.PAUSED:
        session.status, session.paused_at = SessionStatus.PAUSED, timezone.now()
        session.save(update_fields=["status", "paused_at", "last_activity_at"])
    return session


def session_resume(*, session: ChatSession) -> ChatSession:
    if session.status == SessionStatus.ENDED:
        raise SessionEnded()
    if session.status != SessionStatus.ACTIVE:
        session.status, session.resumed_at = SessionStatus.ACTIVE, timezone.now()
        session.save(update_fields=["status", "resumed_at", "last_activity_at"])
    return session


def session_end(*, session: ChatSession) -> ChatSession:
    if session.status != SessionStatus.ENDED:
        session.status, session.ended_at = SessionStatus.ENDED, timezone.now()
        session.save(update_fields=["status", "ended_at", "last_activity_at"])
    return session


Transition = Literal["pause", "resume", "end"]


def session_transition(*, key: str, user: User, action: Transition) -> ChatSession:
    session = session_get_owned(key=key, user=user, product=Product.COUNSELING)
    change = {"pause": session_pause, "resume": session_resume, "end": session_end}[action]
    return change(session=session)


# --- Replies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyRequest:
    message: str
    emotion: str | None
    client_msg_id: str | None
    timestamp: int | None


@dataclass(frozen=True)
class ReplyBegin:
    message_id: int
    emotion: str | None
    replayed: bool = False


CounselingEvent = ReplyBegin | ReplyChunk | ReplyFinished | ReplyFailed


def reply_request_parse(data: object) -> ReplyRequest:
    """The request's fields. Its length is checked after screening: a flagged message over
    the limit is still answered."""
    if not isinstance(data, dict):
        raise InvalidMessage("요청 형식이 올바르지 않습니다. data 객체가 필요합니다.")
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        raise InvalidMessage("메시지를 입력해 주세요.")
    message = message.strip()
    client_msg_id = data.get("client_msg_id")
    if client_msg_id is not None and (not isinstance(client_msg_id, str) or not 0 < len(client_msg_id) <= 64):
        raise InvalidMessage("client_msg_id는 64자 이하의 문자열이어야 합니다.")
    timestamp = data.get("timestamp")
    return ReplyRequest(
        message=message,
        emotion=emotion_normalize(data.get("emotion")),
        client_msg_id=client_msg_id,
        timestamp=timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
    )


def _too_long(req: ReplyRequest) -> bool:
    return len(req.message) > settings.COUNSELING_MESSAGE_MAX_CHARS


@dataclass
class _Prepared:
    kind: Literal["safety", "replay"]
    reply: Message  # the stored answer


class _Repeated(Exception):
    """The request repeats an earlier ``client_msg_id``: its stored answer is replayed."""

    def __init__(self, prepared: _Prepared) -> None:
        super().__init__(prepared.reply.pk)
        self.prepared = prepared


def _model_name() -> str:
    return settings.COUNSELING_LLM_MODEL if settings.LLM_BASE_URL else OFFLINE_MODEL


def _stored_reply(*, session: ChatSession, client_msg_id: str | None) -> Message | None:
    """The settled answer to an earlier request with this ``client_msg_id``, if any."""
    if not client_msg_id:
        return None
    reply = Message.objects.filter(reply_to__session=session, reply_to__role=Role.USER,
                                   reply_to__client_msg_id=client_msg_id).first()
    return None if reply is None or reply.status == MessageStatus.STREAMING else reply


def _replay(*, session: ChatSession, client_msg_id: str | None) -> _Prepared:
    reply = _stored_reply(session=session, client_msg_id=client_msg_id)
    if reply is None:
        raise Busy()
    return _Prepared("replay", reply=reply)


def _safety_store(*, session: ChatSession, req: ReplyRequest, screening: Assessment, started: float) -> _Prepared:
    """A flagged message answered in pre-written words (``held_reply``), without the model.

    Taken at once for a level that has its own words (a person in crisis: no rate limit,
    no lock, no model, no queue), and for any flagged level the model cannot answer now:
    over the length or rate limit, a reply already being spoken on another socket, an
    ended session. It is stored even in an ended session: the help lines reach the user,
    the record reaches counselors.
    """
    earlier = [m.content for m in history_window(session=session, limit=4)]
    text = held_reply(screening.level, earlier=earlier)
    # The whole reply goes out in its first chunk: both timings are the time to store it.
    elapsed = elapsed_ms(started)
    try:
        with transaction.atomic():
            asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                   client_msg_id=req.client_msg_id, client_timestamp=req.timestamp,
                                   flags=screening_flags(screening), flag_detail=screening_detail(screening),
                                   ended_ok=True)
            answer = message_append(session=session, role=Role.ASSISTANT, text=text, reply_to=asked,
                                    model=SAFETY_MODEL, flags=[Flag.CRISIS], ttfc_ms=elapsed, total_ms=elapsed)
            screening_store(session=session, message=asked, assessment=screening)  # urgent: alerts on commit
    except IntegrityError:
        return _replay(session=session, client_msg_id=req.client_msg_id)
    return _Prepared("safety", reply=answer)


def _reply_context(*, session: ChatSession, client_msg_id: str | None) -> tuple[list[ChatMessage], Message | None]:
    """The history for the model, and the stored answer if this request repeats one."""
    history = history_window(session=session, limit=settings.COUNSELING_HISTORY_WINDOW)
    return history, _stored_reply(session=session, client_msg_id=client_msg_id)


def _reply_rows(*, session: ChatSession, req: ReplyRequest, screening: Assessment) -> tuple[Message, Message]:
    """The user message and the reply's ``streaming`` row, in one transaction.

    Committed before the model's request goes out. ``session`` was checked to be the user's
    when the socket attached; the user message's insert re-checks that it is not ended
    (``SessionEnded``). A repeated ``client_msg_id`` is caught by its unique index rather
    than looked up first (repeats are rare) and raises ``_Repeated``.
    """
    try:
        with transaction.atomic():
            asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                   client_msg_id=req.client_msg_id, client_timestamp=req.timestamp,
                                   flags=screening_flags(screening), flag_detail=screening_detail(screening))
            screening_store(session=session, message=asked, assessment=screening)
            reply = message_append(session=session, role=Role.ASSISTANT, text="", status=MessageStatus.STREAMING,
                                   reply_to=asked, model=_model_name(), emotion=req.emotion)
    except IntegrityError:
        raise _Repeated(_replay(session=session, client_msg_id=req.client_msg_id)) from None
    return asked, reply


def reply_llm_request(*, history: list[ChatMessage], text: str, emotion: str | None,
                      level: Level = Level.NONE) -> ChatRequest:
    extra = guidance(level)
    system = (ChatMessage("system", system_prompt(emotion)), *([ChatMessage("system", extra)] if extra else []))
    return ChatRequest(
        product=Product.COUNSELING,
        messages=(*system, *history, ChatMessage("user", text)),
        model=settings.COUNSELING_LLM_MODEL,
        temperature=settings.COUNSELING_TEMPERATURE,
        top_p=settings.COUNSELING_TOP_P,
        max_tokens=settings.COUNSELING_MAX_TOKENS,
        context={"emotion": emotion, "risk": level.value},
    )


def _stored_events(prepared: _Prepared, emotion: str | None) -> list[CounselingEvent]:
    """A reply that is already stored, as the three stages."""
    reply = prepared.reply
    if prepared.kind == "safety":
        return [ReplyBegin(reply.pk, emotion), ReplyChunk(reply.content),
                ReplyFinished(reply.pk, reply.content, MessageStatus.COMPLETE, crisis=True)]
    shown = "" if reply.hidden else reply.content  # a moderator took it down: a retry must not show it again
    events: list[CounselingEvent] = [ReplyBegin(reply.pk, reply.emotion, replayed=True)]
    if shown:
        events.append(ReplyChunk(shown))
    if reply.status == MessageStatus.FAILED:
        events.append(ReplyFailed(reply.pk, reply.error_code or "STREAMING_ERROR"))
    else:
        events.append(ReplyFinished(reply.pk, shown, MessageStatus(reply.status), replayed=True))
    return events


async def reply_preempts(data: object) -> bool:
    """Whether this request stops the reply in flight on its socket rather than being told
    to wait (``BUSY``): the user signals risk while the counselor is still talking (a voice
    user's speech is sent when they pause). The rules alone decide, without context or
    moderation: this runs before the reply in flight is stopped."""
    try:
        req = reply_request_parse(data)
    except DomainError:
        return False
    return (await assess_async(req.message)).flagged


async def reply_stream(
    *, session: ChatSession, user: User, data: object, started: float
) -> AsyncGenerator[CounselingEvent, None]:
    """One AI reply: request errors raise ``DomainError``; everything after begin is events.

    ``session`` must be the user's own (checked when the socket attached). A message the
    screening flags is never refused (too long, rate-limited, busy, ended): it is answered
    in pre-written words (``_safety_store``).
    """
    req = reply_request_parse(data)
    screening = await input_screen(
        req.message, previous=lambda: run_db(user_turns_recent, session_id=session.pk, limit=3))

    async def held() -> list[CounselingEvent]:
        return _stored_events(await run_db(_safety_store, session=session, req=req, screening=screening,
                                           started=started), req.emotion)

    if fixed_reply(screening.level) is not None or (screening.flagged and _too_long(req)):
        for event in await held():
            yield event
        return
    if _too_long(req):
        raise MessageTooLong(f"메시지는 {settings.COUNSELING_MESSAGE_MAX_CHARS}자까지 보낼 수 있습니다. "
                             f"(현재 {len(req.message)}자)")

    owner = secrets.token_hex(8)
    if not await generation_lock_acquire(session_id=session.pk, owner=owner):
        # Busy, unless this repeats a request already answered, or it is flagged: then it
        # is answered in fixed words beside the reply being spoken elsewhere.
        try:
            answered = _stored_events(await run_db(_replay, session=session, client_msg_id=req.client_msg_id),
                                      req.emotion)
        except Busy:
            if not screening.flagged:
                raise
            answered = await held()
        for event in answered:
            yield event
        return
    released = False
    rows: asyncio.Future[tuple[Message, Message]] | None = None
    begun = False  # the reply began: its generator settles the row
    try:
        # The model's request needs only the history (and whether this repeats an answered
        # request): read while the rate limit is counted.
        reading = asyncio.ensure_future(run_db(_reply_context, session=session, client_msg_id=req.client_msg_id))
        try:
            limit = await rate_limit_hit_async(scope="counseling.reply", key=f"user:{user.pk}",
                                               rate=settings.COUNSELING_RATE)
            history, stored = await reading
        finally:
            reading.cancel()  # (done by now unless we are leaving early)
        if stored is not None:  # a repeat is answered from the store, even when the user is limited
            for event in _stored_events(_Prepared("replay", reply=stored), req.emotion):
                yield event
            return
        if screening.flagged and (limit.limited or limit.unavailable):
            for event in await held():
                yield event
            return
        rate_limit_raise(limit)

        rows = asyncio.ensure_future(run_db(_reply_rows, session=session, req=req, screening=screening))
        # Committed before the model is asked (platform.md: nothing is lost): an ended
        # session or a repeated id then never costs a model call.
        await asyncio.wait({rows})
        failure = rows.exception()
        if failure is not None:
            raise RowUnavailable(failure)
        _, reply_row = rows.result()
        request = reply_llm_request(history=history, text=req.message, emotion=req.emotion, level=screening.level)
        tail = check_in(screening.level, earlier=[m.content for m in history[-4:]])
        generating = reply_generate(assistant=reply_row, request=request, started=started, tail=tail)
        # The second opinion (a model's risk classification) runs beside the reply.
        guarded = risk_guard(generating, text=req.message, previous=[m.content for m in history if m.role == "user"],
                             rules=screening, session=session, rows=rows)
        async with aclosing(generating), aclosing(guarded) as events:
            async for item in events:
                if isinstance(item, ReplyStarted):
                    begun = True
                    yield ReplyBegin(item.message_id, req.emotion)
                    continue
                if not begun:  # the second opinion replaced the reply before the model began
                    begun = True
                    yield ReplyBegin((await rows)[1].pk, req.emotion)
                if isinstance(item, ReplyFinished | ReplyFailed):
                    # Free the session before the client hears the end, so it may ask again at once.
                    released = True
                    await generation_lock_release(session_id=session.pk, owner=owner)
                yield item
    except RowUnavailable as exc:
        if isinstance(exc.error, _Repeated):
            for event in _stored_events(exc.error.prepared, req.emotion):
                yield event
            return
        if isinstance(exc.error, SessionEnded) and screening.flagged:
            for event in await held():
                yield event
            return
        raise exc.error from None
    finally:
        if rows is not None and not begun:
            await asyncio.shield(_settle_unstarted(rows))
        if not released:
            await asyncio.shield(generation_lock_release(session_id=session.pk, owner=owner))


async def _settle_unstarted(rows: asyncio.Future[tuple[Message, Message]]) -> None:
    """The reply's row, if it was written, when we left before the reply began."""
    with contextlib.suppress(Exception):
        _, reply = await rows
        await run_db(message_finalize, message_id=reply.pk, status=MessageStatus.INTERRUPTED, text="")
