"""MAICE writes: accepting a question, and everything the agent stores on the session.

Plain sync functions; async callers run them through ``conversations.aio.run_db``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from conversations.errors import Busy, SessionNotFound
from conversations.llm import OFFLINE_MODEL, Usage
from conversations.models import ChatSession, Message, MessageStatus, Product, Role
from conversations.safety import Assessment
from conversations.screening import screening_detail, screening_flags, screening_store
from conversations.services import message_append, message_finalize, message_usage_add
from maice.models import (
    MaiceAssignment,
    MaiceClarification,
    MaiceQuestion,
    MaiceRequest,
    Mode,
    QuestionStatus,
)
from maice.steps import Classification, Improvement, Summary

# --- modes -----------------------------------------------------------------------------------


def mode_assign(*, user: User) -> str:
    """The user's mode when the request names none (``MAICE_MODE_ASSIGNMENT``).

    ``ab``: the first request stores the arm with fewer users so far (ties go to agent),
    so the two arms stay balanced and a user's arm never changes.
    """
    if settings.MAICE_MODE_ASSIGNMENT != "ab":
        return Mode.AGENT
    existing = MaiceAssignment.objects.filter(user=user).values_list("mode", flat=True).first()
    if existing:
        return existing
    with transaction.atomic():
        counts = dict(MaiceAssignment.objects.values_list("mode").annotate(n=Count("id")).values_list("mode", "n"))
        mode = Mode.FREEPASS if counts.get(Mode.FREEPASS, 0) < counts.get(Mode.AGENT, 0) else Mode.AGENT
        try:
            with transaction.atomic():
                MaiceAssignment.objects.create(user=user, mode=mode)
        except IntegrityError:  # a concurrent first request stored it
            return MaiceAssignment.objects.get(user=user).mode
    return mode


# --- accepting a question ------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    request_id: str
    session_id: int
    question_id: int
    kind: str  # "question" | "clarification"
    mode: str
    # A repeated client_msg_id: the request it opened (nothing new was stored or queued).
    earlier: MaiceRequest | None = None

    def job(self) -> dict[str, Any]:
        # ``chunk_gap``: the web side's limit between chunks, so the agent knows how often a
        # formula it is still writing must be reported (``maice.events.PROGRESS``).
        return {"request_id": self.request_id, "session_id": self.session_id, "question_id": self.question_id,
                "kind": self.kind, "mode": self.mode, "chunk_gap": settings.MAICE_CHUNK_TIMEOUT}


def _model_name() -> str:
    return settings.MAICE_LLM_MODEL if settings.LLM_BASE_URL else OFFLINE_MODEL


def _accepted_again(earlier: MaiceRequest) -> Accepted:
    return Accepted(earlier.request_id, earlier.session_id, earlier.question_id, earlier.kind, earlier.mode,
                    earlier=earlier)


class SessionBusy(Busy):
    """A question of the session is still being answered (``request_id``)."""

    def __init__(self, *, session_id: int, request_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.request_id = request_id


def chat_accept(*, user: User, question: str, screening: Assessment, session_id: int | None, mode: str | None,
                client_msg_id: str | None = None) -> Accepted:
    """Store the student's message with its ``screening`` and open a request for the agent.

    The student's next message on a session whose question waits for clarification is
    the reply to it (agent mode); a freepass message answers directly instead. A message
    the screening flags opens a new question, which the agent answers with a fixed reply
    (an urgent one alerts the on-call staff), even while another question is answered. A
    ``client_msg_id`` the session already has names the request it opened: that one is
    returned (``earlier``), so a retried POST never asks the model twice.
    """
    chosen = mode or mode_assign(user=user)
    with transaction.atomic():
        if session_id is None:
            if client_msg_id is not None:
                # A retried first question: its response (and so its session id) was lost.
                earlier = (MaiceRequest.objects.filter(user_id=user.pk, asked__client_msg_id=client_msg_id)
                           .order_by("-created_at").first())
                if earlier is not None:
                    return _accepted_again(earlier)
            session = ChatSession.objects.create(key=f"maice_{secrets.token_urlsafe(18)}", product=Product.MAICE,
                                                 user=user)
        else:
            # Locked: two requests on one session must not both pass the busy check.
            found = (ChatSession.objects.select_for_update()
                     .filter(pk=session_id, product=Product.MAICE, user_id=user.pk).first())
            if found is None:
                raise SessionNotFound()
            session = found
            if client_msg_id is not None:
                earlier = MaiceRequest.objects.filter(session=session, asked__client_msg_id=client_msg_id).first()
                if earlier is not None:
                    return _accepted_again(earlier)
            recent = timezone.now() - timedelta(seconds=settings.MAICE_CONNECTION_TIMEOUT + 5)
            open_requests = list(MaiceRequest.objects.filter(session=session, finished_at__isnull=True)
                                 .values_list("request_id", "created_at"))
            running = [rid for rid, created in open_requests if created >= recent]
            if running and not screening.flagged:  # (a flagged one is answered beside it)
                raise SessionBusy(session_id=session.pk, request_id=running[0])
            for stale, _created in open_requests:
                # Outlived every timeout: its process died (a web process without Redis, or
                # the web side and the agent both). Its answer must not stay "streaming".
                request_settle(request_id=stale, outcome="AGENT_UNAVAILABLE", error_code="AGENT_UNAVAILABLE")
        asked = message_append(session=session, role=Role.USER, text=question, flags=screening_flags(screening),
                               flag_detail=screening_detail(screening), client_msg_id=client_msg_id)
        screening_store(session=session, message=asked, assessment=screening)
        pending = (MaiceQuestion.objects.filter(session=session, status=QuestionStatus.CLARIFYING)
                   .order_by("-created_at").first())
        if pending is not None and chosen == Mode.AGENT and not screening.flagged:
            clarification = pending.clarifications.order_by("-round").first()
            if clarification is not None and clarification.reply_id is None:
                clarification.reply = asked
                clarification.save(update_fields=["reply"])
            pending.status = QuestionStatus.ANSWERING
            pending.save(update_fields=["status"])
            target, kind = pending, "clarification"
        else:
            if pending is not None:
                MaiceQuestion.objects.filter(pk=pending.pk).update(status=QuestionStatus.SUPERSEDED)
            target = MaiceQuestion.objects.create(session=session, asked=asked, mode=chosen)
            kind = "question"
        request = MaiceRequest.objects.create(request_id=secrets.token_hex(16), session=session, user=user,
                                              question=target, asked=asked, mode=target.mode, kind=kind)
    return Accepted(request.request_id, session.pk, target.pk, kind, target.mode)


# --- the agent's writes ---------------------------------------------------------------------


def classification_store(*, question_id: int, classification: Classification) -> None:
    MaiceQuestion.objects.filter(pk=question_id).update(
        knowledge_code=classification.knowledge_code, quality=classification.quality,
        unit_tags=classification.unit_tags, reasoning=classification.reasoning,
        classified_by=classification.source,
    )


def clarification_open(*, question_id: int, round: int, questions: list[str], elapsed: int | None = None,
                       usage: Usage | None = None) -> None:
    """The tutor's clarifying questions: a message of the transcript and a round. The
    message carries the request's timing and the tokens of the calls that led to it
    (classification, clarification)."""
    question = MaiceQuestion.objects.select_related("session").get(pk=question_id)
    with transaction.atomic():
        asked = message_append(session=question.session, role=Role.ASSISTANT, text="\n".join(questions),
                               model=_model_name(), ttfc_ms=elapsed, total_ms=elapsed, usage=usage)
        MaiceClarification.objects.create(question=question, round=round, asked=asked, questions=questions)
        MaiceQuestion.objects.filter(pk=question_id).update(status=QuestionStatus.CLARIFYING)


def improvement_store(*, question_id: int, improvement: Improvement) -> None:
    question = MaiceQuestion.objects.get(pk=question_id)
    question.improved_question = improvement.improved_question
    question.save(update_fields=["improved_question"])


def answer_open(*, question_id: int, reply_to_id: int) -> Message:
    question = MaiceQuestion.objects.select_related("session").get(pk=question_id)
    with transaction.atomic():
        reply_to = Message.objects.filter(pk=reply_to_id, reply__isnull=True).first()
        answer = message_append(session=question.session, role=Role.ASSISTANT, text="",
                                status=MessageStatus.STREAMING, reply_to=reply_to, model=_model_name())
        MaiceQuestion.objects.filter(pk=question_id).update(answer=answer, status=QuestionStatus.ANSWERING)
    return answer


def answer_type_store(*, question_id: int, answer_type: str, status: str = QuestionStatus.ANSWERED) -> None:
    MaiceQuestion.objects.filter(pk=question_id).update(answer_type=answer_type, status=status)


def summary_store(*, question_id: int, summary: Summary, usage: Usage | None = None) -> None:
    """The question's summary; the summary call's tokens are billed to its answer (the
    quality page counts tokens per message)."""
    with transaction.atomic():
        MaiceQuestion.objects.filter(pk=question_id).update(summary=summary.summary, title=summary.title,
                                                            key_concepts=summary.key_concepts)
        session_id, answer_id = MaiceQuestion.objects.values_list("session_id", "answer_id").get(pk=question_id)
        # The session is named once, by its first summary. Locked and read back: the title
        # is encrypted, so "still untitled" cannot be a condition of the UPDATE.
        untitled = not ChatSession.objects.select_for_update().only("title").get(pk=session_id).title
        if untitled:
            ChatSession.objects.filter(pk=session_id).update(title=summary.title)
        if usage is not None and answer_id is not None:
            message_usage_add(message_id=answer_id, usage=usage)


def question_status_set(*, question_id: int, status: str) -> None:
    MaiceQuestion.objects.filter(pk=question_id).update(status=status)


def request_finish(*, request_id: str, outcome: str) -> None:
    """The request's stream has its terminal event; the session takes new questions."""
    MaiceRequest.objects.filter(request_id=request_id, finished_at__isnull=True).update(
        finished_at=timezone.now(), outcome=outcome[:32])


def request_settle(*, request_id: str, outcome: str, error_code: str, text: str | None = None) -> None:
    """The web side gave up on a request (timeout, stop with no agent): its answer, if one
    was streaming, ends ``failed`` or ``interrupted`` with what was shown; later agent
    writes change nothing."""
    request = MaiceRequest.objects.select_related("question").filter(request_id=request_id).first()
    if request is None:
        return
    question = request.question
    status = MessageStatus.INTERRUPTED if error_code == "CANCELLED" else MessageStatus.FAILED
    if question.answer_id is not None:
        answer = Message.objects.filter(pk=question.answer_id, status=MessageStatus.STREAMING).first()
        if answer is not None:
            message_finalize(message_id=answer.pk, status=status, text=text if text is not None else answer.content,
                             error_code="" if status == MessageStatus.INTERRUPTED else error_code)
    if question.status in (QuestionStatus.CLASSIFYING, QuestionStatus.ANSWERING):
        question_status_set(question_id=question.pk, status=QuestionStatus.CANCELLED
                            if status == MessageStatus.INTERRUPTED else QuestionStatus.FAILED)
    request_finish(request_id=request_id, outcome=outcome)
