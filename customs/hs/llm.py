"""The LLM's part of classification: pick one of the retrieved candidates, explain with
the GRI, answer strict JSON. Whatever it answers is checked against the loaded codes;
anything else (an unknown code, a code outside the candidates, broken JSON) is rejected
and the caller falls back to retrieval."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from pydantic import ValidationError

from conversations.llm import ChatMessage, ChatRequest, Completion, LLMError, Usage, get_provider
from customs.hs.classifier import (
    OfflineResult,
    candidate_code,
    code_digits,
    code_exists,
    dotted6,
    format_code,
    mentions_only_loaded_codes,
)
from customs.hs.retrieval import HSIndex
from customs.hs.schemas import LLMChoice, LLMVerdict

logger = logging.getLogger(__name__)

PROMPT_MARKER = "HS 품목분류 후보 선택"

SYSTEM_PROMPT = f"""당신은 한국 관세청의 품목분류 전문가입니다. ({PROMPT_MARKER})
사용자가 설명한 물품을 아래 "후보" 가운데 하나로 분류합니다.

규칙:
- 반드시 후보 목록에 있는 code 중 하나를 hscode로 고릅니다. 목록에 없는 코드를 만들지 않습니다.
- 관세율표 해석에 관한 통칙(GRI)을 순서대로 적용합니다:
  GRI 1: 호의 용어와 관련 부·류의 주에 따라 분류
  GRI 2(a): 미완성·미조립 물품도 완성품의 본질적 특성을 가지면 완성품으로 분류
  GRI 2(b): 혼합물·복합물은 GRI 3에 따라 분류
  GRI 3(a): 가장 구체적으로 표현된 호 우선 / GRI 3(b): 본질적 특성을 부여하는 재료·구성요소 / GRI 3(c): 마지막 호
  GRI 4: 가장 유사한 물품의 호 / GRI 5: 용기·포장재 / GRI 6: 같은 호 안에서는 소호의 용어와 주에 따라 소호 결정
- gri_application에는 실제로 적용한 통칙과 그 근거가 된 호를 적습니다(예: "GRI 1 적용 - 제8517호 …; GRI 6 적용 - 소호 8517.13").
- alternative_codes에는 후보 목록의 다른 code만 넣습니다(최대 3개).
- confidence_score는 0과 1 사이 숫자로, 설명만으로 확정할 수 없으면 낮게 줍니다.
- 모든 설명은 한국어로 씁니다.

JSON 객체 하나만 답합니다:
{{"hscode": "...", "confidence_score": 0.0, "classification_reason": "...", "gri_application": "...",
"alternative_codes": ["..."], "recommendations": ["..."], "risk_assessment": "..."}}"""


@dataclass(frozen=True)
class LLMClassification:
    choice: LLMChoice
    usage: Usage


def _code_entry(index: HSIndex, code: str) -> dict[str, str]:
    digits = code_digits(code) or ""
    heading, sub = index.headings[digits[:4]], index.subheadings[digits[:6]]
    return {
        "code": code,
        "heading": f"제{digits[:4]}호 {heading.title_ko} / {heading.title_en}",
        "subheading": f"{dotted6(digits[:6])} {sub.title_ko} / {sub.title_en}",
    }


def candidates_block(*, result: OfflineResult, index: HSIndex) -> str:
    lines = []
    for candidate in result.candidates:
        entry: dict[str, object] = {
            **_code_entry(index, candidate_code(candidate)),
            "retrieval_score": round(candidate.score, 3),
            "similar_cases": [f"{x.name} ({format_code(x.hsk_code)})" for x in candidate.examples[:3]],
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines)


def _request(system: str, user: str) -> ChatRequest:
    return ChatRequest(
        product="customs",
        messages=(ChatMessage("system", system), ChatMessage("user", user)),
        model=settings.HS_LLM_MODEL,
        temperature=0.0,
        max_tokens=900,
        json_mode=True,
    )


def build_request(*, description: str, result: OfflineResult, index: HSIndex) -> ChatRequest:
    return _request(SYSTEM_PROMPT, f"물품 설명:\n{description}\n\n후보 (JSON 한 줄에 하나):\n"
                                   f"{candidates_block(result=result, index=index)}")


def _json_object(text: str) -> object:
    text = text.strip()
    if text.startswith("```"):
        # Some OpenAI-compatible servers wrap JSON mode answers in a fence.
        text = text.strip("`").removeprefix("json").strip()
    return json.loads(text)


def validate(*, text: str, result: OfflineResult, index: HSIndex) -> LLMChoice | None:
    """The model's answer with its codes normalised, or None if it must be rejected."""
    try:
        choice = LLMChoice.model_validate(_json_object(text))
    except (ValueError, RecursionError, ValidationError) as exc:
        logger.warning("hs llm answer rejected: not the JSON asked for (%s)", type(exc).__name__)
        return None
    allowed = {code_digits(candidate_code(c)): candidate_code(c) for c in result.candidates}
    allowed.update({c.hs6 + "0000": format_code(c.hs6) for c in result.candidates})
    digits = code_digits(choice.hscode)
    if digits not in allowed or not code_exists(index, allowed[digits]):
        logger.warning("hs llm answer rejected: code outside the retrieved candidates")
        return None
    texts = (choice.classification_reason, choice.gri_application, choice.risk_assessment, *choice.recommendations)
    if not all(mentions_only_loaded_codes(index, t) for t in texts):
        # An explanation that cites a code we do not have would show an invented code.
        logger.warning("hs llm answer rejected: its explanation names a code that is not loaded")
        return None
    chosen = allowed[digits]
    alternatives: list[str] = []
    for code in choice.alternative_codes:
        alt = code_digits(code)
        if alt is not None and code_exists(index, alt) and alt != digits:
            formatted = format_code(alt)
            if formatted not in alternatives and formatted != chosen:
                alternatives.append(formatted)
    return choice.model_copy(update={"hscode": chosen, "alternative_codes": alternatives[:3]})


