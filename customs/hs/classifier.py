"""The offline classifier: retrieval results turned into the three stages' content.

Pure functions over an ``HSIndex`` (no database, no LLM), so the benchmark measures
exactly what users get without an LLM.

Codes are written ``8517.13.0000``: an HS subheading followed by ``0000`` when only the
subheading is known, or the 10-digit Korean tariff code (HSK) of a published
classification example when the answer rests on that example (its product name is the
best match of the whole example set and it lies in the chosen subheading). Either way
the code exists in the loaded data: the subheading for ``….0000`` codes, the example
for the others (``code_exists``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from customs.hs.retrieval import Candidate, HSIndex, confidence
from customs.hs.text import analyzer

_DIGITS = re.compile(r"\D")
TOP_K = 5


def format_code(digits: str) -> str:
    digits = digits.ljust(10, "0")
    return f"{digits[:4]}.{digits[4:6]}.{digits[6:10]}"


def code_digits(code: object) -> str | None:
    """``"8517.13.0000"``, ``"8517130000"`` or ``"8517.13"`` as 10 digits; None if not a code."""
    if not isinstance(code, str) or len(code) > 20:
        return None
    digits = _DIGITS.sub("", code)
    if len(digits) == 6:
        digits += "0000"
    return digits if len(digits) == 10 else None


def code_exists(index: HSIndex, code: object) -> bool:
    digits = code_digits(code)
    if digits is None:
        return False
    if digits in index.example_codes:
        return True
    return digits.endswith("0000") and digits[:6] in index.subheadings


# Codes written inside free text: "8517.13", "8517.13.0000", "8517130000", "제8517호".
_CODE_IN_TEXT = re.compile(r"(?<![\d.])(\d{4})\.(\d{2})(?:\.(\d{2,4}))?(?![\d])|(?<!\d)(\d{10})(?!\d)")
_HEADING_IN_TEXT = re.compile(r"(?<!\d)(\d{4})\s*호")


def mentions_only_loaded_codes(index: HSIndex, text: str) -> bool:
    """False when ``text`` names a heading, subheading or tariff code that is not loaded."""
    for match in _CODE_IN_TEXT.finditer(text):
        if match.group(4):
            digits = match.group(4)
        else:
            hs6, national = match.group(1) + match.group(2), match.group(3) or ""
            if match.group(1) not in index.headings and 1900 <= int(match.group(1)) <= 2100:
                continue  # a date ("2026.01.01 기준"), not a heading
            if hs6 not in index.subheadings:
                return False
            if len(national) == 4:
                digits = hs6 + national
            elif national and not any(c.startswith(hs6 + national) for c in index.example_codes):
                return False
            else:
                continue
        if not code_exists(index, digits):
            return False
    return all(m.group(1) in index.headings for m in _HEADING_IN_TEXT.finditer(text))


def candidate_code(candidate: Candidate) -> str:
    if candidate.leads_examples and candidate.examples:
        return format_code(candidate.examples[0].hsk_code)
    return format_code(candidate.hs6)


def dotted6(hs6: str) -> str:
    return f"{hs6[:4]}.{hs6[4:]}"


# Chapters whose headings are told apart mainly by what the goods are made of.
_MATERIAL_CHAPTERS = frozenset({*range(39, 50), *range(50, 71), *range(72, 84), 94, 96})
_FUNCTION_CHAPTERS = frozenset({84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 95})
_FOOD_CHAPTERS = frozenset(range(1, 25))
_CHEMICAL_CHAPTERS = frozenset(range(28, 39))

# Below this retrieval confidence a short description gets questions first.
ASK_BELOW_CONFIDENCE = 0.6

# Words that already answer a question: the user said what it is made of, what it does, …
_MATERIAL_WORDS = frozenset(
    "플라스틱 고무 가죽 목재 나무 종이 면 폴리에스터 나일론 울 양모 실크 견 금속 철 강 스테인리스 스테인레스 "
    "알루미늄 구리 동 아연 유리 도자기 세라믹 석재 합성수지 실리콘 pvc pe pp abs plastic rubber leather wood "
    "paper cotton polyester nylon wool silk metal steel iron stainless aluminium aluminum copper glass ceramic".split()
)
_FUNCTION_WORDS = frozenset(
    "용도 기능 전용 겸용 통신 충전 측정 제어 가열 냉각 세척 절단 인쇄 녹음 재생 송신 수신 무선 유선 전동 자동 "
    "수동 산업 가정 의료 차량 자동차 부품 부분품 function use part wireless electric".split()
)
_STATE_WORDS = frozenset(
    "신선 냉장 냉동 건조 염장 훈제 조제 가공 분말 액상 농축 발효 조리 볶 삶 절임 통조림 fresh chilled frozen "
    "dried salted smoked prepared powder concentrate".split()
)
_KNIT_WORDS = frozenset("니트 편직 메리야스 우븐 직물 제직 knit knitted crocheted woven".split())
_COMPOSITION_WORDS = frozenset("성분 함량 함유 혼합 배합 순도 % 퍼센트 composition content mixture".split())

FACT_QUESTIONS: dict[str, str] = {
    "knit": "원단의 제조 방식: 편직물(니트·메리야스)인지 직물(우븐)인지, 그리고 남성용·여성용 구분",
    "material": "재질(주된 소재): 예) 플라스틱, 금속(철강·알루미늄), 섬유(면·폴리에스터), 가죽, 목재",
    "function": "주요 기능과 작동 방식: 예) 통신 기능 유무, 전기 사용 여부, 단독 사용 기기인지 부분품인지",
    "use": "용도: 예) 가정용·산업용·의료용, 어떤 기계나 차량에 쓰이는지",
    "state": "가공 상태: 예) 신선·냉장·냉동·건조·염장, 조제·조리 여부, 포장 형태",
    "composition": "성분과 함량: 예) 주성분과 그 비율(%), 혼합물인지 단일 물질인지",
}


@dataclass
class OfflineResult:
    candidates: list[Candidate]
    confidence: float
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def classify_offline(*, index: HSIndex, description: str, k: int = TOP_K) -> OfflineResult:
    candidates = index.search(description, k=k)
    terms = index.query_terms(description)
    return OfflineResult(candidates=candidates, confidence=confidence(candidates, terms=len(terms)), terms=terms)


def _chapter(hs: str) -> int:
    return int(hs[:2])


def missing_facts(result: OfflineResult, description: str) -> list[str]:
    """The facts that would decide between the candidate headings when the description
    leaves the choice open; empty when it can be classified as it stands.

    Asked only when retrieval is unsure (low confidence), the description is short and
    several candidates lead; what is asked follows from their chapters (material for
    chapters told apart by material, function and use for machines and instruments,
    processing state for food, …) minus what was already said."""
    if not result.candidates:
        return ["material", "function", "use"]
    own_terms = [t for t, w in result.terms.items() if w == 1.0]
    leading = result.candidates[:3]
    headings = list(dict.fromkeys(c.hs4 for c in leading))
    if result.confidence >= ASK_BELOW_CONFIDENCE or len(own_terms) > 3 or len(leading) == 1:
        return []
    lowered = description.lower()
    # English words whole ("pe" is not in "speaker"), Korean by substring ("플라스틱제"),
    # one-syllable Korean words only as morphemes ("면" the cotton, not in "면도기").
    words_said = set(re.findall(r"[a-z]+", lowered)) | set(result.terms)

    def said(words: frozenset[str]) -> bool:
        return any(word in words_said if word.isascii() and word.isalpha() or len(word) == 1 else word in lowered
                   for word in words)

    chapters = {_chapter(h) for h in headings}
    facts: list[str] = []
    if {61, 62} <= chapters and not said(_KNIT_WORDS):
        facts.append("knit")
    if chapters & _MATERIAL_CHAPTERS and not said(_MATERIAL_WORDS):
        facts.append("material")
    if chapters & _FUNCTION_CHAPTERS and not said(_FUNCTION_WORDS):
        facts.extend(["function", "use"])
    if chapters & _FOOD_CHAPTERS and not said(_STATE_WORDS):
        facts.append("state")
    if chapters & (_CHEMICAL_CHAPTERS | _FOOD_CHAPTERS) and not said(_COMPOSITION_WORDS):
        facts.append("composition")
    return facts


def information_message(*, result: OfflineResult, facts: Sequence[str], titles: dict[str, str]) -> str:
    lines = ["안녕하세요! HS 코드 분류를 도와드리겠습니다.", ""]
    headings = list(dict.fromkeys(c.hs4 for c in result.candidates))[:3]
    if headings:
        lines.append("말씀하신 내용만으로는 다음 호 중 어디에 해당하는지 정하기 어렵습니다.")
        for hs4 in headings:
            lines.append(f"- 제{hs4}호: {_short(titles.get(hs4, ''))}")
        lines.append("")
    else:
        lines.append("말씀하신 품명으로는 품목표에서 해당하는 호를 찾지 못했습니다.")
        lines.append("")
    lines.append("정확한 분류를 위해 다음 정보를 알려주세요.")
    for number, fact in enumerate(facts, 1):
        lines.append(f"{number}. {FACT_QUESTIONS[fact]}")
    lines.append("")
    lines.append("모델명이나 제품 설명서의 사양을 함께 알려주시면 더 정확합니다.")
    return "\n".join(lines)


def _surface(term: str, texts: Sequence[str]) -> str:
    """A stemmed English term as the word it came from ("earphon" -> "earphones")."""
    if not term.isascii():
        return term
    for text in texts:
        found = re.search(rf"(?<![a-z]){re.escape(term)}[a-z]*", text.lower())
        if found:
            return found.group(0)
    return term


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Explanation:
    reason: str
    gri: str
    risk: str
    recommendations: list[str]
    sources: list[str]


_SET_WORDS = ("세트", "set", "키트", "kit", "구성품")
_INCOMPLETE_WORDS = ("미완성", "반제품", "미조립", "분해", "unassembled", "incomplete")
_MIXTURE_WORDS = ("혼합", "혼방", "mixture", "blend", "복합")
_PART_WORDS = ("부품", "부분품", "part", "부속")


def explain(*, result: OfflineResult, description: str, index: HSIndex, titles: dict[str, str]) -> Explanation:
    """The Korean reason, the GRI that apply, risk and recommendations for the best
    candidate, built only from what retrieval matched."""
    best = result.best
    assert best is not None
    lowered = description.lower()
    heading_title = titles.get(best.hs4, "")
    sub_title = titles.get(best.hs6, "")
    heading, sub = index.headings[best.hs4], index.subheadings[best.hs6]
    title_text = " ".join((heading.title_en, heading.title_ko, sub.title_en, sub.title_ko))
    title_terms = set(analyzer.analyze(title_text))
    matched = [_surface(t, (description, title_text)) for t in result.terms if t in title_terms][:6]
    parts = []
    if matched:
        parts.append(f"품목표 제{best.hs4}호 「{_short(heading_title, 80)}」와 소호 {dotted6(best.hs6)} "
                     f"「{_short(sub_title, 60)}」의 용어가 품명과 일치합니다"
                     f"(일치한 용어: {', '.join(matched)}).")
    if best.examples:
        cases = ", ".join(f"'{_short(x.name, 40)}'({format_code(x.hsk_code)})" for x in best.examples[:2])
        parts.append(f"관세청 품목분류 사례 중 유사한 품목 {cases}이(가) 같은 소호로 분류되었습니다.")
    others = result.candidates[1:3]
    if others:
        parts.append("다른 후보: " + "; ".join(f"{dotted6(c.hs6)} 「{_short(titles.get(c.hs6, ''), 40)}」"
                                           for c in others) + ".")

    gri = [f"GRI 1 적용 - 호의 용어와 관련 부·류의 주에 따라 제{best.hs4}호 ({_short(heading_title, 40)})"]
    if any(w in lowered for w in _INCOMPLETE_WORDS):
        gri.append("GRI 2(a) - 미완성·미조립 물품도 완성품의 본질적 특성을 갖추면 완성품의 호로 분류")
    if any(w in lowered for w in _MIXTURE_WORDS):
        gri.append("GRI 2(b)·3 - 혼합물·복합물은 본질적 특성을 부여하는 재료·성분에 따라 분류")
    if any(w in lowered for w in _SET_WORDS):
        gri.append("GRI 3(b) - 소매용 세트는 본질적 특성을 부여하는 구성품에 따라 분류")
    second_heading = next((c for c in result.candidates[1:] if c.hs4 != best.hs4), None)
    if second_heading is not None and second_heading.score >= 0.9 * best.score:
        gri.append(f"GRI 3(a) - 제{second_heading.hs4}호와 경합: 가장 구체적으로 표현된 호를 우선")
    if any(w in lowered for w in _PART_WORDS):
        gri.append("부분품은 해당 부·류의 주(예: 제16부 주 2)에 따라 전용 부분품 여부를 확인")
    gri.append(f"GRI 6 적용 - 같은 호 안에서는 소호의 용어에 따라 소호 {dotted6(best.hs6)}")

    conf = result.confidence
    if conf >= 0.6:
        risk = "검색된 용어와 분류 사례가 한 소호에 모여 있어 분류 위험은 낮은 편이나, 실제 물품의 사양으로 확인이 필요합니다."
    elif conf >= 0.35:
        risk = "후보 소호 사이의 차이가 크지 않습니다. 재질·기능·용도에 따라 분류가 달라질 수 있어 재검토가 필요합니다."
    else:
        risk = "검색 근거가 약합니다. 이 결과만으로 신고하지 말고 전문가 검토나 사전심사를 받으시길 권합니다."
    recommendations = ["관세청 품목분류 사전심사(Binding Ruling) 신청 권장"]
    if candidate_code(best).endswith(".0000"):
        recommendations.append("HSK 10단위 세번은 관세율표에서 소호 아래 세분류를 확인해 정하세요")
    recommendations.append("제품 사양서·성분표로 재질·기능·용도를 다시 확인하세요")
    sources = ["HS 2022 품목표 (WCO·UN Comtrade)", "관세청 HS부호 단위별 품목명 (2026-01-01 기준)"]
    if best.examples:
        sources.append(f"관세청 품목분류 사례 {len(best.examples)}건")
    return Explanation(reason=" ".join(parts) or "품목표에서 일치하는 용어를 찾았습니다.", gri="; ".join(gri),
                       risk=risk, recommendations=recommendations, sources=sources)


@dataclass
class Verification:
    holds: bool
    best_code: str
    message: str


def verify(*, index: HSIndex, chosen: str, alternatives: Sequence[str], description: str,
           titles: dict[str, str]) -> Verification:
    """Re-rank the chosen code against its alternatives with everything the user said."""
    digits = code_digits(chosen) or ""
    result = classify_offline(index=index, description=description, k=10)
    ranks = {c.hs6: i for i, c in enumerate(result.candidates)}
    chosen_rank = ranks.get(digits[:6])
    rivals = [(ranks[d[:6]], code) for code in alternatives
              if (d := code_digits(code)) and d[:6] in ranks and d[:6] != digits[:6]]
    better = min(rivals, default=None)
    if chosen_rank is not None and (better is None or chosen_rank < better[0]):
        lines = [f"분류 결과를 검증했습니다. HSCode {chosen}이(가) 적절한 분류입니다."]
        lines.append(f"제{digits[:4]}호 「{_short(titles.get(digits[:4], ''), 60)}」의 용어와 관련 분류 사례가 "
                     "대체 후보보다 품명에 더 잘 맞습니다.")
        if alternatives:
            lines.append(f"대체 후보 {', '.join(alternatives)}보다 우선합니다.")
        lines.append("다만 최종 신고 전 실제 물품의 재질·기능·용도를 확인하시고, 필요하면 사전심사를 신청하세요.")
        return Verification(holds=True, best_code=chosen, message="\n".join(lines))
    if better is not None:
        code = better[1]
        alt = code_digits(code) or ""
        message = (f"분류 결과를 검증했습니다. 추가로 알려주신 내용을 반영하면 HSCode {chosen}보다 "
                   f"{code}(제{alt[:4]}호 「{_short(titles.get(alt[:4], ''), 60)}」)이(가) 더 적합할 수 있습니다.\n"
                   "두 호의 용어를 비교해 보시고, 확정 전에 관세청 품목분류 사전심사를 받으시길 권합니다.")
        return Verification(holds=False, best_code=code, message=message)
    message = (f"분류 결과를 검증했습니다. 알려주신 내용으로는 HSCode {chosen}을(를) 뒷받침하는 근거가 약합니다.\n"
               "품명·재질·기능·용도를 더 자세히 알려주시거나 관세청 품목분류 사전심사를 받으시길 권합니다.")
    return Verification(holds=False, best_code=chosen, message=message)
