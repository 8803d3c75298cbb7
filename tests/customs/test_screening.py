"""Customs screens every message before the model (platform.md, Safety), over the live server.

A message the rules or the moderation endpoint flag gets the pre-written reply with the
help lines as the usual stream, whatever its intent; the model is not asked, the message
is flagged for review and an urgent one alerts the on-call staff.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from conversations.models import ChatSession, Message, MessageStatus, Role, ScreeningDecision
from conversations.safety import CRISIS_REPLY, THIRD_PARTY_REPLY, Level
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from tests.customs.conftest import parse_sse
from tests.customs.test_api import SLOW_REPLY, _order, answer_requests, classify_as, post_sse, texts
from tests.webhook import WebhookReceiver

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.django_db(transaction=True)


async def _turn(key: str) -> tuple[Message, Message]:
    asked = await Message.objects.aget(session__key=key, role=Role.USER)
    reply = await Message.objects.aget(session__key=key, role=Role.ASSISTANT)
    return asked, reply


@pytest.mark.parametrize(("message", "intent", "reply", "level"), [
    ("관세 때문에 너무 힘들어서 죽고 싶어요", "general_chat", CRISIS_REPLY, Level.PASSIVE),
    # A cargo number does not make it a tracking question: the person comes first.
    ("CSQU3054383 통관이 계속 막혀서 정말 죽고 싶어요", "cargo_tracking", CRISIS_REPLY, Level.PASSIVE),
    ("친구가 요즘 죽고 싶다고 해서 걱정돼요", "general_chat", THIRD_PARTY_REPLY, Level.THIRD_PARTY),
])
async def test_a_flagged_message_gets_the_help_lines_and_no_model(
        fake_llm: FakeOpenAI, http: httpx2.AsyncClient, message: str, intent: str, reply: str, level: Level) -> None:
    classify_as(fake_llm, intent)
    response, events = await post_sse(http, {"message": message})
    assert response.headers["content-type"] == "text/event-stream"
    assert _order(events) == [
        "session_info", "message_start", "content_block_start:metadata@0", "content_block_stop@0",
        "content_block_start:text@1", "delta:text_delta@1", "content_block_stop@1", "message_delta", "message_stop"]
    assert "".join(texts(events)) == reply
    assert events[-2].data["delta"]["stop_reason"] == "end_turn"
    assert events[1].data["message"]["model"] == "safety"
    assert answer_requests(fake_llm) == []  # only the intent classifier was asked

    key = events[0].data["session_uuid"]
    asked, answer = await _turn(key)
    assert asked.flags == ["crisis"] and asked.flag_detail.startswith(level.value)
    assert (answer.status, answer.content, answer.model) == (MessageStatus.COMPLETE, reply, "safety")
    assert answer.reply_to_id == asked.pk and answer.ttfc_ms is not None
    (decision,) = [d async for d in ScreeningDecision.objects.filter(message=asked)]
    assert decision.level == level and not decision.urgent
    session = await ChatSession.objects.aget(key=key)
    assert session.flagged and session.title == ""  # no plain-text copy of the words


async def test_an_idiom_is_answered_as_usual(fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "regulatory_inquiry")
    _, events = await post_sse(http, {"message": "수입 통관 서류 때문에 죽겠어요"})
    assert "".join(texts(events)) == fake_llm.behaviour.reply
    asked, _ = await _turn(events[0].data["session_uuid"])
    assert not asked.flagged


async def test_an_urgent_message_alerts_the_on_call_staff(alert_webhook: WebhookReceiver, fake_llm: FakeOpenAI,
                                                          http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "general_chat")
    _, events = await post_sse(http, {"message": "수면제를 30알 정도 모았어요"})
    assert "".join(texts(events)) == CRISIS_REPLY
    (hook,) = await asyncio.to_thread(alert_webhook.wait)
    session = await ChatSession.objects.aget(key=events[0].data["session_uuid"])
    assert hook["level"] == "preparation" and hook["session_id"] == session.pk
    assert hook["admin_path"].endswith(f"/{session.pk}/change/")


async def test_moderation_self_harm_is_answered_with_the_help_lines(
        moderation: Any, fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "general_chat")
    fake_llm.flag_words = ["버티기"]
    fake_llm.flag_categories = ["self-harm", "self-harm/intent"]
    _, events = await post_sse(http, {"message": "이제 더는 버티기가 어려워요"})
    assert "".join(texts(events)) == CRISIS_REPLY
    assert answer_requests(fake_llm) == []
    asked, _ = await _turn(events[0].data["session_uuid"])
    (decision,) = [d async for d in ScreeningDecision.objects.filter(message=asked)]
    assert (decision.level, decision.source) == (Level.ACTIVE, "moderation")


async def test_moderation_other_categories_flag_the_input_and_the_answer_goes_on(
        moderation: Any, fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "cargo_tracking")
    fake_llm.flag_words = ["멍청한"]
    fake_llm.flag_categories = ["harassment"]
    body = (await http.post("/api/v1/chat", json={"message": "멍청한 세관 CSQU3054383 언제 풀려요"})).json()
    assert body["status"] == "success" and body["cargo_data"]["cargo_number"] == "CSQU3054383"
    asked = await Message.objects.aget(session__key=body["session_uuid"], role=Role.USER)
    assert asked.flags == ["input_filtered"] and "harassment" in asked.flag_detail
    assert await ScreeningDecision.objects.filter(message=asked).acount() == 0
    moderated = [r for r in fake_llm.requests if r.path == "/v1/moderations"]
    assert [r.body["input"] for r in moderated] == ["멍청한 세관 CSQU3054383 언제 풀려요"]


@pytest.fixture
def one_a_minute(fake_llm: FakeOpenAI, settings: Any, clock: Any) -> None:
    settings.CUSTOMS_GUEST_RATE = "1/m"  # before the server starts


async def test_a_flagged_message_over_the_rate_limit_is_still_answered(
        one_a_minute: None, fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    # The help lines cost no model call; a person at risk is never told to wait.
    classify_as(fake_llm, "general_chat")
    assert (await http.post("/api/v1/chat", json={"message": "안녕하세요"})).status_code == 200
    asked_before = len(fake_llm.requests)
    _response, events = await post_sse(http, {"message": "관세 때문에 너무 힘들어서 죽고 싶어요"})
    assert "".join(texts(events)) == CRISIS_REPLY
    # Not even the intent classifier: over the limit, such messages cost no model call.
    assert len(fake_llm.requests) == asked_before
    asked, _ = await _turn(events[0].data["session_uuid"])
    assert asked.flags == ["crisis"]
    assert (await http.post("/api/v1/chat", json={"message": "안녕하세요"})).status_code == 429


async def test_a_guest_sending_urgent_messages_without_a_session_is_alerted_on_once(
        alert_webhook: WebhookReceiver, fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "general_chat")
    keys = []
    for _ in range(3):
        _, events = await post_sse(http, {"message": "수면제를 30알 정도 모았어요"})
        assert "".join(texts(events)) == CRISIS_REPLY
        keys.append(events[0].data["session_uuid"])
    assert len(set(keys)) == 3  # a new session each time
    await asyncio.to_thread(alert_webhook.wait)
    await asyncio.sleep(0.5)  # the later alerts, had they been sent
    assert len(alert_webhook.bodies) == 1
    assert await ScreeningDecision.objects.filter(session__key__in=keys, urgent=True,
                                                  alerted_at__isnull=False).acount() == 3  # none left pending


async def test_a_flagged_message_while_the_session_streams_is_answered_not_busy(
        fake_llm: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    fake_llm.route("[느림]", Behaviour(reply=SLOW_REPLY, delay=0.02))
    classify_as(fake_llm, "general_chat")
    async with http.stream("POST", "/api/v1/chat", json={"message": "[느림] FTA 원산지"}) as response:
        chunks = response.aiter_text()
        session_key = parse_sse(await anext(chunks))[0].data["session_uuid"]
        _response, events = await post_sse(http, {"message": "관세 때문에 너무 힘들어서 죽고 싶어요",
                                                   "session_uuid": session_key})
        assert "".join(texts(events)) == CRISIS_REPLY
        rest = "".join([chunk async for chunk in chunks])
    assert "message_stop" in rest  # the answer in flight went on to its end
    after = await http.post("/api/v1/chat", json={"message": "FTA 원산지 질문", "session_uuid": session_key})
    assert after.status_code == 200  # the lock was the first answer's, and it was released
