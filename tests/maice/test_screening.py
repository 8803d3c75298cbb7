"""MAICE screens every question before the model (platform.md, Safety), through the live server.

A question the rules or the moderation endpoint flag is answered with the pre-written
reply for its level (the help lines); no model is asked, the message and the session are
flagged for review, and an urgent one alerts the on-call staff.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from conversations.models import Message, MessageStatus, Role, ScreeningDecision
from conversations.safety import CRISIS_REPLY, THIRD_PARTY_REPLY, Level
from conversations.testing.fake_openai import FakeOpenAI
from maice.agent import BLOCKED_TEXT
from maice.models import MaiceQuestion
from tests.maice.conftest import SSE, Stream, auth, route_steps
from tests.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


async def _ask(server: str, token: str, question: str, **fields: Any) -> list[SSE]:
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{server}/api/maice/chat", headers=auth(token),
                                 json={"question": question, **fields}) as response:
            return await Stream(response).all()


def _answer(events: list[SSE]) -> str:
    return "".join(e.data["content"] for e in events if e.type == "answer_chunk")


def _model_calls(fake: FakeOpenAI) -> list[Any]:
    return [r for r in fake.requests if r.path == "/v1/chat/completions"]


@pytest.mark.parametrize(("mode", "answer_type"), [("agent", "unanswerable"), ("freepass", "freepass")])
async def test_a_student_in_crisis_gets_the_help_lines_and_no_model(maice_server: str, token: str,
                                                                     fake_llm: FakeOpenAI, mode: str,
                                                                     answer_type: str) -> None:
    route_steps(fake_llm)
    events = await _ask(maice_server, token, "수학 때문에 죽고 싶어요", mode=mode)
    assert _answer(events) == CRISIS_REPLY and events[-1].type == "summary_complete"
    assert events[-2].data["answer_type"] == answer_type
    assert not fake_llm.requests
    question = await MaiceQuestion.objects.select_related("session", "asked").aget(
        session_id=events[0].data["session_id"])
    assert question.session.flagged
    assert question.asked.flags == ["crisis"] and question.asked.flag_detail.startswith("passive")
    # Titles are plain text: not the student's words.
    assert question.title == question.session.title == "도움 안내"
    (decision,) = [d async for d in ScreeningDecision.objects.filter(message_id=question.asked_id)]
    assert decision.level == Level.PASSIVE and not decision.urgent


async def test_a_student_worried_about_a_friend_is_told_how_to_help(maice_server: str, token: str,
                                                                    fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    events = await _ask(maice_server, token, "친구가 요즘 죽고 싶다고 해서 걱정돼요")
    # Words for someone worried about another person, not the reply to a student at risk.
    assert _answer(events) == THIRD_PARTY_REPLY
    assert not fake_llm.requests


async def test_an_urgent_question_alerts_the_on_call_staff(alert_webhook: WebhookReceiver, maice_server: str,
                                                           token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    events = await _ask(maice_server, token, "수면제를 30알 정도 모았어요")
    assert _answer(events) == CRISIS_REPLY
    (hook,) = await asyncio.to_thread(alert_webhook.wait)
    assert hook["level"] == "preparation" and hook["session_id"] == events[0].data["session_id"]


async def test_moderation_self_harm_is_answered_with_the_help_lines(moderation: Any, maice_server: str, token: str,
                                                                    fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    fake_llm.flag_words = ["버티기"]
    fake_llm.flag_categories = ["self-harm", "self-harm/intent"]
    events = await _ask(maice_server, token, "시험이 너무 많아서 이제 버티기가 어려워요")
    assert _answer(events) == CRISIS_REPLY
    assert _model_calls(fake_llm) == []
    decision = await ScreeningDecision.objects.aget(session_id=events[0].data["session_id"])
    assert (decision.level, decision.source) == (Level.ACTIVE, "moderation")


async def test_moderation_other_categories_flag_the_input_and_the_tutor_answers(
        moderation: Any, maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    fake_llm.flag_words = ["멍청한"]
    fake_llm.flag_categories = ["harassment"]
    question = "멍청한 선생님이 낸 숙제인데 x^2 - 5x + 6 = 0 을 풀어 주세요"
    events = await _ask(maice_server, token, question)
    assert events[-1].type == "summary_complete" and _answer(events)
    assert _model_calls(fake_llm)  # the tutor's steps asked the model as usual
    asked = await Message.objects.aget(session_id=events[0].data["session_id"], role=Role.USER)
    assert asked.flags == ["input_filtered"] and "harassment" in asked.flag_detail
    moderated = [r.body["input"] for r in fake_llm.requests if r.path == "/v1/moderations"]
    assert moderated == [question, _answer(events)]  # the question first, the whole answer before it is stored


async def test_an_answer_the_moderation_endpoint_flags_is_replaced_and_kept_for_review(
        moderation: Any, maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    fake_llm.flag_words = ["완전제곱식"]  # in the tutor's answer, not in the question
    fake_llm.flag_categories = ["harassment"]
    events = await _ask(maice_server, token, "이차함수의 그래프를 그리는 방법을 알려주세요")
    assert _answer(events).endswith(BLOCKED_TEXT) and events[-1].type == "summary_complete"
    answer = await Message.objects.aget(session_id=events[0].data["session_id"], role=Role.ASSISTANT)
    assert (answer.status, answer.content) == (MessageStatus.BLOCKED, BLOCKED_TEXT)
    assert answer.blocked_text and "완전제곱식" in answer.blocked_text and answer.flag_detail == "moderation"


@pytest.fixture
def one_a_minute(maice_settings: Any, clock: Any) -> None:
    maice_settings.MAICE_RATE = "1/m"  # before the server starts


async def test_a_student_in_crisis_over_the_rate_limit_is_still_answered(
        one_a_minute: None, moderation: Any, maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    # The help lines cost no model call; a student at risk is never told to wait.
    route_steps(fake_llm)
    assert (await _ask(maice_server, token, "이차방정식 x^2-5x+6=0 풀어 주세요", mode="freepass"))[-1].type \
        == "summary_complete"
    asked_before = len(fake_llm.requests)
    events = await _ask(maice_server, token, "수학 때문에 죽고 싶어요")
    assert _answer(events) == CRISIS_REPLY and events[-1].type == "summary_complete"
    assert len(fake_llm.requests) == asked_before  # over the limit, not even the moderation endpoint
    async with httpx2.AsyncClient(timeout=20) as client:  # an ordinary question is still limited
        limited = await client.post(f"{maice_server}/api/maice/chat", headers=auth(token),
                                    json={"question": "인수분해 해 주세요"})
    assert limited.status_code == 429
