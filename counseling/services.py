"""Counseling writes: the session lifecycle and the AI reply flow."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.aio import run_db
from conversations.alerts import alert_dispatch
from conversations.errors import Busy, InvalidMessage, MessageTooLong, SessionEnded
from conversations.generation import (
    ReplyChunk,
    ReplyEvent,
    ReplyFailed,
    ReplyFinished,
    Upstream,
    message_finalize_async,
    reply_generate,
)
from conversations.llm import OFFLINE_MODEL, ChatMessage, ChatRequest
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, Role, SessionStatus
from conversations.ratelimit import generation_lock_acquire, generation_lock_release, rate_limit_enforce
from conversations.risk import moderation_assess, risk_guard, risk_start
from conversations.safety import Assessment, Level, assess, check_in, fixed_reply, needs_context
from conversations.safety.replies import guidance
from conversations.screening import SAFETY_MODEL, screening_detail, screening_flags, screening_record, user_turns_recent
from conversations.selectors import history_window, session_get_owned
from conversations.services import message_append
from counseling.prompts import emotion_normalize, system_prompt

T = TypeVar("T")

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


CounselingEvent = ReplyBegin | ReplyEvent


def reply_request_parse(data: object) -> ReplyRequest:
    if not isinstance(data, dict):
        raise InvalidMessage("요청 형식이 올바르지 않습니다. data 객체가 필요합니다.")
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        raise InvalidMessage("메시지를 입력해 주세요.")
    message = message.strip()
    limit = settings.COUNSELING_MESSAGE_MAX_CHARS
    if len(message) > limit:
        raise MessageTooLong(f"메시지는 {limit}자까지 보낼 수 있습니다. (현재 {len(message)}자)")
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


@dataclass
class _Prepared:
    kind: Literal["generate", "crisis", "replay"]
    reply: Message | None = None  # crisis, replay: the stored answer
    asked: Message | None = None  # generate: the user's message, committed
    history: list[ChatMessage] = field(default_factory=list)
    decision_id: int | None = None  # crisis: the stored screening decision


def _model_name() -> str:
    return settings.COUNSELING_LLM_MODEL if settings.LLM_BASE_URL else OFFLINE_MODEL


def _replay(*, session: ChatSession, client_msg_id: str | None) -> _Prepared:
    """What was stored for an earlier request with this ``client_msg_id``."""
    reply = None
    if client_msg_id:
        reply = Message.objects.filter(reply_to__session=session, reply_to__role=Role.USER,
                                       reply_to__client_msg_id=client_msg_id).first()
    if reply is None or reply.status == MessageStatus.STREAMING:
        raise Busy()
    return _Prepared("replay", reply=reply)


def _reply_prepare(*, session: ChatSession, user: User, req: ReplyRequest, screening: Assessment) -> _Prepared:
    """Everything before the upstream call, in one thread hop and the fewest queries.

    ``session`` was checked to be the user's when the socket attached; the user
    message's insert re-checks that it is not ended. A repeated ``client_msg_id``
    is caught by its unique index rather than looked up first: repeats are rare.
    """
    fixed = fixed_reply(screening.level)
    if fixed is not None:
        # A person in crisis is answered at once: no rate limit, no model, no queue.
        try:
            with transaction.atomic():
                asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                       client_msg_id=req.client_msg_id, client_timestamp=req.timestamp,
                                       flags=[Flag.CRISIS], flag_detail=screening_detail(screening))
                answer = message_append(session=session, role=Role.ASSISTANT, text=fixed,
                                        reply_to=asked, model=SAFETY_MODEL, flags=[Flag.CRISIS])
                decision = screening_record(session=session, message=asked, assessment=screening,
                                            source=screening.source)
        except IntegrityError:
            return _replay(session=session, client_msg_id=req.client_msg_id)
        return _Prepared("crisis", reply=answer, decision_id=decision.pk if decision.urgent else None)

    ttl = int(settings.LLM_TOTAL_TIMEOUT) + 30
    if not generation_lock_acquire(session_id=session.pk, ttl=ttl):
        return _replay(session=session, client_msg_id=req.client_msg_id)  # Busy unless already answered
    try:
        with transaction.atomic():
            asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                   client_msg_id=req.client_msg_id, client_timestamp=req.timestamp,
                                   flags=screening_flags(screening), flag_detail=screening_detail(screening))
            if screening.level != Level.NONE:
                screening_record(session=session, message=asked, assessment=screening, source=screening.source)
            # Counted after the insert so a replay is answered from the store even when
            # the user is limited, and a limited request leaves nothing behind.
            rate_limit_enforce(scope="counseling.reply", key=f"user:{user.pk}", rate=settings.COUNSELING_RATE)
        history = history_window(session=session, limit=settings.COUNSELING_HISTORY_WINDOW, before_id=asked.pk)
    except IntegrityError:
        generation_lock_release(session_id=session.pk)
        return _replay(session=session, client_msg_id=req.client_msg_id)
    except BaseException:
        generation_lock_release(session_id=session.pk)
        raise
    return _Prepared("generate", asked=asked, history=history)


def _reply_open(*, session: ChatSession, asked: Message, emotion: str | None) -> Message:
    return message_append(session=session, role=Role.ASSISTANT, text="", status=MessageStatus.STREAMING,
                          reply_to=asked, model=_model_name(), emotion=emotion)


_prepare = database_sync_to_async(_reply_prepare)
_open = database_sync_to_async(_reply_open)
_release = sync_to_async(generation_lock_release)  # cache only


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


def _succeeded(future: asyncio.Future[T]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


async def _settled(pending: asyncio.Future[T]) -> T:
    """Await a database call that commits even if we are cancelled meanwhile.

    On cancellation the call is waited for (its result is then the caller's to undo in
    ``finally``) and the cancellation goes on.
    """
    try:
        return await asyncio.shield(pending)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await pending
        raise


async def _screen(text: str, session: ChatSession) -> Assessment:
    """The rules' level (with the last user turns when they could change it), then moderation's."""
    screening = assess(text)
    if needs_context(screening):
        previous = await run_db(user_turns_recent, session_id=session.pk, limit=3)
        screening = assess(text, previous=previous)
    if settings.LLM_MODERATION and screening.level.urgency != "urgent":
        moderated = await moderation_assess(text)
        if moderated is not None and moderated.level.rank > screening.level.rank:
            return moderated
    return screening


async def reply_stream(
    *, session: ChatSession, user: User, data: object, started: float
) -> AsyncGenerator[CounselingEvent, None]:
    """One AI reply: request errors raise ``DomainError``; everything after begin is events.

    ``session`` must be the user's own (checked when the socket attached).
    """
    req = reply_request_parse(data)
    screening = await _screen(req.message, session)
    pending = asyncio.ensure_future(_prepare(session=session, user=user, req=req, screening=screening))
    try:
        prepared = await _settled(pending)
    except asyncio.CancelledError:
        if _succeeded(pending) and pending.result().kind == "generate":
            await asyncio.shield(_release(session_id=session.pk))
        raise

    if prepared.kind == "replay":
        reply = prepared.reply
        assert reply is not None
        yield ReplyBegin(reply.pk, reply.emotion, replayed=True)
        if reply.content:
            yield ReplyChunk(reply.content)
        if reply.status == MessageStatus.FAILED:
            yield ReplyFailed(reply.pk, reply.error_code or "STREAMING_ERROR")
        else:
            yield ReplyFinished(reply.pk, reply.content, MessageStatus(reply.status), replayed=True)
        return
    if prepared.kind == "crisis":
        reply = prepared.reply
        assert reply is not None
        if prepared.decision_id is not None:
            # Before the reply goes out, so a client leaving at once cannot skip it; it
            # returns at once and its failures are logged, never raised here.
            alert_dispatch(decision_id=prepared.decision_id)
        yield ReplyBegin(reply.pk, req.emotion)
        yield ReplyChunk(reply.content)
        yield ReplyFinished(reply.pk, reply.content, MessageStatus.COMPLETE, crisis=True)
        return

    assert prepared.asked is not None
    # The request goes out now; the reply row is written while the model thinks.
    upstream = Upstream(reply_llm_request(history=prepared.history, text=req.message, emotion=req.emotion,
                                          level=screening.level),
                        tail=check_in(screening.level, earlier=[m.content for m in prepared.history[-4:]]))
    risk = risk_start(text=req.message, previous=[m.content for m in prepared.history if m.role == "user"],
                      rules=screening)
    opening: asyncio.Future[Message] | None = None
    settled = False  # the reply reached its final state and the session was released
    try:
        await upstream.accepted()
        opening = asyncio.ensure_future(_open(session=session, asked=prepared.asked, emotion=req.emotion))
        assistant = await _settled(opening)
        yield ReplyBegin(assistant.pk, req.emotion)
        async with aclosing(reply_generate(assistant=assistant, upstream=upstream, started=started)) as events:
            async for event in risk_guard(events, risk, session=session, asked_id=prepared.asked.pk,
                                          reply_id=assistant.pk, rules=screening):
                if isinstance(event, ReplyFinished | ReplyFailed):
                    # Free the session before the client hears the end, so it may ask again at once.
                    settled = True
                    await _release(session_id=session.pk)
                yield event
    finally:
        if risk is not None and not risk.done():
            risk.cancel()
        await upstream.aclose()  # a no-op once reply_generate has closed it
        if not settled and opening is not None and _succeeded(opening):
            # Closed before the generator could settle the message (a no-op if it did).
            await asyncio.shield(
                message_finalize_async(message_id=opening.result().pk, status=MessageStatus.INTERRUPTED, text="")
            )
        if not settled:
            await asyncio.shield(_release(session_id=session.pk))
