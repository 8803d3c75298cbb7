"""MAICE in the staff admin and in exports: classification, clarifications, answers, summaries."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from conversations.models import MessageStatus, TranscriptAccess
from conversations.safety import CLEAR
from conversations.services import message_finalize
from maice import services
from maice.models import MaiceQuestion
from maice.steps import Classification, Improvement, Summary

pytestmark = pytest.mark.django_db


def answered(user: Any, question: str, *, code: str, quality: str = "answerable", mode: str = "agent",
             clarify: bool = False, session_id: int | None = None) -> MaiceQuestion:
    """A question taken through the agent's own writes, as a run would leave it."""
    accepted = services.chat_accept(user=user, question=question, screening=CLEAR, session_id=session_id, mode=mode)
    services.classification_store(question_id=accepted.question_id,
                                  classification=Classification(code, quality, ["이차함수"], "절차를 묻는 질문"))
    if clarify:
        services.clarification_open(question_id=accepted.question_id, round=1, questions=["어떤 함수인가요?"])
        services.request_finish(request_id=accepted.request_id, outcome="clarification_required")
        again = services.chat_accept(user=user, question="y=x^2 이요", screening=CLEAR, session_id=accepted.session_id,
                                     mode=None)
        assert again.kind == "clarification" and again.question_id == accepted.question_id
        accepted = again
        services.improvement_store(question_id=accepted.question_id,
                                   improvement=Improvement("y=x^2 그래프 그리는 법", False))
    q = MaiceQuestion.objects.get(pk=accepted.question_id)
    answer = services.answer_open(question_id=q.pk, reply_to_id=q.asked_id)
    message_finalize(message_id=answer.pk, status=MessageStatus.COMPLETE, text="꼭짓점부터 찾습니다.", ttfc_ms=40,
                     total_ms=900)
    services.answer_type_store(question_id=q.pk, answer_type=code)
    services.summary_store(question_id=q.pk, summary=Summary("그래프 그리기 학습", "이차함수 그래프", ["꼭짓점"]))
    services.request_finish(request_id=accepted.request_id, outcome="summary_complete")
    return MaiceQuestion.objects.get(pk=q.pk)


def test_transcript_page_shows_classification_clarifications_answer_and_summary(admin_client: Any, user: Any) -> None:
    q = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    page = admin_client.get(f"/admin/conversations/chatsession/{q.session_id}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("MAICE 질문", "K3", "needs_clarify", "명료화 1차", "어떤 함수인가요?", "y=x^2 이요",
                 "y=x^2 그래프 그리는 법", "그래프 그리기 학습", "이차함수 그래프", "꼭짓점부터 찾습니다."):
        assert text in html, text
    assert TranscriptAccess.objects.filter(session_id=q.session_id, kind="view").count() == 1


def test_session_list_filters_by_knowledge_code_quality_and_mode(admin_client: Any, user: Any) -> None:
    k1 = answered(user, "근의 공식이 뭐예요?", code="K1")
    k4 = answered(user, "이 유형은 어떤 전략으로?", code="K4", mode="freepass")
    url = "/admin/conversations/chatsession/"

    def listed(query: str) -> set[int]:
        page = admin_client.get(f"{url}?{query}")
        assert page.status_code == 200
        return {pk for pk in (k1.session_id, k4.session_id) if f"/chatsession/{pk}/change/" in page.content.decode()}

    assert listed("maice_code=K1") == {k1.session_id}
    assert listed("maice_mode=freepass") == {k4.session_id}
    assert listed("maice_quality=answerable") == {k1.session_id, k4.session_id}
    questions = admin_client.get("/admin/maice/maicequestion/?maice_code=K4")
    assert questions.status_code == 200 and f"#maice-question-{k4.pk}" in questions.content.decode()
    assert f"#maice-question-{k1.pk}" not in questions.content.decode()
    assert "column-title" in questions.content.decode() and "sortable column-title" not in questions.content.decode()
    opened = admin_client.get(f"/admin/maice/maicequestion/{k4.pk}/change/")
    assert opened.status_code == 302 and opened["Location"].endswith(f"/{k4.session_id}/change/#maice-question-{k4.pk}")


