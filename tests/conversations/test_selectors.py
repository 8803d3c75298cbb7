"""Reads of the shared chat domain: the LLM context window."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conversations.llm import ChatMessage
from conversations.models import Message, MessageStatus
from conversations.selectors import history_window, session_messages
from conversations.services import message_append, message_finalize
from counseling.services import session_start

pytestmark = pytest.mark.django_db


def reply(session: Any, text: str, status: MessageStatus) -> Message:
    message = message_append(session=session, role="assistant", text="", status=MessageStatus.STREAMING)
    message_finalize(message_id=message.pk, status=status, text=text)
    return Message.objects.get(pk=message.pk)


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


def _plan(sql: str) -> str:
    """The database's plan for ``sql``, as text; PostgreSQL is told to prefer indexes, as it
    would with a long transcript rather than this test's few rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize("read", ["history", "transcript"])
def test_a_long_session_is_read_in_order_without_sorting_it(user: Any, read: str) -> None:
    # Every reply reads the history window and counselors read whole transcripts: a sort
    # of the whole session on each read grows with the session.
    session = session_start(user=user)
    for i in range(30):
        message_append(session=session, role="user", text=f"질문 {i}")
    with CaptureQueriesContext(connection) as queries:
        if read == "history":
            history_window(session=session, limit=10)
        else:
            list(session_messages(session=session))
    plan = _plan(queries.captured_queries[-1]["sql"])
    assert "message_session_order" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan
