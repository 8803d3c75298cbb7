"""What the agent sends upstream, read from the fake server's record of each request."""

from __future__ import annotations

from typing import Any

import pytest

from conversations.testing.fake_openai import FakeOpenAI, RecordedRequest
from maice import prompts
from tests.maice.conftest import ANSWER, ANSWER_TEXT, CLASSIFY, SUMMARIZE, route_steps
from tests.maice.test_api import post

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = "이차함수의 그래프를 그리는 방법을 알려주세요"
SECOND = "그럼 꼭짓점은 어떻게 찾나요?"


def calls(fake: FakeOpenAI, marker: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if marker in r.body["messages"][0]["content"]]


def occurrences(request: RecordedRequest, text: str) -> int:
    return sum(str(m["content"]).count(text) for m in request.body["messages"])


async def test_classifier_prompt_has_the_rubric_and_the_question_once(maice_server: str, token: str,
                                                                      fake_llm: FakeOpenAI, settings: Any) -> None:
    route_steps(fake_llm)
    await post(maice_server, token, {"question": FIRST})
    [classify] = calls(fake_llm, CLASSIFY)
    system, user = classify.body["messages"]
    assert system == {"role": "system", "content": prompts.CLASSIFY_SYSTEM}
    for rubric in ("K1 사실적 지식", "K2 개념적 지식", "K3 절차적 지식", "K4 메타인지", "answerable",
                   "needs_clarify", "unanswerable", "시험 부정행위"):
        assert rubric in system["content"]
    assert user["role"] == "user" and user["content"].endswith(FIRST)
    assert occurrences(classify, FIRST) == 1
    assert classify.body["response_format"] == {"type": "json_object"}
    assert classify.body["model"] == settings.MAICE_LLM_MODEL


async def test_answer_prompt_carries_the_session_history_and_the_question_once(
    maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm)
    _, first = await post(maice_server, token, {"question": FIRST})
    session_id = first[0].data["session_id"]
    await post(maice_server, token, {"question": SECOND, "session_id": session_id})
    answer = calls(fake_llm, ANSWER)[-1]
    messages = answer.body["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(prompts.ANSWER_SYSTEM)
    assert prompts.ANSWER_GUIDANCE["K3"] in messages[0]["content"]
    assert messages[1:] == [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": ANSWER_TEXT},
        {"role": "user", "content": SECOND},
    ]
    assert occurrences(answer, SECOND) == 1 and occurrences(answer, FIRST) == 1
    assert "response_format" not in answer.body and answer.body["stream"] is True
    summary = calls(fake_llm, SUMMARIZE)[-1]
    assert summary.body["response_format"] == {"type": "json_object"}
    assert occurrences(summary, SECOND) == 1 and ANSWER_TEXT in summary.body["messages"][1]["content"]


async def test_freepass_prompt_asks_for_a_direct_answer(maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    await post(maice_server, token, {"question": FIRST, "mode": "freepass"})
    answer = calls(fake_llm, ANSWER)[-1]
    assert answer.body["messages"][0]["content"] == prompts.FREEPASS_SYSTEM
    assert answer.body["messages"][-1] == {"role": "user", "content": FIRST}


def test_prompt_builders_put_the_students_words_last_and_once() -> None:
    rounds = [{"questions": ["어떤 함수인가요?"], "answer": "이차함수요"}]
    classification = {"knowledge_code": "K3", "quality": "needs_clarify", "unit_tags": ["이차함수"], "reasoning": ""}
    for messages in (
        prompts.classify_messages(FIRST),
        prompts.clarify_messages(question=FIRST, classification=classification, previous=rounds),
        prompts.improve_messages(question=FIRST, previous=rounds),
        prompts.answer_messages(question=FIRST, mode="agent", classification=classification, history=[]),
        prompts.summarize_messages(question=FIRST, answer="답변"),
    ):
        assert messages[-1].role == "user"
        assert sum(m.content.count(FIRST) for m in messages) == 1
    improve = prompts.improve_messages(question=FIRST, previous=rounds)
    assert "1차 명료화 질문: 어떤 함수인가요?" in improve[0].content and "학생의 답: 이차함수요" in improve[0].content
    unanswerable = prompts.answer_messages(question=FIRST, mode="agent", history=[],
                                           classification={**classification, "quality": "unanswerable"})
    assert unanswerable[0].content == prompts.UNANSWERABLE_SYSTEM
