"""Each agent step on its own: strict JSON validated, rules on any failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from maice import steps
from tests.maice.conftest import CLARIFY, CLASSIFY, IMPROVE, SUMMARIZE, classification

QUESTION = "이차방정식 x^2 - 5x + 6 = 0 은 어떻게 풀어요?"


async def test_classify_takes_a_valid_llm_answer(fake_llm: FakeOpenAI) -> None:
    fake_llm.route(CLASSIFY, Behaviour(reply="```json\n" + classification("K3") + "\n```", chunk_size=40))
    found = await steps.classify(QUESTION)
    assert (found.knowledge_code, found.quality, found.source) == ("K3", "answerable", "llm")
    assert found.unit_tags == ["이차함수", "그래프"]


@pytest.mark.parametrize("reply", [
    "K3입니다",
    json.dumps({"knowledge_code": "K9", "quality": "answerable", "unit_tags": [], "reasoning": ""}),
    json.dumps({"knowledge_code": "K1", "quality": "maybe", "unit_tags": [], "reasoning": ""}),
    json.dumps({"knowledge_code": "K1", "quality": "answerable", "unit_tags": "이차", "reasoning": ""}),
    json.dumps(["K1"]),
])
async def test_classify_falls_back_to_rules_on_a_bad_answer(fake_llm: FakeOpenAI, reply: str) -> None:
    fake_llm.route(CLASSIFY, Behaviour(reply=reply, chunk_size=40))
    found = await steps.classify(QUESTION)
    assert found.source == "rules"
    assert found.knowledge_code in steps.KNOWLEDGE_CODES and found.quality in steps.QUALITIES


async def test_classify_falls_back_to_rules_when_the_upstream_fails(fake_llm: FakeOpenAI) -> None:
    fake_llm.route(CLASSIFY, Behaviour(fault="500"))
    assert (await steps.classify(QUESTION)).source == "rules"


async def test_clarify_improve_and_summarize_validate_and_fall_back(fake_llm: FakeOpenAI) -> None:
    c = steps.Classification("K3", "needs_clarify", ["이차함수"], "")
    fake_llm.route(CLARIFY, Behaviour(reply=json.dumps({"questions": ["하나", "둘", "셋", "넷"]}), chunk_size=40))
    assert await steps.clarify(question=QUESTION, classification=c, round=1, previous=[]) == ["하나", "둘", "셋"]
    fake_llm.reset()
    fake_llm.route(CLARIFY, Behaviour(reply=json.dumps({"questions": []}), chunk_size=40))
    fallback = await steps.clarify(question=QUESTION, classification=c, round=1, previous=[])
    assert 1 <= len(fallback) <= 3 and "이차함수" in fallback[0]

    previous: list[dict[str, Any]] = [{"questions": ["어떤 방정식?"], "answer": "x^2-5x+6=0"}]
    fake_llm.route(IMPROVE, Behaviour(reply=json.dumps({"improved_question": "", "needs_more": False}), chunk_size=40))
    improved = await steps.improve(question=QUESTION, previous=previous)
    assert improved == steps.Improvement(f"{QUESTION} (x^2-5x+6=0)", False)

    fake_llm.route(SUMMARIZE, Behaviour(reply=json.dumps({"summary": "근의 공식\n학습", "title": "아주 긴 제목이 들어오는 경우입니다 정말로",
                                                          "key_concepts": ["근의 공식"]}, ensure_ascii=False),
                                        chunk_size=40))
    summary = await steps.summarize(question=QUESTION, answer="답")
    assert summary.summary == "근의 공식 학습" and len(summary.title) <= 15 and summary.key_concepts == ["근의 공식"]


def test_answer_type_follows_mode_and_quality() -> None:
    k2 = steps.Classification("K2", "answerable")
    assert steps.answer_type(mode="agent", classification=k2) == "K2"
    assert steps.answer_type(mode="freepass", classification=None) == "freepass"
    assert steps.answer_type(mode="agent", classification=steps.Classification("K1", "unanswerable")) == "unanswerable"


def test_summary_fallback_title_fits() -> None:
    summary = steps.summary_fallback("  이차방정식의   근의 공식을 유도하는 과정이 궁금해요  ", "답", ["근의 공식"])
    assert len(summary.title) <= 15 and "\n" not in summary.summary and summary.key_concepts == ["근의 공식"]


def test_summary_fallback_titles_by_unit_and_never_copies_personal_data() -> None:
    # The title is plain text in the session list: the units, not the student's words.
    assert steps.summary_fallback("선생님 제 번호 010-1234-5678 인데 이차함수 질문요", "답", ["이차함수", "그래프"]).title \
        == "이차함수, 그래프"
    untagged = steps.summary_fallback("010-1234-5678 로 연락 주세요 수학 질문", "답")
    assert "1234" not in untagged.title and "1234" not in untagged.summary
