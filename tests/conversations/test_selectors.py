"""Reads of the shared chat domain: the LLM context window."""

from __future__ import annotations

from typing import Any

import pytest

from conversations.llm import ChatMessage
from conversations.models import Message, MessageStatus
from conversations.selectors import history_window
from conversations.services import message_append, message_finalize
from counseling.services import session_start

pytestmark = pytest.mark.django_db


def reply(session: Any, text: str, status: MessageStatus) -> Message:
    message = message_append(session=session, role="assistant", text="", status=MessageStatus.STREAMING)
    return message_finalize(message_id=message.pk, status=status, text=text)


def test_context_is_the_last_messages_oldest_first(user: Any) -> None:
    session = session_start(user=user)
    for i in range(6):
        message_append(session=session, role="user", text=f"질문 {i}")
        message_append(session=session, role="assistant", text=f"답변 {i}")
    window = history_window(session=session, limit=4)
    assert window == [ChatMessage("user", "질문 4"), ChatMessage("assistant", "답변 4"),
                      ChatMessage("user", "질문 5"), ChatMessage("assistant", "답변 5")]


def test_context_leaves_out_what_the_model_must_not_see(user: Any) -> None:
    session = session_start(user=user)
    message_append(session=session, role="user", text="처음")
    reply(session, "끝까지 한 답", MessageStatus.COMPLETE)
    hidden = message_append(session=session, role="user", text="가려진 말")
    Message.objects.filter(pk=hidden.pk).update(hidden=True)
    reply(session, "실패하기 전 일부", MessageStatus.FAILED)
    reply(session, "차단된 답", MessageStatus.BLOCKED)
    reply(session, "", MessageStatus.INTERRUPTED)  # stopped before any text
    reply(session, "멈춘 답의 앞부분", MessageStatus.INTERRUPTED)
    message_append(session=session, role="assistant", text="", status=MessageStatus.STREAMING)

    assert history_window(session=session, limit=10) == [
        ChatMessage("user", "처음"), ChatMessage("assistant", "끝까지 한 답"), ChatMessage("assistant", "멈춘 답의 앞부분"),
    ]


def test_context_stops_before_the_new_message_and_stays_in_its_session(user: Any, make_user: Any) -> None:
    session, other = session_start(user=user), session_start(user=make_user("bob"))
    message_append(session=session, role="user", text="이전 말")
    message_append(session=other, role="user", text="다른 사람의 말")
    new = message_append(session=session, role="user", text="새 말")
    assert history_window(session=session, limit=10, before_id=new.pk) == [ChatMessage("user", "이전 말")]
    assert history_window(session=session, limit=10) == [ChatMessage("user", "이전 말"), ChatMessage("user", "새 말")]
