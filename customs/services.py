"""Customs writes and the chat turn: intent, then a JSON answer or an SSE stream."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from conversations.aio import run_db
from conversations.errors import Busy, SessionNotFound
from conversations.frames import utc_timestamp
from conversations.generation import elapsed_ms
from conversations.llm import ChatMessage
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, Role
from conversations.ratelimit import generation_lock_acquire, generation_lock_release, rate_limit_enforce_async
from conversations.risk import input_screen
from conversations.safety import CLEAR, CRISIS_REPLY, Assessment, fixed_reply
from conversations.screening import SAFETY_MODEL, screening_detail, screening_flags, screening_store
from conversations.selectors import history_window
from conversations.services import guest_key, message_append
from customs import limits
from customs.cargo import CargoMatch, recognize_cargo_numbers
from customs.hs.services import hs_body_hidden, hs_classification_turn
from customs.intent import IntentResult, intent_classify
from customs.models import JSON_INTENTS, Intent, IntentRecord
from customs.selectors import EarlierTurn, UnansweredTurn, session_find, session_hs_pending, turn_earlier

logger = logging.getLogger(__name__)

RULES_MODEL = "rules"


@dataclass(frozen=True)
class Caller:
    user: User | None
    ip: str

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


@dataclass(frozen=True)
class Turn:
    session: ChatSession
    is_new: bool
    asked: Message
    intent: IntentResult


@dataclass(frozen=True)
class StreamTurn:
    """A streamed turn before its rows exist: they are written while the model starts."""

    session: ChatSession
    is_new: bool
    text: str
    intent: IntentResult
    asked_uuid: str  # the user message's ``client_msg_id``, sent in ``message_start``
    history: list[ChatMessage] = field(default_factory=list)
    screening: Assessment = CLEAR
    # A message the screening flagged is answered with these pre-written words, not the model.
    fixed_answer: str | None = None


@dataclass(frozen=True)
class ChatOutcome:
    body: dict[str, Any] | None = None  # a JSON answer
    stream: AsyncIterator[str] | None = None  # or SSE frames


# --- sessions and messages -----------------------------------------------------------------


def session_resolve(*, session_uuid: uuid.UUID | None, user: User | None,
                    address: str) -> tuple[ChatSession, bool]:
    """The caller's session (created when new or unknown); another owner's is "not found".

    Guests' sessions belong to no user and are addressed by their unguessable UUID alone;
    a signed-in user's session answers only to that user. A guest's new session keeps a
    keyed hash of their ``address``, so that alerts on them coalesce across sessions.
    """
    key = str(session_uuid or uuid.uuid4())
    session = session_find(key=key) if session_uuid else None
    created = False
    if session is None:
        try:
            with transaction.atomic():
                # Untitled: a title is plain text, and the user's words are kept encrypted only.
                session = ChatSession.objects.create(
                    key=key, product=Product.CUSTOMS, user=user,
                    guest_key="" if user is not None else guest_key(address=address))
                created = True
        except IntegrityError:
            session = session_find(key=key)  # created meanwhile, or a key of another product
            if session is None:
                raise SessionNotFound() from None
    if session.user_id != (user.pk if user else None):
        raise SessionNotFound()
    return session, created


def _asked_store(*, session: ChatSession, text: str, intent: IntentResult, screening: Assessment,
                 client_msg_id: str) -> Message:
    """The user's message with its screening and intent; an urgent level alerts the on-call staff."""
    asked = message_append(session=session, role=Role.USER, text=text, client_msg_id=client_msg_id,
                           flags=screening_flags(screening), flag_detail=screening_detail(screening),
                           usage=intent.usage and replace(intent.usage, model=""))  # (tokens, not a model's words)
    IntentRecord.objects.create(session=session, message=asked, intent=intent.intent,
                                confidence=intent.confidence, method=intent.method, entities=intent.entities)
    screening_store(session=session, message=asked, assessment=screening)
    return asked


def turn_store(*, session: ChatSession, is_new: bool, text: str, intent: IntentResult,
               screening: Assessment, client_msg_id: str) -> Turn:
    """A JSON turn's user message and how it was classified, before it is answered."""
    with transaction.atomic():
        asked = _asked_store(session=session, text=text, intent=intent, screening=screening,
                             client_msg_id=client_msg_id)
    return Turn(session=session, is_new=is_new, asked=asked, intent=intent)


def _session_and_earlier(*, session_uuid: uuid.UUID | None, user: User | None, address: str,
                         client_msg_id: str | None) -> tuple[ChatSession, bool, EarlierTurn | UnansweredTurn | None]:
    session, created = session_resolve(session_uuid=session_uuid, user=user, address=address)
    if created or client_msg_id is None:
        return session, created, None
    return session, created, turn_earlier(session=session, client_msg_id=client_msg_id)


def turn_history(*, session: ChatSession) -> list[ChatMessage]:
    """A streamed answer's context: the session's earlier turns (read under its turn lock)."""
    if settings.CUSTOMS_HISTORY_WINDOW <= 0:
        return []
    return history_window(session=session, limit=settings.CUSTOMS_HISTORY_WINDOW)


