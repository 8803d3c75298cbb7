"""The LLM's part of classification: pick one of the retrieved candidates, explain with
the GRI, answer strict JSON. Whatever it answers is checked against the loaded codes;
anything else (an unknown code, a code outside the candidates, broken JSON) is rejected
and the caller falls back to retrieval."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from pydantic import ValidationError

from conversations.llm import ChatMessage, ChatRequest, LLMError, Usage, get_provider
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
from customs.hs.schemas import LLMChoice

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


def candidates_block(*, result: OfflineResult, titles: dict[str, str], index: HSIndex) -> str:
    lines = []
    for candidate in result.candidates:
        heading, sub = index.headings[candidate.hs4], index.subheadings[candidate.hs6]
        entry = {
            "code": candidate_code(candidate),
            "heading": f"제{candidate.hs4}호 {heading.title_ko or ''} / {heading.title_en}".strip(),
            "subheading": f"{dotted6(candidate.hs6)} {sub.title_ko or ''} / {sub.title_en}".strip(),
            "retrieval_score": round(candidate.score, 3),
            "similar_cases": [f"{x.name} ({format_code(x.hsk_code)})" for x in candidate.examples[:3]],
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines)


def build_request(*, description: str, result: OfflineResult, titles: dict[str, str], index: HSIndex) -> ChatRequest:
    user = (f"물품 설명:\n{description}\n\n후보 (JSON 한 줄에 하나):\n"
            f"{candidates_block(result=result, titles=titles, index=index)}")
    return ChatRequest(
        product="customs",
        messages=(ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user)),
        model=settings.HS_LLM_MODEL,
        temperature=0.0,
        max_tokens=900,
        json_mode=True,
    )


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
    except (ValueError, ValidationError) as exc:
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


async def classify_with_llm(*, description: str, result: OfflineResult, titles: dict[str, str],
                            index: HSIndex) -> LLMClassification | None:
    """The model's validated choice, or None (upstream failure or a rejected answer)."""
    request = build_request(description=description, result=result, titles=titles, index=index)
    try:
        async with asyncio.timeout(settings.HS_LLM_TIMEOUT):
            completion = await get_provider().complete(request)
    except (LLMError, TimeoutError) as exc:
        logger.warning("hs llm unavailable, retrieval answers: %s", getattr(exc, "code", "timeout"))
        return None
    choice = validate(text=completion.text, result=result, index=index)
    return LLMClassification(choice=choice, usage=completion.usage) if choice else None
