"""GET /api/maice/sessions[/{id}]: the caller's history, nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from conversations.safety import CLEAR
from conversations.services import token_issue
from tests.maice.test_admin import answered

pytestmark = pytest.mark.django_db


def test_sessions_list_and_detail(client: Any, user: Any, token: str, make_user: Any) -> None:
    q = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    other = answered(make_user("bob"), "남의 질문", code="K1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    listed = client.get("/api/maice/sessions", **headers).json()["sessions"]
    assert [s["session_id"] for s in listed] == [q.session_id]
    assert listed[0]["title"] == "이차함수 그래프" and listed[0]["summary"] == "그래프 그리기 학습"
    assert listed[0]["question_count"] == 1
    detail = client.get(f"/api/maice/sessions/{q.session_id}", **headers).json()
    [question] = detail["questions"]
    assert question["question"] == "그래프 어떻게 그려요?"
    assert question["classification"] == {"knowledge_code": "K3", "quality": "needs_clarify",
                                          "unit_tags": ["이차함수"], "reasoning": "절차를 묻는 질문"}
    assert question["clarifications"] == [{"round": 1, "questions": ["어떤 함수인가요?"], "answer": "y=x^2 이요"}]
    assert question["improved_question"] == "y=x^2 그래프 그리는 법"
    assert question["answer"]["text"] == "꼭짓점부터 찾습니다." and question["answer"]["status"] == "complete"
    assert question["summary"] == "그래프 그리기 학습" and question["key_concepts"] == ["꼭짓점"]
    assert client.get(f"/api/maice/sessions/{other.session_id}", **headers).status_code == 404
    assert client.get("/api/maice/sessions").status_code == 401


def test_what_the_tutor_wrote_about_a_question_is_no_plain_text_in_the_database(user: Any) -> None:
    """Titles, reasons, clarification questions and key concepts are written from the
    student's question: a raw SQL read shows none of them (platform.md)."""
    q = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    columns = {
        "conversations_chatsession": (q.session_id, ["title"]),
        "maice_maicequestion": (q.pk, ["reasoning", "title", "key_concepts"]),
        "maice_maiceclarification": (q.clarifications.get().pk, ["questions"]),
    }
    with connection.cursor() as cursor:
        for table, (pk, names) in columns.items():
            cursor.execute(f"SELECT {', '.join(names)} FROM {table} WHERE id = %s", [pk])
            raw = " ".join(str(value) for value in cursor.fetchone())
            for plain in ("이차함수", "절차를", "꼭짓점", "어떤 함수"):
                assert plain not in raw, (table, raw[:200])


@pytest.mark.django_db(transaction=True)
def test_latest_stream_without_any_request_is_404(client: Any, make_user: Any) -> None:
    raw = token_issue(user=make_user("newbie"))[1]
    response = client.get("/api/maice/chat", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "REQUEST_NOT_FOUND"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("last_event_id", ["drop table", "²", "1-³", "1" * 41])
def test_resume_refuses_a_malformed_last_event_id(client: Any, user: Any, token: str, last_event_id: str) -> None:
    from maice import services

    accepted = services.chat_accept(user=user, question="질문", screening=CLEAR, session_id=None, mode="agent")
    response = client.get(f"/api/maice/chat/{accepted.request_id}/events", HTTP_AUTHORIZATION=f"Bearer {token}",
                          HTTP_LAST_EVENT_ID=last_event_id)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BAD_REQUEST"


def test_what_a_moderator_hid_is_gone_from_the_students_history_and_the_tutors_context(
        client: Any, user: Any, token: str, make_user: Any) -> None:
    from conversations.moderation import message_hide
    from maice.selectors import history_pairs

    staff = make_user("moderator", is_staff=True)
    first = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    second = answered(user, "근의 공식이 뭐예요?", code="K1", session_id=first.session_id)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert len(client.get(f"/api/maice/sessions/{first.session_id}", **headers).json()["questions"]) == 2

    message_hide(message=first.asked, actor=staff)
    assert second.answer is not None
    message_hide(message=second.answer, actor=staff)
    detail = client.get(f"/api/maice/sessions/{first.session_id}", **headers).json()
    [shown] = detail["questions"]
    assert shown["question"] == "근의 공식이 뭐예요?" and shown["answer"] is None
    # What the tutor wrote from the hidden answer is gone with it.
    assert (shown["summary"], shown["title"], shown["key_concepts"]) == (None, "", [])
    listed = client.get("/api/maice/sessions", **headers).json()["sessions"]
    # The session was named from the first (now hidden) question's summary.
    assert [(s["question_count"], s["summary"], s["title"]) for s in listed
            if s["session_id"] == first.session_id] == [(1, None, "")]
    assert detail["title"] == ""
    # Neither question's pair reaches the model as history any more.
    assert history_pairs(session_id=first.session_id, before_id=second.pk + 1) == []


def test_a_hidden_clarification_reply_takes_the_improved_question_with_it(
        client: Any, user: Any, token: str, make_user: Any) -> None:
    from conversations.moderation import message_hide

    q = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    reply = q.clarifications.get().reply
    assert reply is not None
    message_hide(message=reply, actor=make_user("moderator", is_staff=True))
    [shown] = client.get(f"/api/maice/sessions/{q.session_id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()["questions"]
    assert shown["clarifications"] == [{"round": 1, "questions": ["어떤 함수인가요?"], "answer": None}]
    assert shown["improved_question"] is None and shown["answer"]["text"] == "꼭짓점부터 찾습니다."
