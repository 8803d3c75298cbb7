"""The SSE contract through the live server and a real HTTP client (httpx2 streaming).

Runs on the embedded default (the agent inside the web process) and, with REDIS_URL, with
a real ``run_maice_agent`` worker on Redis Streams: the same events either way.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import pytest

from conversations.aio import run_db
from conversations.models import Message
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from maice.models import MaiceQuestion
from tests.conftest import Clock
from tests.maice.conftest import ANSWER, ANSWER_TEXT, CLASSIFY, SSE, Stream, auth, classification, route_steps

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "이차함수의 그래프를 그리는 방법을 알려주세요"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
EVENT_ID = re.compile(r"^\d+-\d+$")


async def post(server: str, token: str, body: dict[str, Any], *, timeout: float = 20.0) -> tuple[httpx2.Response, list[SSE]]:
    async with httpx2.AsyncClient(timeout=timeout) as client:
        async with client.stream("POST", f"{server}/api/maice/chat", json=body, headers=auth(token)) as response:
            if response.status_code != 200:
                await response.aread()
                return response, []
            return response, await Stream(response).all()


def assert_envelope(events: list[SSE], session_id: int, request_id: str) -> None:
    ids = [e.id for e in events]
    assert all(i and EVENT_ID.match(i) for i in ids)
    ordered = [tuple(int(p) for p in str(i).split("-")) for i in ids]
    assert ordered == sorted(ordered) and len(set(ids)) == len(ids)
    for event in events:
        assert list(event.data)[:3] == ["type", "session_id", "request_id"]
        assert event.data["session_id"] == session_id
        assert event.data["request_id"] == request_id
        assert TIMESTAMP.match(event.data["timestamp"])


async def test_agent_mode_streams_every_event_in_order(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    response, events = await post(maice_server, token, {"question": QUESTION, "mode": "agent"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    request_id = response.headers["x-request-id"]
    types = [e.type for e in events]
    assert types[:2] == ["classification_start", "classification_complete"]
    assert types[-2:] == ["answer_complete", "summary_complete"]
    chunks = [e for e in events if e.type == "answer_chunk"]
    assert types == ["classification_start", "classification_complete", *["answer_chunk"] * len(chunks),
                     "answer_complete", "summary_complete"]
    session_id = events[0].data["session_id"]
    assert isinstance(session_id, int)
    assert_envelope(events, session_id, request_id)

    result = events[1].data["result"]
    assert result == {"knowledge_code": "K3", "quality": "answerable", "unit_tags": ["이차함수", "그래프"],
                      "reasoning": "이차함수 그래프 그리기 방법에 대한 절차적 질문"}
    assert [c.data["chunk_id"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert [c.data["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert "".join(c.data["content"] for c in chunks) == ANSWER_TEXT
    for chunk in chunks[:-1]:
        content = chunk.data["content"]
        assert 50 <= len(content) <= 200
        assert content[-1].isspace()
        assert content.count("$") % 2 == 0 and content.count("`") % 2 == 0  # no formula or code cut open
    complete = events[-2].data
    assert complete["total_chunks"] == len(chunks) and complete["answer_type"] == "K3"
    assert events[-1].data["summary"] == "이차함수 그래프를 표준형으로 그리는 방법 학습"

    question = await MaiceQuestion.objects.select_related("answer", "session").aget(session_id=session_id)
    assert (question.knowledge_code, question.quality, question.status) == ("K3", "answerable", "answered")
    assert question.answer is not None and question.answer.status == "complete"
    assert question.answer.content == ANSWER_TEXT and question.answer.ttfc_ms is not None
    assert question.title == "이차함수 그래프" and question.key_concepts == ["꼭짓점", "대칭축"]
    assert question.session.title == "이차함수 그래프"
    # Every call's tokens are billed to the answer: classifier, answer and summary.
    assert len(fake_llm.requests) == 3
    assert question.answer.prompt_tokens == prompt_tokens(fake_llm.requests)


async def test_an_answer_a_moderator_hid_is_not_replayed(maice_server: str, token: str, fake_llm: FakeOpenAI,
                                                        make_user: Any) -> None:
    from conversations.moderation import message_hide

    route_steps(fake_llm)
    response, events = await post(maice_server, token, {"question": QUESTION, "client_msg_id": "q-1"})
    request_id = response.headers["x-request-id"]
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=events[0].data["session_id"])
    assert question.answer is not None
    moderator = await run_db(make_user, "moderator", is_staff=True)
    await run_db(message_hide, message=question.answer, actor=moderator)

    # Resume, the latest stream, a retry of the same POST: none of them sends the answer again.
    async with httpx2.AsyncClient(timeout=10) as client:
        for method, path in (("GET", f"/api/maice/chat/{request_id}/events"), ("GET", "/api/maice/chat")):
            replayed = await client.request(method, f"{maice_server}{path}", headers=auth(token))
            assert replayed.status_code == 410 and replayed.json()["error"]["code"] == "STREAM_HIDDEN"
            assert ANSWER_TEXT[:30] not in replayed.text
    retried, _ = await post(maice_server, token, {"question": QUESTION, "client_msg_id": "q-1"})
    assert retried.status_code == 410 and ANSWER_TEXT[:30] not in (await retried.aread()).decode()


def prompt_tokens(requests: list[Any]) -> int:
    """What the fake upstream reports as prompt tokens for these requests (half the characters)."""
    return sum(max(1, sum(len(m["content"]) for m in r.body["messages"]) // 2) for r in requests)


async def test_freepass_answers_directly(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    response, events = await post(maice_server, token, {"message": QUESTION, "mode": "freepass"})
    types = [e.type for e in events]
    assert "classification_start" not in types and types[0] == "answer_chunk"
    assert events[-2].data["answer_type"] == "freepass" and types[-1] == "summary_complete"
    assert not [r for r in fake_llm.requests if CLASSIFY in json.dumps(r.body, ensure_ascii=False)]


async def test_clarification_round_then_answer(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, classify=classification("K3", "needs_clarify"))
    _, first = await post(maice_server, token, {"question": "그래프 어떻게 해요?"})
    assert [e.type for e in first] == ["classification_start", "classification_complete", "clarification_required"]
    assert first[-1].data["questions"] == ["어떤 이차함수의 그래프인가요?", "어느 부분이 어려운가요?"]
    session_id = first[0].data["session_id"]
    # The clarifying message stores its timing and the classifier's and clarifier's tokens.
    asking = await Message.objects.aget(session_id=session_id, role="assistant")
    assert asking.ttfc_ms is not None and asking.total_ms == asking.ttfc_ms
    assert asking.prompt_tokens == prompt_tokens(fake_llm.requests) and len(fake_llm.requests) == 2

    _, second = await post(maice_server, token, {"question": "y=x^2-4x+3 같은 이차함수요", "session_id": session_id})
    types = [e.type for e in second]
    assert types[0] == "clarification_complete" and types[-2:] == ["answer_complete", "summary_complete"]
    assert second[0].data["improved_question"] == "표준형 이차함수 그래프를 그리는 단계별 방법"
    assert second[-2].data["answer_type"] == "K3"
    # The answer was asked with the improved question, once.
    answer_calls = [r for r in fake_llm.requests if ANSWER in r.body["messages"][0]["content"]]
    assert answer_calls[-1].body["messages"][-1]["content"] == "표준형 이차함수 그래프를 그리는 단계별 방법"

    question = await MaiceQuestion.objects.aget(session_id=session_id)
    rounds = [c async for c in question.clarifications.select_related("reply")]
    assert len(rounds) == 1 and rounds[0].reply is not None
    assert rounds[0].reply.content == "y=x^2-4x+3 같은 이차함수요"


async def test_unanswerable_gets_a_polite_answer(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, classify=classification("K1", "unanswerable"))
    _, events = await post(maice_server, token, {"question": "오늘 점심 메뉴 추천해 줘"})
    assert events[1].data["result"]["quality"] == "unanswerable"
    assert events[-2].data["answer_type"] == "unanswerable"
    text = "".join(e.data["content"] for e in events if e.type == "answer_chunk")
    assert "수학 학습 질문이 아니라서" in text


async def test_upstream_failure_is_an_llm_error_event(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT, chunk_size=7, fault="500"))
    _, events = await post(maice_server, token, {"question": QUESTION})
    assert events[-1].type == "error" and events[-1].data["error_code"] == "LLM_ERROR"
    assert "문제" in events[-1].data["message"]
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=events[0].data["session_id"])
    assert question.answer is not None and question.answer.status == "failed"
    # The session stays usable.
    fake_llm.reset()
    route_steps(fake_llm)
    _, again = await post(maice_server, token, {"question": QUESTION, "session_id": events[0].data["session_id"]})
    assert again[-1].type == "summary_complete"


async def test_classifier_failure_falls_back_to_rules(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    fake_llm.route(CLASSIFY, Behaviour(reply="분류할 수 없습니다", chunk_size=50))  # not JSON
    _, events = await post(maice_server, token, {"question": QUESTION})
    result = events[1].data["result"]
    assert result["knowledge_code"] in ("K1", "K2", "K3", "K4")
    assert result["quality"] in ("answerable", "needs_clarify", "unanswerable")
    question = await MaiceQuestion.objects.aget(session_id=events[0].data["session_id"])
    assert question.classified_by == "rules"


async def test_errors_before_the_stream_are_json(maice_server: str, token: str, make_user: Any,
                                                 fake_llm: FakeOpenAI) -> None:

    from conversations.services import token_issue

    route_steps(fake_llm)
    async with httpx2.AsyncClient(timeout=10) as client:
        url = f"{maice_server}/api/maice/chat"
        anonymous = await client.post(url, json={"question": QUESTION})
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "UNAUTHORIZED"
        empty = await client.post(url, json={"question": "   "}, headers=auth(token))
        assert empty.status_code == 422
        assert [f["field"] for f in empty.json()["error"]["fields"]] == ["question"]
        bad = await client.post(url, json={"question": "x" * 4001, "mode": "fast", "session_id": "abc",
                                           "client_msg_id": "x" * 65}, headers=auth(token))
        assert bad.status_code == 422
        messages = {f["field"]: f["message"] for f in bad.json()["error"]["fields"]}
        # In Korean, as everything a user reads.
        assert messages == {"question": "질문은 4000자까지 보낼 수 있습니다. (현재 4001자)",
                            "mode": "다음 중 하나여야 합니다: 'agent', 'freepass'",
                            "session_id": "정수여야 합니다.", "client_msg_id": "64자 이하로 입력해 주세요."}
        missing = await client.post(url, json={}, headers=auth(token))
        assert missing.status_code == 422
        assert missing.json()["error"]["fields"] == [{"field": "question", "message": "필수 항목입니다."}]

    _, events = await post(maice_server, token, {"question": QUESTION})
    session_id = events[0].data["session_id"]
    other = await run_db(make_user, "mallory")
    other_token = (await run_db(token_issue, user=other))[1]
    async with httpx2.AsyncClient(timeout=10) as client:
        foreign = await client.post(f"{maice_server}/api/maice/chat", json={"question": QUESTION,
                                                                             "session_id": session_id},
                                    headers=auth(other_token))
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "SESSION_NOT_FOUND"
        unknown = await client.post(f"{maice_server}/api/maice/chat", json={"question": QUESTION,
                                                                             "session_id": 999999},
                                    headers=auth(token))
        assert unknown.status_code == 404
        request_id = events[0].data["request_id"]
        for path in (f"/api/maice/chat/{request_id}/events", f"/api/maice/sessions/{session_id}"):
            assert (await client.get(maice_server + path, headers=auth(other_token))).status_code == 404
        assert (await client.post(f"{maice_server}/api/maice/chat/{request_id}/cancel",
                                  headers=auth(other_token))).status_code == 404


@pytest.fixture
def low_rate(maice_settings: Any, clock: Clock) -> None:
    maice_settings.MAICE_RATE = "2/m"


async def test_rate_limit_is_429_with_retry_after(low_rate: None, maice_server: str, token: str,
                                                  fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    for _ in range(2):
        response, events = await post(maice_server, token, {"question": QUESTION, "mode": "freepass"})
        assert response.status_code == 200 and events[-1].type == "summary_complete"
    limited, _ = await post(maice_server, token, {"question": QUESTION})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert json.loads(limited.content)["error"]["code"] == "RATE_LIMITED"


async def test_offline_tutor_answers_with_no_llm_configured(offline_server: str, token: str) -> None:
    _, events = await post(offline_server, token, {"question": "x^2 - 5x + 6 = 0 을 풀어 주세요"})
    types = [e.type for e in events]
    assert types[0] == "classification_start" and types[-1] in ("summary_complete", "clarification_required")
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=events[0].data["session_id"])
    if types[-1] == "summary_complete":
        assert question.answer is not None and question.answer.model == "offline"
        text = "".join(e.data["content"] for e in events if e.type == "answer_chunk")
        assert text == question.answer.content and text