def turn_rows(*, turn: StreamTurn, reply_uuid: str, model: str, started: float) -> Message:
    """A streamed turn's user message, its intent and the reply's row, in one transaction;
    the reply's row is returned: ``streaming``, or a fixed answer already complete."""
    with transaction.atomic():
        asked = _asked_store(session=turn.session, text=turn.text, intent=turn.intent, screening=turn.screening,
                             client_msg_id=turn.asked_uuid)
        if turn.fixed_answer is not None:
            elapsed = elapsed_ms(started)  # all of it goes out in one piece once stored
            return message_append(session=turn.session, role=Role.ASSISTANT, text=turn.fixed_answer,
                                  reply_to=asked, model=SAFETY_MODEL, flags=[Flag.CRISIS], client_msg_id=reply_uuid,
                                  ttfc_ms=elapsed, total_ms=elapsed)
        return message_append(session=turn.session, role=Role.ASSISTANT, text="", status=MessageStatus.STREAMING,
                              reply_to=asked, model=model, client_msg_id=reply_uuid)


def answer_store(*, turn: Turn, text: str, model: str, elapsed: int) -> Message:
    """A JSON turn's answer, kept in the transcript as text; sent whole, so both timings are
    ``elapsed``."""
    return message_append(session=turn.session, role=Role.ASSISTANT, text=text, reply_to=turn.asked, model=model,
                          client_msg_id=str(uuid.uuid4()), ttfc_ms=elapsed, total_ms=elapsed)


# --- cargo -------------------------------------------------------------------------------------

CARGO_SUGGESTIONS = [
    "화물번호를 정확히 입력해주세요.",
    "예시: MSCU1234566 (컨테이너 번호)",
    "예시: 1234-5678-9012 (추적번호)",
    "예시: 180-12345675 (항공화물운송장)",
    "예시: 24KMTC0123I-0001-0000 (화물관리번호)",
]


def _cargo_message(primary: CargoMatch, others: list[CargoMatch]) -> str:
    text = f"화물번호 '{primary.number}'을(를) 인식했습니다. 통관 정보를 조회하고 있습니다."
    if primary.note:
        text += f" 참고: {primary.note}"
    if others:
        listed = ", ".join(f"{m.number}({m.label})" for m in others)
        text += f" 함께 인식된 번호: {listed}"
    return text


def cargo_body(*, message: str, session_uuid: str, user_id: int | None, started: float) -> dict[str, Any]:
    """The seed's cargo_tracking JSON, success or error, field for field."""
    matches = recognize_cargo_numbers(message)
    if not matches:
        return {
            "intent_type": Intent.CARGO_TRACKING.value,
            "status": "error",
            "error_code": "CARGO_NUMBER_NOT_FOUND",
            "error_message": "메시지에서 화물번호를 찾을 수 없습니다.",
            "original_message": message,
            "session_uuid": session_uuid,
            "user_id": user_id,
            "suggestions": CARGO_SUGGESTIONS,
            "retry_available": True,
            "processed_at": utc_timestamp(),
        }
    primary, others = matches[0], matches[1:]
    patterns = list(dict.fromkeys(m.pattern for m in matches))
    return {
        "intent_type": Intent.CARGO_TRACKING.value,
        "status": "success",
        "message": _cargo_message(primary, others),
        "cargo_data": {
            "cargo_number": primary.number,
            "cargo_type": primary.label,
            "extracted_patterns": patterns,
            "confidence_score": primary.confidence,
        },
        "spring_endpoint": "/api/cargo/tracking",
        "session_uuid": session_uuid,
        "user_id": user_id,
        "processed_at": utc_timestamp(),
        "processing_time_ms": elapsed_ms(started),
        "error_code": None,
        "error_details": None,
    }


# --- the turn ------------------------------------------------------------------------------


def turn_replay(*, earlier: EarlierTurn, session: ChatSession, user_id: int | None, started: float) -> ChatOutcome:
    """A retried turn answered again from the store: the HS answer's JSON as it was sent, the
    cargo JSON rebuilt from the stored message (the rules read it alone), or the stored
    reply as a stream."""
    if earlier.hs_body is not None:
        return ChatOutcome(body=hs_body_hidden(body=earlier.hs_body) if earlier.reply.hidden else earlier.hs_body)
    if earlier.intent == Intent.CARGO_TRACKING and earlier.reply.model == RULES_MODEL:
        return ChatOutcome(body=cargo_body(message=earlier.asked.content, session_uuid=session.key,
                                           user_id=user_id, started=started))
    from customs.stream import answer_replay

    return ChatOutcome(stream=answer_replay(earlier=earlier, session_uuid=session.key))