async def _complete(request: ChatRequest) -> Completion | None:
    try:
        async with asyncio.timeout(settings.HS_LLM_TIMEOUT):
            return await get_provider().complete(request)
    except (LLMError, TimeoutError) as exc:
        logger.warning("hs llm unavailable, retrieval answers: %s", getattr(exc, "code", "timeout"))
        return None


async def classify_with_llm(*, description: str, result: OfflineResult, index: HSIndex) -> LLMClassification | None:
    """The model's validated choice, or None (upstream failure or a rejected answer)."""
    completion = await _complete(build_request(description=description, result=result, index=index))
    if completion is None:
        return None
    choice = validate(text=completion.text, result=result, index=index)
    return LLMClassification(choice=choice, usage=completion.usage) if choice else None


VERIFY_MARKER = "HS 품목분류 검증"

VERIFY_PROMPT = f"""당신은 한국 관세청의 품목분류 전문가입니다. ({VERIFY_MARKER})
앞서 분류한 HS 코드가 맞는지, 사용자가 나중에 더한 설명까지 모두 보고 대체 후보와 비교해 검증합니다.

규칙:
- hscode에는 "검증할 코드"와 "대체 후보" 가운데 가장 맞는 코드 하나를 씁니다. 목록에 없는 코드를 만들지 않습니다.
- holds는 검증할 코드가 그대로 맞으면 true, 대체 후보가 더 맞으면 false입니다.
- message에는 한국어로 결론과 근거(적용한 GRI, 비교한 호의 용어)를 씁니다. 목록에 없는 코드는 쓰지 않습니다.

JSON 객체 하나만 답합니다: {{"holds": true, "hscode": "...", "message": "..."}}"""


@dataclass(frozen=True)
class LLMVerification:
    verdict: LLMVerdict
    usage: Usage


def build_verify_request(*, description: str, chosen: str, alternatives: Sequence[str], index: HSIndex,
                         retrieval_verdict: str) -> ChatRequest:
    lines = [json.dumps(_code_entry(index, code), ensure_ascii=False) for code in alternatives]
    user = (f"물품 설명(대화 순서대로):\n{description}\n\n"
            f"검증할 코드:\n{json.dumps(_code_entry(index, chosen), ensure_ascii=False)}\n\n"
            f"대체 후보 (JSON 한 줄에 하나):\n{chr(10).join(lines) or '(없음)'}\n\n"
            f"검색 기반 재확인 결과: {retrieval_verdict}")
    return _request(VERIFY_PROMPT, user)


def validate_verdict(*, text: str, chosen: str, alternatives: Sequence[str], index: HSIndex) -> LLMVerdict | None:
    try:
        verdict = LLMVerdict.model_validate(_json_object(text))
    except (ValueError, ValidationError) as exc:
        logger.warning("hs llm verdict rejected: not the JSON asked for (%s)", type(exc).__name__)
        return None
    allowed = {code_digits(code): code for code in (chosen, *alternatives)}
    digits = code_digits(verdict.hscode)
    if digits not in allowed or not code_exists(index, allowed[digits]):
        logger.warning("hs llm verdict rejected: code outside the chosen code and its alternatives")
        return None
    if verdict.holds != (allowed[digits] == chosen) or not mentions_only_loaded_codes(index, verdict.message):
        logger.warning("hs llm verdict rejected: inconsistent, or its message names a code that is not loaded")
        return None
    return verdict.model_copy(update={"hscode": allowed[digits]})


async def verify_with_llm(*, description: str, chosen: str, alternatives: Sequence[str], index: HSIndex,
                          retrieval_verdict: str) -> LLMVerification | None:
    """The model's validated verdict on the chosen code, or None (retrieval's stands)."""
    if not code_exists(index, chosen):
        return None  # the data changed since the classification
    alternatives = [code for code in alternatives if code_exists(index, code)]
    request = build_verify_request(description=description, chosen=chosen, alternatives=alternatives, index=index,
                                   retrieval_verdict=retrieval_verdict)
    completion = await _complete(request)
    if completion is None:
        return None
    verdict = validate_verdict(text=completion.text, chosen=chosen, alternatives=alternatives, index=index)
    return LLMVerification(verdict=verdict, usage=completion.usage) if verdict else None
