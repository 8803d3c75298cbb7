"""Rule-based classification of a student's question: knowledge code, quality, unit tags.

The agent's fallback when the LLM fails and the offline provider's ``classify`` step.
Pure and fast: regular expressions on the text, Kiwi lemmas for the predicates.
"""

from __future__ import annotations

import re
from typing import Literal, TypedDict

from maice.tutor import vocab
from maice.tutor.mathexpr import MathQuery, analyze
from maice.tutor.morph import analyze as morphemes

KnowledgeCode = Literal["K1", "K2", "K3", "K4"]
Quality = Literal["answerable", "needs_clarify", "unanswerable"]

KIND_NAMES: dict[str, str] = {"K1": "사실적", "K2": "개념적", "K3": "절차적", "K4": "메타인지적"}
# Reasons the answer step tells apart (its polite reply differs).
REASON_EMPTY = "수학 질문으로 읽을 수 있는 내용이 없음"
REASON_CHEATING = "시험 중 부정행위로 볼 수 있는 요청이라 도울 수 없음"
MAX_TAGS = 4

_HANGUL = re.compile(r"[가-힣]")
_JAMO_ONLY = re.compile(r"^[\sㄱ-ㅎㅏ-ㅣ!?.~…ㅋㅎ^]+$")
_GENERIC_LEMMAS = frozenset({"알리", "주", "설명", "하", "좀", "수학", "대하", "것", "거", "이", "그", "저", "요", "뭐",
                             "궁금", "알", "싶", "보", "공부", "내용", "부분", "개념", "문제", "질문", "있", "되", "제",
                             "나", "저희", "우리", "수", "때", "더", "잘", "좋", "어떻", "배우", "가르치", "말"})


class Classification(TypedDict):
    knowledge_code: KnowledgeCode
    quality: Quality
    unit_tags: list[str]
    reasoning: str


def unit_tags(text: str, query: MathQuery | None = None) -> list[str]:
    """Curriculum units, then finer topics, from the words and the expression's shape."""
    tags = [tag for tag, pattern in vocab.UNITS if pattern.search(text)]
    if query is not None and query.found and not tags:
        tags.extend(_expression_units(text, query))
    tags.extend(tag for tag, pattern in vocab.SUBTOPICS if pattern.search(text) and tag not in tags)
    # "방정식과 부등식" says nothing more once 이차방정식 is there.
    if "이차방정식" in tags and "방정식과 부등식" in tags:
        tags.remove("방정식과 부등식")
    return tags[:MAX_TAGS]


def _expression_units(text: str, query: MathQuery) -> list[str]:
    joined = " ".join(query.expressions)
    if query.approach:
        return ["극한"]
    if query.integral:
        return ["적분"]
    if query.derivative:
        return ["미분"]
    if re.search(r"sin|cos|tan", joined):
        return ["삼각함수"]
    if "log" in joined or re.search(r"\^ \(?\s*[a-z]", joined):
        return ["지수와 로그"]
    quadratic = re.search(r"\^ \(? ?2\b", joined) and not re.search(r"\^ \(? ?[3-9]", joined)
    if query.function_name and quadratic:
        return ["이차함수"]
    if query.function_name:
        return ["함수"]
    if any(rel in ("<", "<=", ">", ">=") for rel in query.relations):
        return ["방정식과 부등식"]
    if any(rel == "=" for rel in query.relations):
        return ["이차방정식"] if quadratic else ["방정식과 부등식"]
    return ["다항식"] if re.search(r"[a-z]", joined) else []


def _knowledge_code(text: str, lemmas: frozenset[str], query: MathQuery) -> KnowledgeCode:
    if vocab.K4_INTENT.search(text) or lemmas & vocab.K4_LEMMAS:
        return "K4"
    if vocab.K2_INTENT.search(text):
        return "K2"
    # "sin 30°의 값은?" asks for a value to know, not a method.
    if query.found and query.numeric and vocab.K1_INTENT.search(text) and not vocab.K3_INTENT.search(text):
        return "K1"
    has_expression = query.found
    if vocab.K3_INTENT.search(text) or lemmas & vocab.K3_LEMMAS or has_expression:
        return "K3"
    if vocab.K1_INTENT.search(text):
        return "K1"
    return "K1"


