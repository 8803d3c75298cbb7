"""Request bodies and history payloads of the MAICE API."""

from __future__ import annotations

from typing import Any, Literal, TypeGuard

from django.conf import settings
from ninja import Schema
from pydantic import AliasChoices, Field, field_validator

from conversations.frames import utc_timestamp
from conversations.models import ChatSession, Message
from maice.models import MaiceQuestion
from maice.selectors import SessionSummary


class ChatIn(Schema):
    # ``message`` is accepted as an alias (spec).
    question: str = Field(validation_alias=AliasChoices("question", "message"))
    session_id: int | None = Field(default=None, gt=0)
    mode: Literal["agent", "freepass"] | None = None
    # The same id again on the session replays that question's stream (platform.md).
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("question")
    @classmethod
    def _question_length(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("질문을 입력해 주세요.")
        limit = settings.MAICE_QUESTION_MAX_CHARS
        if len(value) > limit:
            raise ValueError(f"질문은 {limit}자까지 보낼 수 있습니다. (현재 {len(value)}자)")
        return value


def _iso(value: Any) -> str | None:
    return utc_timestamp(value) if value else None


def session_row(session: ChatSession, *, summary: SessionSummary | None) -> dict[str, Any]:
    return {
        "session_id": session.pk,
        "title": "" if summary is not None and summary.title_withheld else session.title,
        "summary": summary.latest if summary is not None else None,
        "question_count": getattr(session, "question_count", None),
        "started_at": _iso(session.started_at),
        "last_activity_at": _iso(session.last_activity_at),
    }


def question_data(question: MaiceQuestion, *, include_hidden: bool = False) -> dict[str, Any]:
    """A question as its student sees it, or with ``include_hidden`` as staff do. For the
    student, what a moderator hid is gone with what was written from it: a hidden answer
    takes the summary, title and key concepts with it; a hidden reply to a clarification
    takes the improved question."""

    def shown(message: Message | None) -> TypeGuard[Message]:
        return message is not None and (include_hidden or not message.hidden)

    answer = question.answer if shown(question.answer) else None
    rounds = [c for c in question.clarifications.all() if include_hidden or not c.asked.hidden]
    replies_shown = all(c.reply is None or shown(c.reply) for c in rounds)
    return {
        "question_id": question.pk,
        "question": question.asked.content,
        "mode": question.mode,
        "status": question.status,
        "classification": question.classification(),
        "clarifications": [
            {"round": c.round, "questions": list(c.questions), "answer": c.reply.content if shown(c.reply) else None}
            for c in rounds
        ],
        "improved_question": question.improved_question if replies_shown else None,
        "answer": None if answer is None else {
            "text": answer.content, "status": answer.status, "answer_type": question.answer_type or None,
            "model": answer.model, "ttfc_ms": answer.ttfc_ms, "total_ms": answer.total_ms,
        },
        "summary": question.summary if answer is not None else None,
        "title": question.title if answer is not None else "",
        "key_concepts": list(question.key_concepts) if answer is not None else [],
        "created_at": _iso(question.created_at),
    }
