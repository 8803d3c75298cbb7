"""The agent's view of a session's history: what earlier questions go to the model."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from conversations.models import Message, MessageStatus
from conversations.safety import CLEAR
from conversations.services import message_finalize
from maice import selectors, services
from maice.models import MaiceQuestion
from maice.steps import Improvement

pytestmark = pytest.mark.django_db


def ask(user: Any, question: str, *, session_id: int | None, status: MessageStatus | None, answer: str = "",
        improved: str | None = None) -> MaiceQuestion:
    accepted = services.chat_accept(user=user, question=question, screening=CLEAR, session_id=session_id, mode="agent")
    if improved:
        services.improvement_store(question_id=accepted.question_id, improvement=Improvement(improved, False))
    q = MaiceQuestion.objects.get(pk=accepted.question_id)
    if status is not None:
        reply = services.answer_open(question_id=q.pk, reply_to_id=q.asked_id)
        message_finalize(message_id=reply.pk, status=status, text=answer)
    services.request_finish(request_id=accepted.request_id, outcome="summary_complete")
    return MaiceQuestion.objects.get(pk=q.pk)


def test_history_holds_the_completed_answers_before_the_question_oldest_first(user: Any) -> None:
    first = ask(user, "x^2-4=0 풀어 주세요", session_id=None, status=MessageStatus.COMPLETE, answer="x=±2 입니다.")
    session_id = first.session_id
    ask(user, "미분은요?", session_id=session_id, status=MessageStatus.INTERRUPTED, answer="도함수는")
    ask(user, "그래프", session_id=session_id, status=MessageStatus.COMPLETE, answer="포물선입니다.",
        improved="y=x^2 그래프를 그리는 법")
    hidden = ask(user, "적분은요?", session_id=session_id, status=MessageStatus.COMPLETE, answer="숨긴 답")
    Message.objects.filter(pk=hidden.answer_id).update(hidden=True)
    current = ask(user, "극한은요?", session_id=session_id, status=None)

    assert selectors.history_pairs(session_id=session_id, before_id=current.pk) == [
        {"question": "x^2-4=0 풀어 주세요", "answer": "x=±2 입니다."},
        {"question": "y=x^2 그래프를 그리는 법", "answer": "포물선입니다."},
    ]
    with override_settings(MAICE_HISTORY_WINDOW=1):
        assert selectors.history_pairs(session_id=session_id, before_id=current.pk) == [
            {"question": "y=x^2 그래프를 그리는 법", "answer": "포물선입니다."}]
    assert selectors.history_pairs(session_id=session_id, before_id=first.pk) == []