def _has_intent(text: str, lemmas: frozenset[str]) -> bool:
    return bool(
        vocab.K1_INTENT.search(text) or vocab.K2_INTENT.search(text) or vocab.K3_INTENT.search(text)
        or vocab.K4_INTENT.search(text) or lemmas & (vocab.K3_LEMMAS | vocab.K4_LEMMAS)
    )


def classify_question(question: str) -> Classification:
    """``{"knowledge_code", "quality", "unit_tags", "reasoning"}`` for one question."""
    text = (question or "").strip()
    query = analyze(text)
    tags = unit_tags(text, query)
    if not text or _JAMO_ONLY.match(text) or (not _HANGUL.search(text) and not query.found):
        return _result("K1", "unanswerable", tags, REASON_EMPTY)
    if vocab.CHEATING.search(text):
        return _result("K1", "unanswerable", tags, REASON_CHEATING)

    morphs = morphemes(text)
    code = _knowledge_code(text, morphs.lemmas, query)
    topic = "·".join(t for t in tags[:2]) or "수학"
    kind = KIND_NAMES[code]
    is_math = bool(tags or query.found or vocab.MATH_WORDS.search(text) or morphs.nouns & vocab.MATH_NOUNS)
    if not is_math and vocab.MISSING_PROBLEM.search(text) and re.search(r"답|풀|구하|계산|문제|숙제|과제", text):
        # "이거 답이 뭐야": a problem the student means but did not type.
        return _result(code, "needs_clarify", tags, "가리키는 문제나 식이 질문에 없어 목표가 불분명함")
    if not is_math:
        return _result(code, "unanswerable", tags, "수학과 관련된 내용을 찾을 수 없는 질문")

    for pattern, _question in vocab.CONFUSIONS:
        if pattern.search(text):
            return _result(code, "needs_clarify", tags, f"{topic}에 대한 {kind} 질문이지만 용어가 혼동되어 있음")
    if query.found:
        return _result(code, "answerable", tags, f"식이 주어진 {topic} {kind} 질문")
    if vocab.MISSING_PROBLEM.search(text) and not _specific(text, morphs.lemmas, tags):
        return _result(code, "needs_clarify", tags, "가리키는 문제나 식이 질문에 없어 목표가 불분명함")
    if vocab.WIDE_SCOPE.search(text):
        return _result(code, "needs_clarify", tags, f"{topic} 범위 전체를 묻고 있어 범위가 너무 넓음")
    if not tags:
        if code == "K4" and re.search(r"공부|시험|내신|수능", text):
            return _result(code, "needs_clarify", tags, "학습 전략 질문이지만 학년·단원·어려운 점이 불분명함")
        if vocab.VAGUE_HELP.search(text) or not _has_intent(text, morphs.lemmas):
            return _result(code, "needs_clarify", tags, "어떤 단원의 무엇이 궁금한지 불분명함")
        return _result(code, "needs_clarify", tags, "질문의 단원과 대상이 불분명함")
    if not _has_intent(text, morphs.lemmas) and not _specific(text, morphs.lemmas, tags):
        return _result(code, "needs_clarify", tags, f"{topic} 단원만 언급되어 궁금한 부분이 불분명함")
    return _result(code, "answerable", tags, f"{topic}에 대한 {kind} 질문")


def _specific(text: str, lemmas: frozenset[str], tags: list[str]) -> bool:
    """More than a unit's name: a sub-topic, or content words beyond the generic ones."""
    if any(tag for tag, pattern in vocab.SUBTOPICS if pattern.search(text)):
        return True
    unit_words = {w for tag in tags for w in re.split(r"[\s·]", tag)}
    content = {lemma for lemma in lemmas if _HANGUL.search(lemma)} - _GENERIC_LEMMAS - unit_words
    content = {c for c in content if not any(c in tag or tag in c for tag in tags)}
    return len(content) >= 2


def _result(code: KnowledgeCode, quality: Quality, tags: list[str], reasoning: str) -> Classification:
    return {"knowledge_code": code, "quality": quality, "unit_tags": tags, "reasoning": reasoning}
