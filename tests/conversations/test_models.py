"""Message text is encrypted at rest; streaming replies settle in exactly one state."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from conversations.llm import Usage
from conversations.models import Message, MessageStatus
from conversations.services import message_append, message_finalize
from counseling.services import session_start

pytestmark = pytest.mark.django_db


def test_raw_sql_read_shows_no_plaintext(user: Any) -> None:
    session = session_start(user=user)
    message = message_append(session=session, role="user", text="주민번호는 비밀이고 회사가 너무 힘들어요")
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM conversations_message WHERE id = %s", [message.pk])
        (stored,) = cursor.fetchone()
    assert "회사" not in stored and "힘들어요" not in stored
    message.refresh_from_db()
    assert message.content == "주민번호는 비밀이고 회사가 너무 힘들어요"


def test_finalize_settles_once(user: Any) -> None:
    session = session_start(user=user)
    reply = message_append(session=session, role="assistant", text="", status=MessageStatus.STREAMING, model="m")
    assert reply.content == ""
    assert message_finalize(message_id=reply.pk, status=MessageStatus.COMPLETE, text="완료된 답변",
                            usage=Usage(model="gpt-x", prompt_tokens=10, completion_tokens=5), ttfc_ms=12, total_ms=80)
    done = Message.objects.get(pk=reply.pk)
    assert (done.status, done.content, done.model, done.prompt_tokens, done.completion_tokens) == (
        MessageStatus.COMPLETE, "완료된 답변", "gpt-x", 10, 5)
    assert done.completed_at is not None
    assert not message_finalize(message_id=reply.pk, status=MessageStatus.INTERRUPTED, text="")
    late = Message.objects.get(pk=reply.pk)
    assert late.status == MessageStatus.COMPLETE and late.content == "완료된 답변"


def test_an_ended_session_takes_no_user_message(user: Any) -> None:
    from conversations.errors import SessionEnded
    from counseling.services import session_end

    session = session_end(session=session_start(user=user))
    with pytest.raises(SessionEnded):
        message_append(session=session, role="user", text="아직 할 말이 있어요")
    assert not session.messages.exists()


def test_a_user_message_bumps_the_sessions_last_activity(user: Any) -> None:
    session = session_start(user=user)
    before = session.last_activity_at
    message = message_append(session=session, role="user", text="안녕하세요")
    session.refresh_from_db()
    assert before < session.last_activity_at <= message.created_at
