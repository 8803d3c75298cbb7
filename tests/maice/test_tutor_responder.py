"""The offline provider answers every agent step of product "maice" through the real gateway."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conversations.llm import ChatMessage, ChatRequest, get_provider
from maice.tutor import respond

pytestmark = pytest.mark.usefixtures("settings")


async def ask(step: str, *, json_mode: bool = False, **context: Any) -> str:
    """What the agent gets back from the gateway with no LLM configured."""
    request = ChatRequest(product="maice", messages=(ChatMessage("user", str(context.get("question", ""))),),
                          model="m", json_mode=json_mode, context={"step": step, **context})
    completion = await get_provider().complete(request)
    assert completion.usage.model == "offline"
    return completion.text


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    settings.LLM_BASE_URL = ""


async def test_classify_step_returns_the_classification_json() -> None:
    reply = json.loads(await ask("classify", json_mode=True, question="이차함수의 그래프를 그리는 방법을 알려주세요"))
    assert reply == {"knowledge_code": "K3", "quality": "answerable", "unit_tags": ["이차함수", "그래프"],
                     "reasoning": reply["reasoning"]}
    assert "절차적" in reply["reasoning"]


async def test_answer_step_computes_a_worked_answer_in_markdown_and_latex() -> None:
    answer = await ask("answer", question="x^2-5x+6=0을 풀어줘", classification=None, mode="freepass", history=[])
    assert "$x = 2$ 또는 $x = 3$" in answer
    assert "## " in answer and answer.count("$") % 2 == 0
    vertex = await ask("answer", question="y = x² − 4x + 3의 꼭짓점", mode="agent", history=[],
                       classification={"knowledge_code": "K3", "quality": "answerable", "unit_tags": ["이차함수"],
                                       "reasoning": "r"})
    assert r"$(2,\ -1)$" in vertex and "축의 방정식은 $x = 2$" in vertex


@pytest.mark.parametrize(("question", "code", "expected"), [
    ("로그의 정의가 뭐야?", "K1", r"\log_a N"),
    ("미분과 적분의 관계가 뭐예요?", "K2", "미적분의 기본정리"),
    ("이차함수의 그래프를 그리는 방법을 알려주세요", "K3", "꼭짓점"),
    ("수열 문제 풀다가 막혔어요 어떻게 접근해야 할까요", "K4", "전략"),
])
async def test_answers_without_an_expression_teach_the_topic(question: str, code: str, expected: str) -> None:
    classification = {"knowledge_code": code, "quality": "answerable", "unit_tags": [], "reasoning": "r"}
    answer = await ask("answer", question=question, classification=classification, mode="agent", history=[])
    assert expected in answer
    assert question not in answer  # useful, not an echo
    assert len(answer) > 150


async def test_a_formula_quoted_in_a_why_question_is_explained_not_computed() -> None:
    answer = await ask("answer", question="판별식은 왜 b^2-4ac야?", classification=None, mode="freepass", history=[])
    assert "완전제곱식" in answer and "계산하기 어려운" not in answer


async def test_basic_terms_and_general_strategy_have_answers_too() -> None:
    prime = await ask("answer", question="소수가 뭐야?", classification=None, mode="freepass", history=[])
    assert "prime" in prime and "decimal" in prime  # both Korean meanings of 소수
    study = await ask("answer", question="수학 공부 어떻게 해야 해?", classification=None, mode="freepass", history=[])
    assert "오답 노트" in study and "문제 해결 4단계" in study


async def test_k3_method_answers_include_a_computed_example() -> None:
    answer = await ask("answer", question="이차함수의 그래프를 그리는 방법을 알려주세요", mode="agent", history=[],
                       classification={"knowledge_code": "K3", "quality": "answerable", "unit_tags": ["이차함수"],
                                       "reasoning": "r"})
    assert "예제" in answer and r"$(2,\ -1)$" in answer


async def test_unanswerable_questions_get_a_short_polite_explanation() -> None:
    for question, marker in (("오늘 날씨 어때", "수학과 관련 없는"), ("시험 중인데 답만 빨리 알려줘", "시험"),
                             ("ㅋㅋㅋㅋ", "이해하지 못했어요")):
        answer = await ask("answer", question=question, mode="agent", history=[],
                           classification={"knowledge_code": "K1", "quality": "unanswerable", "unit_tags": [],
                                           "reasoning": "r"})
        assert marker in answer and len(answer) < 300


async def test_a_follow_up_uses_the_expression_from_history() -> None:
    answer = await ask("answer", question="그럼 이 함수를 미분하면?", classification=None, mode="freepass",
                       history=[{"question": "y=x^2-4x+3의 꼭짓점", "answer": "(2, -1)"}])
    assert "y' = 2 x - 4" in answer


async def test_an_expression_it_cannot_compute_gets_an_honest_answer() -> None:
    answer = await ask("answer", question="∫ e^(x^2) dx 적분해줘", classification=None, mode="freepass", history=[])
    assert "계산하기 어려운" in answer
    assert "erfi" not in answer


async def test_clarify_step_asks_what_is_missing() -> None:
    reply = json.loads(await ask("clarify", json_mode=True, question="미분 알려줘", round=1, previous=[],
                                 classification={"knowledge_code": "K1", "quality": "needs_clarify",
                                                 "unit_tags": ["미분"], "reasoning": "r"}))
    questions = reply["questions"]
    assert 1 <= len(questions) <= 3 and all(re.search(r"[가-힣].*\?", q) for q in questions)
    assert "접선의 방정식" in questions[0]

    missing = json.loads(await ask("clarify", question="이 문제 어떻게 풀어요?", round=1, previous=[], classification={}))
    assert "식이나 조건" in missing["questions"][0]
    confused = json.loads(await ask("clarify", question="이차방정식의 꼭짓점 구하는 법", round=1, previous=[],
                                    classification={}))
    assert "이차함수" in confused["questions"][0]


async def test_later_clarify_rounds_ask_fewer_new_questions() -> None:
    first = json.loads(await ask("clarify", question="미분 알려줘", round=1, previous=[], classification={}))
    second = json.loads(await ask("clarify", question="미분 알려줘", round=2, classification={},
                                  previous=[{"questions": first["questions"], "answer": "잘 모르겠어요"}]))
    assert 1 <= len(second["questions"]) <= 2
    assert not set(second["questions"]) & set(first["questions"])


async def test_improve_step_merges_the_answers_into_one_question() -> None:
    reply = json.loads(await ask("improve", question="이 문제 어떻게 풀어요?",
                                 previous=[{"questions": ["식을 적어 주세요"], "answer": "x^2-5x+6=0"}]))
    assert reply == {"improved_question": "x^2-5x+6=0 어떻게 풀어요?", "needs_more": False}
    topic = json.loads(await ask("improve", question="미분 알려줘",
                                 previous=[{"questions": ["어떤 부분?"], "answer": "접선의 방정식 구하는 방법이요"}]))
    assert topic == {"improved_question": "미분: 접선의 방정식 구하는 방법", "needs_more": False}
    unknown = json.loads(await ask("improve", question="미분 알려줘",
                                   previous=[{"questions": ["어떤 부분?"], "answer": "몰라요"}]))
    assert unknown["needs_more"] is True


async def test_summarize_step_returns_summary_title_and_concepts() -> None:
    answer = await ask("answer", question="y = x² − 4x + 3의 꼭짓점", classification=None, mode="agent", history=[])
    reply = json.loads(await ask("summarize", question="y = x² − 4x + 3의 꼭짓점", answer=answer))
    assert set(reply) == {"summary", "title", "key_concepts"}
    assert reply["title"] == "이차함수의 꼭짓점" and len(reply["title"]) <= 15
    assert "\n" not in reply["summary"] and "이차함수" in reply["summary"]
    assert {"꼭짓점", "완전제곱식"} <= set(reply["key_concepts"])


def test_the_app_registers_the_responder_for_maice() -> None:
    from conversations.llm.offline import _responders

    assert _responders["maice"] is respond