def test_export_transcripts_includes_maice_data(user: Any) -> None:
    q = answered(user, "그래프 어떻게 그려요?", code="K3", quality="needs_clarify", clarify=True)
    out = io.StringIO()
    call_command("export_transcripts", "--product", "maice", "--format", "jsonl", stdout=out, stderr=io.StringIO())
    [line] = out.getvalue().splitlines()
    data = json.loads(line)
    [exported] = data["maice_questions"]
    assert exported["question_id"] == q.pk
    assert exported["classification"]["knowledge_code"] == "K3"
    assert exported["clarifications"] == [{"round": 1, "questions": ["어떤 함수인가요?"], "answer": "y=x^2 이요"}]
    assert exported["answer"]["status"] == "complete" and exported["answer"]["answer_type"] == "K3"
    assert exported["summary"] == "그래프 그리기 학습" and exported["key_concepts"] == ["꼭짓점"]
    assert {m["role"] for m in data["messages"]} == {"user", "assistant"}


def test_staff_transcript_and_export_keep_what_a_moderator_hid_marked(admin_client: Any, user: Any,
                                                                      admin_user: Any) -> None:
    from conversations.moderation import message_hide

    first = answered(user, "그래프 어떻게 그려요?", code="K3")
    second = answered(user, "근의 공식이 뭐예요?", code="K1", session_id=first.session_id)
    message_hide(message=first.asked, actor=admin_user)
    assert second.answer is not None
    message_hide(message=second.answer, actor=admin_user)
    out = io.StringIO()
    call_command("export_transcripts", "--product", "maice", "--format", "jsonl", stdout=out, stderr=io.StringIO())
    exported = json.loads(out.getvalue())["maice_questions"]
    assert [(e["question"], e["hidden"], e["answer_hidden"]) for e in exported] == [
        ("그래프 어떻게 그려요?", True, False), ("근의 공식이 뭐예요?", False, True)]
    assert exported[1]["answer"]["text"] == "꼭짓점부터 찾습니다." and exported[1]["summary"] == "그래프 그리기 학습"
    html = admin_client.get(f"/admin/conversations/chatsession/{first.session_id}/change/").content.decode()
    assert "MAICE 질문 (2개)" in html and "질문 숨김" in html and "답변 숨김" in html


def test_ab_assignment_is_balanced_and_fixed(settings: Any, make_user: Any) -> None:
    settings.MAICE_MODE_ASSIGNMENT = "ab"
    users = [make_user() for _ in range(6)]
    modes = [services.mode_assign(user=u) for u in users]
    assert sorted(modes) == ["agent"] * 3 + ["freepass"] * 3
    assert [services.mode_assign(user=u) for u in users] == modes
    settings.MAICE_MODE_ASSIGNMENT = "agent"
    assert services.mode_assign(user=users[0]) == "agent"


def test_quality_page_charts_maice_answers(admin_client: Any, user: Any) -> None:
    from conversations.reports import quality_report

    answered(user, "근의 공식이 뭐예요?", code="K1")
    today = quality_report(days=1).stats["maice"][-1]
    assert today.replies == 1 and today.ttfc == [40] and today.total == [900]
    page = admin_client.get("/admin/conversations/chatsession/quality/?days=7")
    assert page.status_code == 200 and "MAICE p50" in page.content.decode()


def test_a_request_whose_process_died_is_settled_by_the_next_question(user: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from conversations.errors import Busy
    from conversations.models import Message
    from maice.models import MaiceRequest

    first = services.chat_accept(user=user, question="첫 질문", screening=CLEAR, session_id=None, mode="freepass")
    answer = services.answer_open(question_id=first.question_id,
                                  reply_to_id=MaiceQuestion.objects.get(pk=first.question_id).asked_id)
    with pytest.raises(Busy):
        services.chat_accept(user=user, question="두 번째", screening=CLEAR, session_id=first.session_id, mode="freepass")
    MaiceRequest.objects.filter(request_id=first.request_id).update(created_at=timezone.now() - timedelta(minutes=5))
    services.chat_accept(user=user, question="두 번째", screening=CLEAR, session_id=first.session_id, mode="freepass")
    stale = MaiceRequest.objects.get(request_id=first.request_id)
    assert stale.finished_at is not None and stale.outcome == "AGENT_UNAVAILABLE"
    assert Message.objects.get(pk=answer.pk).status == "failed"
