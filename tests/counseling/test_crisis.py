"""Each crisis level's path over the WebSocket: the reply, the flags and decision in the
database, the on-call alert (locmem mail, a loopback webhook) and the LLM's second opinion."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail

from conversations.aio import run_db
from conversations.models import ChatSession, Message, MessageStatus, Role, ScreeningDecision, SessionStatus
from conversations.risk import CLASSIFIER_MARKER, RISK_PROMPT
from conversations.safety import CHECK_IN_ACTIVE, CHECK_IN_PASSIVE, CRISIS_REPLY, THIRD_PARTY_REPLY, Level
from conversations.safety.replies import HELD_ACKNOWLEDGEMENT, HELP_LINES
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.services import session_end
from tests.counseling.conftest import chunks, collect, messages_of, request
from tests.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _alerts(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CRISIS_ALERT_EMAILS = ["oncall@example.org"]
    settings.CRISIS_ALERT_WEBHOOK_URL = ""


@pytest.fixture
def webhook(settings: Any) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        settings.CRISIS_ALERT_WEBHOOK_URL = receiver.url
        yield receiver


async def _decisions(session: ChatSession) -> list[ScreeningDecision]:
    return [d async for d in ScreeningDecision.objects.filter(session=session).order_by("id")]


async def _wait_for_mail(n: int = 1, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < n:
        assert time.monotonic() < deadline, f"expected {n} alert e-mails, got {len(mail.outbox)}"
        await asyncio.sleep(0.02)


async def test_urgent_level_gets_the_crisis_reply_at_once_an_urgent_flag_and_an_alert(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, webhook: WebhookReceiver) -> None:
    ws = await connect()
    await request(ws, message="수면제를 30알 정도 모았어요", emotion="sad")
    frames = await collect(ws)
    assert chunks(frames) == CRISIS_REPLY and frames[-1]["data"]["crisis"] is True
    assert fake_llm.requests == []  # no model

    asked, answer = await messages_of(session)
    assert asked.flagged and "crisis" in asked.flags and asked.flag_detail.startswith("preparation")
    assert answer.model == "safety"
    assert answer.ttfc_ms is not None and answer.ttfc_ms == answer.total_ms  # timed like every reply
    (decision,) = await _decisions(session)
    assert decision.level == Level.PREPARATION and decision.urgent and decision.source == "rules"
    assert "preparation.pills" in decision.evidence and "수면제" in (decision.matched or "")
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged

    await _wait_for_mail()
    (email,) = mail.outbox
    assert email.to == ["oncall@example.org"] and "준비 행동" in email.subject
    (hook,) = await asyncio.to_thread(webhook.wait)
    assert hook["event"] == "crisis_alert" and hook["level"] == "preparation" and hook["session_id"] == session.pk
    # No message text beyond the masked 50-character preview.
    assert hook["preview"] == "수면제를 30알 정도 모았어요" and "text" not in hook
    # Marked once every channel has run, just after the webhook call returned.
    deadline = time.monotonic() + 5
    while (await ScreeningDecision.objects.aget(pk=decision.pk)).alerted_at is None:
        assert time.monotonic() < deadline, "the decision was never marked alerted"
        await asyncio.sleep(0.02)


async def test_a_failing_alert_channel_does_not_touch_the_reply(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.CRISIS_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"  # discard port: refused
    ws = await connect()
    await request(ws, message="어제 커터칼로 팔에 상처를 냈어요")
    frames = await collect(ws)
    assert chunks(frames) == CRISIS_REPLY
    await _wait_for_mail()  # the other channel still ran


async def test_passive_ideation_gets_the_counselor_with_a_check_in_and_a_review_flag(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply="많이 지치셨군요, 말해 주셔서 고마워요.")
    ws = await connect()
    await request(ws, message="내일 아침이 안 왔으면 좋겠어요", emotion="sad")
    frames = await collect(ws)
    assert chunks(frames) == "많이 지치셨군요, 말해 주셔서 고마워요. " + CHECK_IN_PASSIVE
    assert "crisis" not in frames[-1]["data"]
    (sent,) = fake_llm.requests
    systems = [m["content"] for m in sent.body["messages"] if m["role"] == "system"]
    assert len(systems) == 2 and "wish they were dead" in systems[1]

    asked, answer = await messages_of(session)
    assert asked.flagged and answer.status == MessageStatus.COMPLETE and answer.content.endswith(CHECK_IN_PASSIVE)
    (decision,) = await _decisions(session)
    assert decision.level == Level.PASSIVE and not decision.urgent
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged
    await asyncio.sleep(0.2)
    assert mail.outbox == []


async def test_active_ideation_asks_about_a_plan(connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="자살하고 싶다는 생각이 계속 들어요")
    frames = await collect(ws)
    assert chunks(frames).endswith(CHECK_IN_ACTIVE)
    (decision,) = await _decisions(session)
    assert decision.level == Level.ACTIVE and not decision.urgent


async def test_third_party_concern_is_told_how_to_help(connect: Any, session: ChatSession,
                                                       fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="친구가 자해를 했는데 어떻게 도와줘야 할지 모르겠어요")
    frames = await collect(ws)
    assert chunks(frames) == THIRD_PARTY_REPLY and fake_llm.requests == []
    (decision,) = await _decisions(session)
    assert decision.level == Level.THIRD_PARTY and not decision.urgent
    await asyncio.sleep(0.2)
    assert mail.outbox == []


async def test_history_is_flagged_for_review_and_answered_by_the_counselor(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="예전에 그런 생각을 한 적 있어요")
    frames = await collect(ws)
    assert chunks(frames) == fake_llm.behaviour.reply and len(fake_llm.requests) == 1
    (decision,) = await _decisions(session)
    assert decision.level == Level.HISTORY and not decision.urgent
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged


async def test_an_idiom_is_recorded_but_not_flagged(connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="배고파 죽겠어요")
    await collect(ws)
    (asked, _answer) = await messages_of(session)
    assert not asked.flagged and not (await ChatSession.objects.aget(pk=session.pk)).flagged
    assert [d.level for d in await _decisions(session)] == [Level.IDIOM]


async def test_risk_building_across_turns_is_a_plan(connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="약을 모아 뒀어요")
    await collect(ws)
    await request(ws, message="다 포기하고 싶어요")
    frames = await collect(ws)
    assert chunks(frames) == CRISIS_REPLY
    levels = [d.level for d in await _decisions(session)]
    assert levels == [Level.PREPARATION, Level.PLAN]
    assert "context.plan" in (await _decisions(session))[1].evidence


async def test_a_hidden_earlier_turn_still_counts_as_context(connect: Any, session: ChatSession,
                                                             fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="죽고 싶다는 생각뿐이에요")
    await collect(ws)
    await Message.objects.filter(session=session, role=Role.USER).aupdate(hidden=True)  # a moderator's takedown
    await request(ws, message="부모님 여행 가실 때 하려고 계획했어요")
    assert chunks(await collect(ws)) == CRISIS_REPLY
    assert (await _decisions(session))[-1].level == Level.PLAN
    await _wait_for_mail()


# --- the LLM's second opinion ---------------------------------------------------------------


@pytest.fixture
def classifier(settings: Any, fake_llm: FakeOpenAI) -> FakeOpenAI:
    settings.CRISIS_LLM_CLASSIFIER = True
    settings.CRISIS_CLASSIFIER_TIMEOUT = 3.0
    return fake_llm


def _classifier_requests(fake: FakeOpenAI) -> list[Any]:
    return [r for r in fake.requests if CLASSIFIER_MARKER in json.dumps(r.body, ensure_ascii=False)]


async def test_the_classifier_raising_to_urgent_stops_the_reply_and_sends_the_crisis_reply(
        connect: Any, session: ChatSession, classifier: FakeOpenAI) -> None:
    classifier.behaviour = Behaviour(reply="그랬군요. " * 40, delay=0.05)  # a long, slow reply
    classifier.route(CLASSIFIER_MARKER, Behaviour(reply='{"level": "plan", "evidence": "date and place set"}',
                                                  ttft=0.5))
    ws = await connect()
    await request(ws, message="그냥 그날 하려고요")
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    first = await ws.receive_json_from()  # the model's reply is under way when the opinion arrives
    assert first["type"] == "ai_stream_chunk" and first["data"]["chunk"].startswith("그랬")
    frames = await collect(ws)
    assert frames[-1]["data"]["crisis"] is True and frames[-1]["data"]["fullResponse"] == CRISIS_REPLY
    assert chunks(frames).endswith("\n" + CRISIS_REPLY)

    (sent,) = _classifier_requests(classifier)
    assert sent.body["messages"][0] == {"role": "system", "content": RISK_PROMPT}
    assert sent.body["response_format"] == {"type": "json_object"} and sent.body["temperature"] == 0
    assert json.loads(sent.body["messages"][1]["content"]) == {"user_turns": [{"latest": "그냥 그날 하려고요"}]}

    asked, answer = await messages_of(session)
    assert answer.status == MessageStatus.BLOCKED and answer.content == CRISIS_REPLY and answer.model == "safety"
    assert answer.blocked_text and answer.blocked_text.startswith("그랬군요")
    assert asked.flagged
    (decision,) = await _decisions(session)
    assert decision.level == Level.PLAN and decision.source == "llm" and decision.urgent
    await _wait_for_mail()


async def test_the_classifier_sees_the_last_turns_and_can_flag_without_stopping(
        connect: Any, session: ChatSession, classifier: FakeOpenAI) -> None:
    classifier.route(CLASSIFIER_MARKER, Behaviour(reply='{"level": "passive", "evidence": "hopeless"}'))
    ws = await connect()
    await request(ws, message="요즘 그냥 다 의미 없어요")
    await collect(ws)
    await request(ws, message="오늘도 잠을 못 잤어요")
    frames = await collect(ws)
    assert chunks(frames) == classifier.behaviour.reply
    last = _classifier_requests(classifier)[-1]
    turns = json.loads(last.body["messages"][1]["content"])["user_turns"]
    assert turns == [{"earlier": "요즘 그냥 다 의미 없어요"}, {"latest": "오늘도 잠을 못 잤어요"}]
    decisions = [d for d in await _decisions(session) if d.source == "llm"]
    assert {d.level for d in decisions} == {Level.PASSIVE} and not any(d.urgent for d in decisions)
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged
    # Each opinion's tokens are billed to the message it judged (the quality page counts them).
    for _ in range(100):
        asked = [m for m in await messages_of(session) if m.role == Role.USER]
        if all(m.prompt_tokens for m in asked):
            break
        await asyncio.sleep(0.05)
    assert [bool(m.prompt_tokens and m.completion_tokens) for m in asked] == [True, True]


@pytest.mark.parametrize("answer", ["not json at all", '{"level": "very high"}', '["plan"]'])
async def test_a_malformed_classifier_answer_falls_back_to_the_rules(
        connect: Any, session: ChatSession, classifier: FakeOpenAI, answer: str) -> None:
    classifier.route(CLASSIFIER_MARKER, Behaviour(reply=answer))
    ws = await connect()
    await request(ws, message="요즘 회사 일이 너무 많아요")
    frames = await collect(ws)
    assert chunks(frames) == classifier.behaviour.reply and "crisis" not in frames[-1]["data"]
    assert len(_classifier_requests(classifier)) == 1
    assert await _decisions(session) == []
    assert not (await ChatSession.objects.aget(pk=session.pk)).flagged


async def test_moderation_self_harm_categories_count(connect: Any, session: ChatSession, fake_llm: FakeOpenAI,
                                                     settings: Any) -> None:
    settings.LLM_MODERATION = True
    fake_llm.flag_words = ["버티기"]
    fake_llm.flag_categories = ["self-harm", "self-harm/intent"]
    ws = await connect()
    await request(ws, message="이제 버티기가 어려워요")
    frames = await collect(ws)
    assert chunks(frames).endswith(CHECK_IN_ACTIVE)
    (decision,) = await _decisions(session)
    assert decision.level == Level.ACTIVE and decision.source == "moderation"


async def test_moderation_other_categories_flag_the_message_as_filtered_input(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.LLM_MODERATION = True
    fake_llm.flag_words = ["멍청이"]
    fake_llm.flag_categories = ["harassment"]
    ws = await connect()
    await request(ws, message="팀장님이 절 멍청이라고 불러서 너무 화가 나요", emotion="angry")
    frames = await collect(ws)
    # The user is still answered by the counselor; reviewers see the message in the queue.
    assert chunks(frames) == fake_llm.behaviour.reply and "crisis" not in frames[-1]["data"]
    asked, _ = await messages_of(session)
    assert asked.flagged and asked.flags == ["input_filtered"] and "harassment" in asked.flag_detail
    assert await _decisions(session) == []
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged
    # A message it does not flag is not marked.
    await request(ws, message="오늘은 조금 괜찮아요")
    await collect(ws)
    later = [m for m in await messages_of(session) if m.role == "user"][-1]
    assert not later.flagged and later.flags == []


async def test_an_urgent_reply_is_replayed_from_the_store(connect: Any, session: ChatSession,
                                                          fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="오늘 밤에 옥상에 올라가 보려고요", client_msg_id="x")
    first = await collect(ws)
    await request(ws, message="오늘 밤에 옥상에 올라가 보려고요", client_msg_id="x")
    again = await collect(ws)
    assert chunks(first) == chunks(again) == CRISIS_REPLY
    assert len(await _decisions(session)) == 1 and len(await messages_of(session)) == 2
    await _wait_for_mail()
    assert len(mail.outbox) == 1




async def test_offline_counselor_asks_one_question_and_does_not_repeat_the_check_in(
        connect: Any, session: ChatSession) -> None:
    ws = await connect()
    await request(ws, message="그냥 사라지고 싶어요", emotion="sad")
    first = chunks(await collect(ws))
    assert first.endswith(CHECK_IN_PASSIVE) and first.count("?") == 1  # the offline reply asks none itself
    await request(ws, message="살기 싫어요 정말", emotion="sad")
    second = chunks(await collect(ws))
    assert CHECK_IN_PASSIVE not in second and second.endswith(HELP_LINES)
    answers = [m for m in await messages_of(session) if m.role == "assistant"]
    assert [m.model for m in answers] == ["offline", "offline"]


async def test_stopping_a_reply_while_the_classifier_is_out_stores_it_as_interrupted(
        connect: Any, session: ChatSession, classifier: FakeOpenAI) -> None:
    classifier.behaviour = Behaviour(reply="천천히 이야기해 보아요. " * 30, delay=0.05)
    classifier.route(CLASSIFIER_MARKER, Behaviour(reply='{"level": "none", "evidence": "-"}', ttft=2.0))
    ws = await connect()
    await request(ws, message="요즘 일이 많아서 힘들어요")
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    assert (await ws.receive_json_from())["type"] == "ai_stream_chunk"
    await ws.send_json_to({"type": "cancel_ai_response"})
    frames = await collect(ws)
    assert frames[-1]["type"] == "ai_stream_complete" and frames[-1]["data"]["stopped"] is True
    _asked, answer = await messages_of(session)
    assert answer.status == MessageStatus.INTERRUPTED and answer.content
    await request(ws, message="다시 말해 볼게요")  # the session is free again
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def _talking(connect: Any, fake_llm: FakeOpenAI) -> Any:
    """A socket whose reply has begun and is still streaming."""
    fake_llm.behaviour = Behaviour(reply="천천히 이야기해 주셔서 고마워요. " * 40, delay=0.02, chunk_size=4)
    ws = await connect()
    await request(ws)
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    return ws


async def test_a_crisis_said_while_the_counselor_is_still_talking_stops_the_reply_and_is_answered(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    # A voice user's speech is sent when they pause, also while the reply is being read out:
    # they are not told to wait (BUSY), and the message is screened, stored and answered.
    ws = await _talking(connect, fake_llm)
    await request(ws, message="수면제를 30알 정도 모았어요", emotion="sad")
    stopped = await collect(ws)
    assert stopped[-1]["type"] == "ai_stream_complete" and stopped[-1]["data"]["stopped"] is True
    frames = await collect(ws)
    assert [f["type"] for f in frames][0] == "ai_stream_begin"
    assert chunks(frames) == CRISIS_REPLY and frames[-1]["data"]["crisis"] is True
    first_reply, asked, answer = (await messages_of(session))[1:]
    assert first_reply.status == MessageStatus.INTERRUPTED
    assert asked.content == "수면제를 30알 정도 모았어요" and "crisis" in asked.flags
    assert answer.content == CRISIS_REPLY
    assert [d.level for d in await _decisions(session)] == ["preparation"]
    await _wait_for_mail()


async def test_an_ordinary_message_while_the_counselor_talks_is_still_busy(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    ws = await _talking(connect, fake_llm)
    await request(ws, message="배고파 죽겠어요")  # an idiom, not a signal
    frames = await collect(ws)
    assert any(f["type"] == "ai_stream_error" and f["data"]["code"] == "BUSY" for f in frames)


# --- A flagged message is never turned away ------------------------------------------------

HELD_PASSIVE = f"{HELD_ACKNOWLEDGEMENT} {CHECK_IN_PASSIVE}"
PASSIVE = "내일 아침이 안 왔으면 좋겠어요"
URGENT = "수면제를 30알 정도 모았어요"


async def _held_answer(ws: Any, session: ChatSession, *, message: str, reply: str, level: Level) -> None:
    """``message`` was answered with ``reply`` in pre-written words, and stored with its decision."""
    frames = await collect(ws)
    assert [f["type"] for f in frames] == ["ai_stream_begin", "ai_stream_chunk", "ai_stream_complete"]
    assert chunks(frames) == reply and frames[-1]["data"]["crisis"] is True
    *_, asked, answer = await messages_of(session)
    assert asked.content == message and "crisis" in asked.flags
    assert answer.content == reply and answer.model == "safety" and answer.reply_to_id == asked.pk
    assert (await _decisions(session))[-1].level == level
    assert (await ChatSession.objects.aget(pk=session.pk)).flagged


async def test_a_flagged_message_over_the_rate_limit_is_answered_without_the_model(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.COUNSELING_RATE = "1/m"
    ws = await connect()
    await request(ws)
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"
    await request(ws, message=PASSIVE)
    await _held_answer(ws, session, message=PASSIVE, reply=HELD_PASSIVE, level=Level.PASSIVE)
    assert len(fake_llm.requests) == 1  # only the first, ordinary, message reached the model
    await request(ws)  # an ordinary message is still limited
    (error,) = await collect(ws)
    assert error["data"]["code"] == "RATE_LIMITED"


async def test_the_check_in_question_is_not_repeated_word_for_word(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.COUNSELING_RATE = "1/m"
    ws = await connect()
    for _ in range(2):
        await request(ws, message=PASSIVE)
        await collect(ws)
    await request(ws, message=PASSIVE)
    await _held_answer(ws, session, message=PASSIVE, reply=f"{HELD_ACKNOWLEDGEMENT} {HELP_LINES}",
                       level=Level.PASSIVE)


@pytest.mark.parametrize("message,reply,level", [
    (URGENT, CRISIS_REPLY, Level.PREPARATION),
    (PASSIVE, HELD_PASSIVE, Level.PASSIVE),
])
async def test_a_flagged_message_over_the_length_limit_is_answered_and_kept_whole(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, message: str, reply: str, level: Level) -> None:
    long = "오늘 있었던 일을 처음부터 끝까지 길게 적어 볼게요. " * 80 + message
    assert len(long) > 2000
    ws = await connect()
    await request(ws, message=long)
    await _held_answer(ws, session, message=long, reply=reply, level=level)
    assert fake_llm.requests == []


async def test_a_flagged_message_while_another_socket_is_answered_is_not_busy(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI) -> None:
    talking = await _talking(connect, fake_llm)
    other = await connect()
    await request(other, message=PASSIVE)
    await _held_answer(other, session, message=PASSIVE, reply=HELD_PASSIVE, level=Level.PASSIVE)
    frames = await collect(talking)  # the reply being spoken goes on to its end
    assert frames[-1]["type"] == "ai_stream_complete" and "stopped" not in frames[-1]["data"]


@pytest.mark.parametrize("message,reply,level", [
    (URGENT, CRISIS_REPLY, Level.PREPARATION),
    (PASSIVE, HELD_PASSIVE, Level.PASSIVE),
])
async def test_a_flagged_message_in_an_ended_session_is_answered_and_kept_for_counselors(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, message: str, reply: str, level: Level) -> None:
    ws = await connect()
    await run_db(session_end, session=session)
    await request(ws, message=message)
    await _held_answer(ws, session, message=message, reply=reply, level=level)
    assert (await ChatSession.objects.aget(pk=session.pk)).status == SessionStatus.ENDED
    if level == Level.PREPARATION:
        await _wait_for_mail()
    await request(ws)  # an ordinary message still finds the session ended
    (error,) = await collect(ws)
    assert error["data"]["code"] == "SESSION_ENDED"
