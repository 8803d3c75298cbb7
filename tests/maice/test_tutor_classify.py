"""Rule-based classification of Korean math questions: code, quality and curriculum tags."""

from __future__ import annotations

import pytest

from maice.tutor import classify_question

# (question, knowledge code, quality, tags that must be among the unit tags)
TABLE: list[tuple[str, str, str, set[str]]] = [
    # K3 procedural, with an expression to compute
    ("y = x² − 4x + 3의 꼭짓점", "K3", "answerable", {"이차함수", "꼭짓점"}),
    ("x^2-5x+6=0을 풀어줘", "K3", "answerable", {"이차방정식"}),
    ("2x+3=7", "K3", "answerable", {"방정식과 부등식"}),
    ("f(x)=x^3-3x 미분", "K3", "answerable", {"미분"}),
    ("∫ x^2 dx", "K3", "answerable", {"적분"}),
    ("lim x→0 sin x / x", "K3", "answerable", {"극한"}),
    ("x^2-1 인수분해", "K3", "answerable", {"인수분해"}),
    (r"\frac{1}{2}x^2 을 미분해줘", "K3", "answerable", {"미분"}),
    (r"$\int_0^1 x^2 dx$", "K3", "answerable", {"적분"}),
    ("x+y=3, x-y=1 연립방정식 풀어줘", "K3", "answerable", {"방정식과 부등식"}),
    ("x^2-3x+2<0을 풀어줘", "K3", "answerable", {"방정식과 부등식"}),
    ("x=1에서 f(x)=x^3+2x의 접선의 방정식", "K3", "answerable", {"미분", "접선"}),
    ("(x+2)^3을 전개해줘", "K3", "answerable", {"다항식"}),
    ("f(x)=x^3-3x의 극값을 구해줘", "K3", "answerable", {"미분"}),
    ("y=2x^2-8x+5의 최솟값", "K3", "answerable", {"이차함수", "최대·최소"}),
    # K3 procedural, about a method
    ("이차함수의 그래프를 그리는 방법을 알려주세요", "K3", "answerable", {"이차함수", "그래프"}),
    ("삼각함수 그래프 주기 구하는 방법", "K3", "answerable", {"삼각함수", "주기"}),
    ("극한값을 구하는 방법", "K3", "answerable", {"극한"}),
    ("정규분포 표준화하는 방법", "K3", "answerable", {"통계", "정규분포"}),
    # K1 factual
    ("로그의 정의가 뭐야?", "K1", "answerable", {"지수와 로그"}),
    ("등차수열의 합 공식이 뭐야", "K1", "answerable", {"수열", "등차수열", "수열의 합"}),
    ("벡터의 내적이 뭐예요", "K1", "answerable", {"벡터"}),
    ("sin 30°의 값은?", "K1", "answerable", {"삼각함수"}),
    ("소수가 뭐야?", "K1", "answerable", {"수와 연산"}),
    ("log₂8의 값은?", "K1", "answerable", {"지수와 로그"}),
    # K2 conceptual
    ("미분과 적분의 관계가 뭐예요?", "K2", "answerable", {"미분", "적분"}),
    ("순열과 조합의 차이가 뭐야", "K2", "answerable", {"경우의 수", "순열", "조합"}),
    ("왜 인수분해를 하면 근을 구할 수 있어?", "K2", "answerable", {"인수분해"}),
    ("조건부확률이랑 독립의 차이", "K2", "answerable", {"확률", "조건부확률"}),
    ("판별식은 왜 b^2-4ac야?", "K2", "answerable", {"이차방정식", "판별식"}),
    # K4 metacognitive
    ("수열 문제 풀다가 막혔어요 어떻게 접근해야 할까요", "K4", "answerable", {"수열"}),
    ("이차방정식 문제에서 자꾸 실수하는데 어떻게 점검해야 할까요?", "K4", "answerable", {"이차방정식"}),
    # needs_clarify: scope too wide, goal or level unclear, terms confused
    ("미분 알려줘", "K1", "needs_clarify", {"미분"}),
    ("미적분 전부 설명해줘", "K1", "needs_clarify", {"미분", "적분"}),
    ("수학 어려워요", "K1", "needs_clarify", set()),
    ("이 문제 어떻게 풀어요?", "K3", "needs_clarify", set()),
    ("수학 공부 어떻게 해야 해?", "K4", "needs_clarify", set()),
    ("수능 수학 1등급 받는 법", "K4", "needs_clarify", set()),
    ("이거 답이 뭐야", "K1", "needs_clarify", set()),
    ("숙제 대신 해줘", "K1", "needs_clarify", set()),
    ("이차방정식의 꼭짓점 구하는 법", "K3", "needs_clarify", {"이차방정식", "이차함수"}),
    ("적분으로 접선의 기울기 구하는 법", "K3", "needs_clarify", {"미분", "적분"}),
    # unanswerable: not math, exam cheating, garbage
    ("시험 중인데 답만 빨리 알려줘", "K1", "unanswerable", set()),
    ("지금 모의고사 보는 중인데 3번 답 뭐야", "K1", "unanswerable", set()),
    ("오늘 날씨 어때", "K1", "unanswerable", set()),
    ("점심 메뉴 추천해줘", "K1", "unanswerable", set()),
    ("안녕하세요", "K1", "unanswerable", set()),
    ("ㅋㅋㅋㅋ", "K1", "unanswerable", set()),
    ("asdfasdf", "K1", "unanswerable", set()),
    ("!!!!", "K1", "unanswerable", set()),
    ("", "K1", "unanswerable", set()),
]


@pytest.mark.parametrize(("question", "code", "quality", "tags"), TABLE, ids=[row[0] or "<empty>" for row in TABLE])
def test_classification_table(question: str, code: str, quality: str, tags: set[str]) -> None:
    result = classify_question(question)
    assert (result["knowledge_code"], result["quality"]) == (code, quality)
    assert tags <= set(result["unit_tags"]), result["unit_tags"]
    assert len(result["unit_tags"]) <= 4
    assert result["reasoning"] and any("가" <= ch <= "힣" for ch in result["reasoning"])


def test_the_table_is_large_and_covers_every_code_and_quality() -> None:
    assert len(TABLE) >= 40
    assert {row[1] for row in TABLE} == {"K1", "K2", "K3", "K4"}
    assert {row[2] for row in TABLE} == {"answerable", "needs_clarify", "unanswerable"}


def test_result_has_exactly_the_contract_fields() -> None:
    result = classify_question("이차함수의 그래프를 그리는 방법을 알려주세요")
    assert set(result) == {"knowledge_code", "quality", "unit_tags", "reasoning"}
    assert result["unit_tags"][:2] == ["이차함수", "그래프"]


def test_reasoning_says_why_a_question_needs_clarification() -> None:
    assert "범위" in classify_question("미적분 전부 설명해줘")["reasoning"]
    assert "혼동" in classify_question("이차방정식의 꼭짓점 구하는 법")["reasoning"]
    assert "부정행위" in classify_question("시험 중인데 답만 빨리 알려줘")["reasoning"]


@pytest.mark.parametrize("garbage", ["\x00\x01", "😀😀😀", "a" * 5000, "가" * 4000, "((((((((", "=" * 300,
                                     "__import__('os').system('ls')", "x" * 300 + "^2"])
def test_garbage_never_raises(garbage: str) -> None:
    result = classify_question(garbage)
    assert result["quality"] in {"answerable", "needs_clarify", "unanswerable"}
