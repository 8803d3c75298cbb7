"""MAICE reads: ownership checks, the agent's view of a request, session history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from encrypted_fields.fields import EncryptedTextField

from conversations.errors import NotFound, SessionNotFound
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, ScreeningDecision
from conversations.safety import CRISIS_REPLY, Level, fixed_reply
from conversations.selectors import encrypted_read, message_text_read
from maice.models import MaiceClarification, MaiceQuestion, MaiceRequest
from maice.steps import Classification


class RequestNotFound(NotFound):
    code = "REQUEST_NOT_FOUND"
    message = "요청을 찾을 수 없습니다."


def session_get_owned(*, session_id: int, user: User) -> ChatSession:
    session = ChatSession.objects.filter(pk=session_id, product=Product.MAICE, user_id=user.pk).first()
    if session is None:
        raise SessionNotFound()
    return session


def request_get_owned(*, request_id: str, user: User) -> MaiceRequest:
    request = MaiceRequest.objects.filter(request_id=request_id, user_id=user.pk).first()
    if request is None:
        raise RequestNotFound()
    return request


def request_latest(*, user: User) -> MaiceRequest:
    request = MaiceRequest.objects.filter(user_id=user.pk).order_by("-created_at", "-id").first()
    if request is None:
        raise RequestNotFound("진행 중이거나 최근에 받은 답변이 없습니다.")
    return request


# --- the agent's view ------------------------------------------------------------------------


@dataclass
class AgentState:
    question_id: int
    question: str  # the student's own words
    mode: str
    # The pre-written answer to a question the screening flagged (no model is asked), else None.
    fixed_answer: str | None
    classification: Classification | None
    improved_question: str | None
    # Finished rounds and the current one: [{"questions": [...], "answer": "..."}]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    # Earlier answered questions of the session, oldest first.
    history: list[dict[str, str]] = field(default_factory=list)
    last_user_message_id: int = 0


def agent_state(*, question_id: int) -> AgentState:
    question = MaiceQuestion.objects.select_related("asked").get(pk=question_id)
    classification = None
    if question.knowledge_code:
        classification = Classification(question.knowledge_code, question.quality, list(question.unit_tags),
                                        question.reasoning, question.classified_by or "llm")
    rounds, last_user = [], question.asked_id
    for clarification in question.clarifications.select_related("reply").order_by("round"):
        reply = clarification.reply
        rounds.append({"questions": list(clarification.questions),
                       "answer": reply.content if reply is not None and not reply.hidden else ""})
        if clarification.reply_id:
            last_user = clarification.reply_id
    return AgentState(
        question_id=question.pk, question=question.asked.content, mode=question.mode,
        fixed_answer=_fixed_answer(question.asked), classification=classification,
        improved_question=question.improved_question, rounds=rounds,
        history=history_pairs(session_id=question.session_id, before_id=question.pk),
        last_user_message_id=last_user,
    )


def _fixed_answer(asked: Message) -> str | None:
    """The reply for the highest level the screening stored: its own words for violence,
    abuse or someone else at risk, the crisis reply for the student at risk."""
    if Flag.CRISIS not in (asked.flags or []):
        return None
    level = (ScreeningDecision.objects.filter(message=asked).order_by("-rank")
             .values_list("level", flat=True).first())
    return (fixed_reply(Level(level)) if level else None) or CRISIS_REPLY


_PAIRS_SQL = f"""
    SELECT q.improved_question, asked.text, answer.text
    FROM {MaiceQuestion._meta.db_table} q
    JOIN {Message._meta.db_table} asked ON asked.id = q.asked_id
    JOIN {Message._meta.db_table} answer ON answer.id = q.answer_id
    WHERE q.session_id = %s AND q.id < %s AND answer.status = %s AND NOT asked.hidden AND NOT answer.hidden
    ORDER BY q.id DESC
    LIMIT %s
"""
_QUESTION_FIELD = cast(EncryptedTextField, MaiceQuestion._meta.get_field("improved_question"))


def history_pairs(*, session_id: int, before_id: int) -> list[dict[str, str]]:
    """The last ``MAICE_HISTORY_WINDOW`` answered questions before this one, oldest first."""
    limit = settings.MAICE_HISTORY_WINDOW
    if limit <= 0:
        return []
    # Plain SQL: the agent reads this before every question's first model call, and the
    # ORM spent most of the read building the three-table query (about 2 of 4.5 ms).
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL, [session_id, before_id, MessageStatus.COMPLETE.value, limit])
        rows = cursor.fetchall()
    return [{"question": encrypted_read(_QUESTION_FIELD, improved) or message_text_read(asked),
             "answer": message_text_read(answer)} for improved, asked, answer in reversed(rows)]


# --- history for students ---------------------------------------------------------------------


def sessions_of(*, user: User) -> QuerySet[ChatSession]:
    shown = Count("maice_questions", filter=Q(maice_questions__asked__hidden=False))
    return (ChatSession.objects.filter(product=Product.MAICE, user_id=user.pk)
            .annotate(question_count=shown).order_by("-last_activity_at", "-id"))


def session_questions(*, session: ChatSession, include_hidden: bool = False) -> list[MaiceQuestion]:
    """The session's questions: for its student, a question whose message a moderator hid
    is left out (with what was derived from it, as a hidden answer or reply is in
    ``question_data``); staff see them all."""
    rounds = Prefetch("clarifications", queryset=MaiceClarification.objects.select_related("asked", "reply"))
    questions = MaiceQuestion.objects.filter(session=session)
    if not include_hidden:
        questions = questions.filter(asked__hidden=False)
    return list(questions.select_related("asked", "answer").prefetch_related(rounds).order_by("created_at", "id"))


def request_replayable(*, request: MaiceRequest) -> bool:
    """Whether a request's events may be sent again: not once a moderator hid a message of
    its question (the question, a clarification round, the answer), whose words they hold."""
    question = MaiceQuestion.objects.filter(pk=request.question_id)
    if question.filter(Q(asked__hidden=True) | Q(answer__hidden=True)).exists():
        return False
    rounds = MaiceClarification.objects.filter(question_id=request.question_id)
    return not rounds.filter(Q(asked__hidden=True) | Q(reply__hidden=True)).exists()


@dataclass(frozen=True)
class SessionSummary:
    latest: str | None  # the latest summary the student may see
    title_withheld: bool  # the title came from a question a moderator hid


def session_summaries(*, session_ids: list[int]) -> dict[int, SessionSummary]:
    """What the sessions' summaries leave the student. A summary is written from its answer,
    so it goes with a hidden question or answer (``question_data``); a session is named by its
    first summary (``services.summary_store``), so that title goes with it too."""
    latest: dict[int, str | None] = {}
    withheld: dict[int, bool] = {}
    rows = (MaiceQuestion.objects.filter(session_id__in=session_ids, summary__isnull=False)
            .order_by("session_id", "created_at", "id")
            .values_list("session_id", "summary", "asked__hidden", "answer__hidden"))
    for session_id, summary, asked_hidden, answer_hidden in rows:
        hidden = bool(asked_hidden or answer_hidden)
        withheld.setdefault(session_id, hidden)
        latest.setdefault(session_id, None)
        if not hidden:
            latest[session_id] = summary or ""
    return {pk: SessionSummary(latest[pk], withheld[pk]) for pk in withheld}
