"""The offline classifier's content: codes, questions, explanations, verification."""

from __future__ import annotations

import pytest

from customs.hs.classifier import (
    OfflineResult,
    classify_offline,
    code_digits,
    code_exists,
    explain,
    format_code,
    mentions_only_loaded_codes,
    missing_facts,
    verify,
)
from customs.hs.retrieval import Candidate, Entry, Example, HSIndex
from tests.customs.hs_fixtures import CODES, HS4_KO, HS6_KO, PRODUCTS

TITLES = {**HS4_KO, **HS6_KO}


@pytest.fixture(scope="module")
def index() -> HSIndex:
    headings = [Entry(c, t, HS4_KO.get(c, "")) for _, c, t, _, level in CODES if level == "4"]
    subheadings = [Entry(c, t, HS6_KO.get(c, "")) for _, c, t, _, level in CODES if level == "6"]
    return HSIndex(headings=headings, subheadings=subheadings, examples=[Example(n, c) for n, c in PRODUCTS])


def _result(*codes: str, confidence: float = 0.3, terms: dict[str, float] | None = None) -> OfflineResult:
    candidates = [Candidate(hs6=c, score=2.0 - i * 0.1, title_score=1.0)
                  for i, c in enumerate(codes)]
    return OfflineResult(candidates=candidates, confidence=confidence, terms=terms or {"물건": 1.0})


def test_codes_are_written_and_read_in_one_style(index: HSIndex) -> None:
    assert format_code("851830") == "8518.30.0000"
    assert format_code("8518309000") == "8518.30.9000"
    assert code_digits("8518.30") == code_digits("8518.30.0000") == "8518300000"
    assert code_digits("85183") is None and code_digits(8518300000) is None
    assert code_exists(index, "8518.30.0000")  # a loaded subheading
    assert code_exists(index, "8518.30.9000")  # a loaded example's HSK code
    assert not code_exists(index, "8518.30.1234") and not code_exists(index, "9999.99.0000")


@pytest.mark.parametrize(("text", "loaded"), [
    ("GRI 1 적용 - 제8518호; GRI 6 적용 - 소호 8518.30", True),
    ("8518.30.9000 또는 8518309000", True),
    ("2026.01.01 기준, 가격 1,234.56원", True),
    ("8517.12.0000과 비교", False),
    ("제8519호", False),
    ("8518.30.12", False),
])
def test_codes_cited_in_text_must_be_loaded(index: HSIndex, text: str, loaded: bool) -> None:
    assert mentions_only_loaded_codes(index, text) is loaded


@pytest.mark.parametrize(("codes", "description", "facts"), [
    # Seats told apart by the material of their frame.
    (("940161", "940171"), "의자", ["material"]),
    (("940161", "940171"), "금속 의자", []),
    # A phone or a plastic article: what it is made of and what it does.
    (("851713", "392690"), "케이스", ["material", "function", "use"]),
    # Knitted (chapter 61) or woven (chapter 62) shirts.
    (("610910", "620520"), "면 셔츠", ["knit"]),
    (("610910", "620520"), "니트 면 셔츠", []),
])
def test_questions_ask_for_what_decides_between_the_candidates(codes: tuple[str, ...], description: str,
                                                               facts: list[str]) -> None:
    said = {word: 1.0 for word in description.split()}
    assert missing_facts(_result(*codes, terms=said), description) == facts


def test_no_questions_when_retrieval_is_sure_or_the_description_is_detailed() -> None:
    assert missing_facts(_result("940161", "940171", confidence=0.8), "의자") == []
    detailed = {"사무용": 1.0, "회전": 1.0, "의자": 1.0, "쿠션": 1.0}
    assert missing_facts(_result("940161", "940171", terms=detailed), "사무용 회전 의자 쿠션") == []
    assert missing_facts(_result(), "뭔가") == ["material", "function", "use"]


def test_the_explanation_names_matched_titles_cases_and_the_gri(index: HSIndex) -> None:
    description = "블루투스 무선 이어폰 헤드폰 세트 미조립"
    result = classify_offline(index=index, description=description)
    explanation = explain(result=result, description=description, index=index, titles=TITLES)
    assert "제8518호" in explanation.reason and "이어폰" in explanation.reason
    assert "블루투스 무선 이어폰 TWS-100" in explanation.reason  # the published case behind the code
    assert explanation.gri.startswith("GRI 1 적용")
    for rule in ("GRI 2(a)", "GRI 3(b)", "GRI 6 적용"):
        assert rule in explanation.gri
    assert mentions_only_loaded_codes(index, explanation.reason + explanation.gri)
    assert "관세청 품목분류 사례 2건" in explanation.sources  # the TWS earphones and the wired headphones


def test_verification_keeps_a_code_that_still_leads_and_names_a_better_alternative(index: HSIndex) -> None:
    held = verify(index=index, chosen="8518.30.9000", alternatives=["8518.10.0000"],
                  description="블루투스 무선 이어폰\n네 맞아요", titles=TITLES)
    assert held.holds and held.best_code == "8518.30.9000" and "적절한 분류" in held.message
    moved = verify(index=index, chosen="8518.30.9000", alternatives=["8518.10.0000"],
                   description="이어폰인 줄 알았는데 방송용 콘덴서 마이크로폰 스탠드입니다", titles=TITLES)
    assert not moved.holds and moved.best_code == "8518.10.0000" and "8518.10.0000" in moved.message


def test_what_was_said_is_matched_as_words_not_letters() -> None:
    speaker = _result("851830", "392690", terms={"speaker": 1.0})
    # "pe" (polyethylene) is no answer hidden in "speaker", nor "면" (cotton) in "면도기".
    assert "material" in missing_facts(speaker, "bluetooth speaker")
    assert "material" in missing_facts(_result("851830", "392690", terms={"면도기": 1.0}), "면도기")
    assert "material" not in missing_facts(_result("851830", "392690", terms={"면": 1.0}), "면 소재")
    assert "material" not in missing_facts(_result("851830", "392690"), "플라스틱제 케이스")
