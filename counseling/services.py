"""Counseling writes: the session lifecycle and the AI reply flow."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.errors import Busy, InvalidMessage, MessageTooLong, SessionEnded
from conversations.generation import (
    ReplyChunk,
    ReplyEvent,
    ReplyFailed,
    ReplyFinished,
    message_finalize_async,
    reply_generate,
)
from conversations.llm import OFFLINE_MODEL, ChatMessage, ChatRequest, get_provider
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, Role, SessionStatus
from conversations.ratelimit import generation_lock_acquire, generation_lock_release, rate_limit_enforce
from conversations.safety import Screening, crisis_reply, screen_input
from conversations.selectors import history_window, session_get_owned
from conversations.services import message_append, message_finalize
from counseling.prompts import emotion_normalize, system_prompt

SAFETY_MODEL = "safety"

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
    session: ChatSession
    assistant: Message
    history: list[Message]
    user_text: str = ""


def _model_name() -> str:
    return settings.COUNSELING_LLM_MODEL if settings.LLM_BASE_URL else OFFLINE_MODEL


def _reply_prepare(*, session_key: str, user: User, req: ReplyRequest, screening: Screening) -> _Prepared:
    """Checks and writes before any upstream call, in one thread hop."""
    session = session_get_owned(key=session_key, user=user, product=Product.COUNSELING)
    if session.status == SessionStatus.ENDED:
        raise SessionEnded()
    if req.client_msg_id:
        earlier = Message.objects.filter(session=session, role=Role.USER, client_msg_id=req.client_msg_id).first()
        if earlier is not None:
            reply = Message.objects.filter(reply_to=earlier).first()
            if reply is None or reply.status == MessageStatus.STREAMING:
                raise Busy()
            return _Prepared("replay", session, reply, [])

    if screening.flagged:
        # A person in crisis is answered at once: no rate limit, no model, no queue.
        with transaction.atomic():
            asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                   client_msg_id=req.client_msg_id, client_timestamp=req.timestamp,
                                   flags=[Flag.CRISIS], flag_detail=f"{screening.category}: {screening.matched}")
            answer = message_append(session=session, role=Role.ASSISTANT, text=crisis_reply(screening.category or ""),
                                    reply_to=asked, model=SAFETY_MODEL, flags=[Flag.CRISIS])
        return _Prepared("crisis", session, answer, [])

    rate_limit_enforce(scope="counseling.reply", key=f"user:{user.pk}", rate=settings.COUNSELING_RATE)
    ttl = int(settings.LLM_TOTAL_TIMEOUT) + 30
    if not generation_lock_acquire(session_id=session.pk, ttl=ttl):
        raise Busy()
    try:
        with transaction.atomic():
            asked = message_append(session=session, role=Role.USER, text=req.message, emotion=req.emotion,
                                   client_msg_id=req.client_msg_id, client_timestamp=req.timestamp)
            answer = message_append(session=session, role=Role.ASSISTANT, text="", status=MessageStatus.STREAMING,
                                    reply_to=asked, model=_model_name(), emotion=req.emotion)
        history = history_window(session=session, limit=settings.COUNSELING_HISTORY_WINDOW, before_id=asked.pk)
    except IntegrityError as exc:
        generation_lock_release(session_id=session.pk)
        raise Busy() from exc  # the same client_msg_id raced in from another socket
    except BaseException:
        generation_lock_release(session_id=session.pk)
        raise
    return _Prepared("generate", session, answer, history, req.message)


def _reply_abandon(*, prepared: _Prepared) -> None:
    if prepared.kind == "generate":
        message_finalize(message_id=prepared.assistant.pk, status=MessageStatus.INTERRUPTED, text="")
        generation_lock_release(session_id=prepared.session.pk)


_prepare = database_sync_to_async(_reply_prepare)
_abandon = database_sync_to_async(_reply_abandon)
_release = sync_to_async(generation_lock_release)  # cache only


def reply_llm_request(*, prepared: _Prepared, emotion: str | None) -> ChatRequest:
    messages = [ChatMessage("system", system_prompt(emotion))]
    messages += [ChatMessage(m.role, m.content) for m in prepared.history]
    messages.append(ChatMessage("user", prepared.user_text))
    return ChatRequest(
        product=Product.COUNSELING,
        messages=tuple(messages),
        model=settings.COUNSELING_LLM_MODEL,
        temperature=settings.COUNSELING_TEMPERATURE,
        top_p=settings.COUNSELING_TOP_P,
        max_tokens=settings.COUNSELING_MAX_TOKENS,
        context={"emotion": emotion},
    )


async def _screen(text: str) -> Screening:
    screening = screen_input(text)
    if not screening.flagged and settings.LLM_MODERATION and await get_provider().moderate(text):
        return Screening(flagged=True, category="moderation", matched=None)
    return screening


async def reply_stream(
    *, session_key: str, user: User, data: object, started: float
) -> AsyncGenerator[CounselingEvent, None]:
    """One AI reply: request errors raise ``DomainError``; everything after begin is events."""
    req = reply_request_parse(data)
    screening = await _screen(req.message)
    pending = asyncio.ensure_future(_prepare(session_key=session_key, user=user, req=req, screening=screening))
    try:
        prepared = await asyncio.shield(pending)
    except asyncio.CancelledError:
        # The thread commits regardless; wait for it so no reply is left "streaming".
        with contextlib.suppress(Exception):
            await _abandon(prepared=await pending)
        raise

    assistant = prepared.assistant
    if prepared.kind == "replay":
        yield ReplyBegin(assistant.pk, assistant.emotion, replayed=True)
        if assistant.content:
            yield ReplyChunk(assistant.content)
        if assistant.status == MessageStatus.FAILED:
            yield ReplyFailed(assistant.pk, assistant.error_code or "STREAMING_ERROR")
        else:
            yield ReplyFinished(assistant.pk, assistant.content, MessageStatus(assistant.status), replayed=True)
        return
    if prepared.kind == "crisis":
        yield ReplyBegin(assistant.pk, req.emotion)
        yield ReplyChunk(assistant.content)
        yield ReplyFinished(assistant.pk, assistant.content, MessageStatus.COMPLETE, crisis=True)
        return

    terminal = released = False
    try:
        yield ReplyBegin(assistant.pk, req.emotion)
        request = reply_llm_request(prepared=prepared, emotion=req.emotion)
        async with aclosing(reply_generate(assistant=assistant, request=request, started=started)) as events:
            async for event in events:
                if isinstance(event, ReplyFinished | ReplyFailed):
                    # Free the session before the client hears the end, so it may ask again at once.
                    terminal = released = True
                    await _release(session_id=prepared.session.pk)
                yield event
    finally:
        if not terminal:
            # Closed before the generator could settle the message (a no-op if it did).
            await asyncio.shield(
                message_finalize_async(message_id=assistant.pk, status=MessageStatus.INTERRUPTED, text="")
            )
        if not released:
            await asyncio.shield(_release(session_id=prepared.session.pk))