async def chat_turn(*, caller: Caller, message: str, session_uuid: uuid.UUID | None, started: float,
                    client_msg_id: str | None = None) -> ChatOutcome:
    """Classify, store, and answer one message. Domain errors (rate, busy, not found) raise.

    A ``client_msg_id`` the session already has is a retry: the stored answer is sent
    again, and no model is asked (platform.md).
    """
    key, rate = limits.caller_rate(user_id=caller.user_id, ip=caller.ip)
    over_limit = await rate_limit_enforce_async(scope="customs.chat", key=key, rate=rate, text=message)
    resolving = asyncio.ensure_future(run_db(_session_and_earlier, session_uuid=session_uuid, user=caller.user,
                                             address=caller.ip, client_msg_id=client_msg_id))
    if client_msg_id is not None and session_uuid is not None:
        # Looked up before the intent classifier can ask a model.
        session, _, earlier = await resolving
        if isinstance(earlier, EarlierTurn):
            return turn_replay(earlier=earlier, session=session, user_id=caller.user_id, started=started)
        if earlier is not None:
            return await _unanswered_turn(earlier=earlier, session=session, caller=caller, started=started)
    # Over the limit, a flagged message costs no model call: its answer is pre-written.
    classifying = asyncio.ensure_future(intent_classify(message, rules_only=over_limit is not None))
    screening_task = asyncio.ensure_future(input_screen(message, screened=over_limit))
    try:
        session, is_new, _ = await resolving
    except BaseException:
        classifying.cancel()
        screening_task.cancel()
        raise
    intent = await classifying
    screening = await screening_task
    if session_hs_pending(session) and not recognize_cargo_numbers(message):
        # The seed's staged HS dialogue: the answer to its question continues it (only a
        # cargo number breaks out: "반입 예정인 배터리" is still about the product).
        intent = IntentResult(Intent.HSCODE_CLASSIFICATION, 1.0, IntentRecord.Method.HS_STAGE, intent.entities,
                              usage=intent.usage)
    owner = secrets.token_hex(8)
    if not await generation_lock_acquire(session_id=session.pk, owner=owner) and not screening.flagged:
        # (A flagged message is answered in pre-written words beside the answer in flight;
        # releasing a lock it never took changes nothing.)
        raise Busy()
    released = False
    try:
        if screening.flagged or intent.intent not in JSON_INTENTS:
            from customs.stream import answer_stream

            # A person at risk (or someone they worry about) is answered in words written
            # for it, whatever else the message asks; the model is not asked.
            fixed = (fixed_reply(screening.level) or CRISIS_REPLY) if screening.flagged else None
            history = [] if is_new or fixed else await run_db(turn_history, session=session)
            streamed = StreamTurn(session=session, is_new=is_new, text=message, intent=intent,
                                  asked_uuid=client_msg_id or str(uuid.uuid4()), history=history,
                                  screening=screening,
                                  fixed_answer=fixed)
            released = True  # the stream releases the session when it ends
            return ChatOutcome(stream=answer_stream(turn=streamed, started=started, lock_owner=owner))
        turn = await run_db(turn_store, session=session, is_new=is_new, text=message, intent=intent,
                            screening=screening, client_msg_id=client_msg_id or str(uuid.uuid4()))
        return ChatOutcome(body=await _json_answer(turn=turn, caller=caller, started=started))
    finally:
        if not released:
            await asyncio.shield(generation_lock_release(session_id=session.pk, owner=owner))


async def _json_answer(*, turn: Turn, caller: Caller, started: float) -> dict[str, Any]:
    """A stored message's JSON answer (cargo or HS), stored as the turn's reply."""
    message, intent = turn.asked.content, turn.intent.intent
    if intent == Intent.CARGO_TRACKING:
        body = cargo_body(message=message, session_uuid=turn.session.key, user_id=caller.user_id, started=started)
        await run_db(answer_store, turn=turn, text=str(body.get("message") or body["error_message"]),
                     model=RULES_MODEL, elapsed=elapsed_ms(started))
    else:
        # It keeps the stage and stores its own answer and result.
        body = await hs_classification_turn(session=turn.session, message=message, user_id=caller.user_id,
                                            user_message=turn.asked, started=started)
    logger.info("customs json answer: intent=%s session=%s", intent, turn.session.key)
    return body


async def _unanswered_turn(*, earlier: UnansweredTurn, session: ChatSession, caller: Caller,
                           started: float) -> ChatOutcome:
    """A retry of a message whose JSON answer was never stored. Busy while its turn holds
    the session; once the lease is free (the process answering it died, or its answer
    failed before it was stored) it is answered now, from the stored message: no second
    copy of it, and no intent classifier."""
    if earlier.intent not in JSON_INTENTS:
        raise Busy()  # (a streamed turn stores its reply's row with the message)
    owner = secrets.token_hex(8)
    if not await generation_lock_acquire(session_id=session.pk, owner=owner):
        raise Busy()
    try:
        # Answered meanwhile, just before its turn let the session go?
        again = await run_db(turn_earlier, session=session, client_msg_id=earlier.asked.client_msg_id or "")
        if isinstance(again, EarlierTurn):
            return turn_replay(earlier=again, session=session, user_id=caller.user_id, started=started)
        turn = Turn(session=session, is_new=False, asked=earlier.asked,
                    intent=IntentResult(Intent(earlier.intent), 1.0, IntentRecord.Method.RULES, {}))
        return ChatOutcome(body=await _json_answer(turn=turn, caller=caller, started=started))
    finally:
        await asyncio.shield(generation_lock_release(session_id=session.pk, owner=owner))
