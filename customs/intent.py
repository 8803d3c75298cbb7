"""Intent classification: the LLM's strict JSON when one is configured, rules otherwise
and whenever the LLM fails (timeout, error, malformed or off-schema JSON).

Results are cached by a hash of the normalised message (``CUSTOMS_INTENT_CACHE_TTL``
seconds, ``CUSTOMS_INTENT_CACHE_SIZE`` entries), per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import pydantic
from django.conf import settings

from conversations.llm import ChatMessage, ChatRequest, LLMError, Usage, get_provider
from conversations.models import Product
from customs.cargo import recognize_cargo_numbers
from customs.models import CargoType, Intent, IntentRecord
from customs.schemas import IntentOut

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentResult:
    intent: Intent
    confidence: float
    method: str  # IntentRecord.Method
    entities: dict[str, Any] = field(default_factory=dict)
    usage: Usage | None = None  # the classifier call's tokens, billed to the user's message


def _k(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(w.replace(" ", r"\s*") for w in words), re.IGNORECASE)


_HS = _k("hs ?코드", "hscode", "hs code", "hs-code", "hs 번호", "품목 ?분류", "세번", "관세율표", "tariff classification",
         "classify", "hs 분류", "에이치에스", r"hs \d{4}", "hs ?부호")
_CARGO = _k("화물 ?조회", "화물 ?추적", "통관 ?조회", "통관 ?진행", "통관 ?상태", "배송 ?조회", "운송장", "컨테이너 ?번호",
            "b/?l ?번호", "track(ing)? (my|the|number)", "where is my (shipment|cargo|parcel)", "cargo status",
            "화물 ?위치", "어디쯤", "반출", "반입")
_NEWS = _k("뉴스", "소식", "동향", "최신", "최근", "발표", "보도", "news", "latest", "이번 ?주", "올해 ?달라진")
_REGULATORY = _k("규정", "법령", "관세법", "고시", "요건", "허가", "인증", "규제", "원산지", "fta", "환급", "면세", "감면",
                 "신고 ?절차", "통관 ?절차", "검역", "금지", "제한", "세율", "관세율", "부가세", "과세", "regulation",
                 "requirement", "license", "permit", "duty", "tariff", "수입 ?신고", "수출 ?신고", "전략물자", "개인통관",
                 "통관 ?고유 ?부호", "목록 ?통관", "리튬", "의약품", "식품", "kc ?인증")


def classify_by_rules(message: str) -> IntentResult:
    matches = recognize_cargo_numbers(message)
    numbers = [{"number": m.number, "type": m.pattern, "confidence": m.confidence} for m in matches]
    hs = bool(_HS.search(message))
    strong_cargo = [m for m in matches if m.kind != CargoType.PARCEL or m.confidence >= 0.8]
    if matches and not (hs and not strong_cargo):
        return IntentResult(Intent.CARGO_TRACKING, matches[0].confidence, IntentRecord.Method.RULES,
                            {"cargo_numbers": numbers})
    if hs:
        return IntentResult(Intent.HSCODE_CLASSIFICATION, 0.9, IntentRecord.Method.RULES, {})
    if _CARGO.search(message):
        return IntentResult(Intent.CARGO_TRACKING, 0.7, IntentRecord.Method.RULES, {"cargo_numbers": []})
    if _NEWS.search(message):
        return IntentResult(Intent.NEWS_INQUIRY, 0.75, IntentRecord.Method.RULES, {})
    if _REGULATORY.search(message):
        return IntentResult(Intent.REGULATORY_INQUIRY, 0.75, IntentRecord.Method.RULES, {})
    return IntentResult(Intent.GENERAL_CHAT, 0.6, IntentRecord.Method.RULES, {})


INTENT_SYSTEM_PROMPT = """You classify one message sent to a Korean customs and trade assistant.
Answer with one JSON object only, no prose: {"intent_type": ..., "confidence_score": ..., "entities": {...}}.
intent_type is exactly one of:
- "cargo_tracking": the user wants the clearance or transport status of a shipment (container, B/L,
  air waybill, cargo management or parcel number), or asks to track cargo.
- "hscode_classification": the user wants the HS code (tariff classification) of a product.
- "news_inquiry": the user asks about recent trade or customs news and trends.
- "regulatory_inquiry": the user asks about laws, regulations, requirements, duties, FTA, refunds, procedures.
- "general_chat": anything else.
confidence_score is a number from 0 to 1. entities holds what you found, with only these optional keys:
"cargo_numbers" (list of strings), "product", "hs_code", "country", "topic" (strings), e.g.
{"cargo_numbers": ["MSCU1234565"], "product": "스마트폰", "country": "미국"}; use {} when there is nothing."""


def _parse_llm_answer(text: str) -> IntentOut:
    cleaned = text.strip()
    if cleaned.startswith("```"):
        # Some models fence JSON even in JSON mode.
        cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", cleaned)
    return IntentOut.model_validate(json.loads(cleaned))


async def classify_by_llm(message: str) -> IntentResult:
    request = ChatRequest(
        product=Product.CUSTOMS,
        messages=(ChatMessage("system", INTENT_SYSTEM_PROMPT), ChatMessage("user", message)),
        model=settings.CUSTOMS_LLM_MODEL, temperature=0.0, max_tokens=200, json_mode=True,
        context={"task": "intent"},
    )
    completion = await asyncio.wait_for(get_provider().complete(request), settings.CUSTOMS_INTENT_TIMEOUT)
    answer = _parse_llm_answer(completion.text)
    return IntentResult(Intent(answer.intent_type), answer.confidence_score, IntentRecord.Method.LLM,
                        answer.entities.as_dict(), usage=completion.usage)


def normalize_message(message: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", message)).strip().lower()


class IntentCache:
    """A small LRU of recent classifications with a time limit on each entry."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, IntentResult]] = OrderedDict()

    @staticmethod
    def key(message: str) -> str:
        return hashlib.sha256(normalize_message(message).encode()).hexdigest()

    def get(self, key: str) -> IntentResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, result: IntentResult) -> None:
        ttl = settings.CUSTOMS_INTENT_CACHE_TTL
        if ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, result)
        self._entries.move_to_end(key)
        while len(self._entries) > settings.CUSTOMS_INTENT_CACHE_SIZE:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


intent_cache = IntentCache()


async def intent_classify(message: str, *, rules_only: bool = False) -> IntentResult:
    key = intent_cache.key(message)
    cached = intent_cache.get(key)
    if cached is not None:
        logger.info("customs intent=%s confidence=%.3f method=%s cached", cached.intent, cached.confidence,
                    cached.method)
        return cached
    if rules_only:
        return classify_by_rules(message)  # (not cached: a model's answer may come later)
    if settings.LLM_BASE_URL:
        try:
            result = await classify_by_llm(message)
        except (LLMError, TimeoutError, ValueError, RecursionError, pydantic.ValidationError) as exc:
            # ValueError covers malformed JSON; the rules always have an answer.
            logger.warning("customs intent LLM failed (%s); rules decide", type(exc).__name__)
            rules = classify_by_rules(message)
            result = IntentResult(rules.intent, rules.confidence, IntentRecord.Method.RULES_FALLBACK, rules.entities)
    else:
        result = classify_by_rules(message)
    intent_cache.put(key, replace(result, usage=None))  # an answer from the cache costs nothing
    logger.info("customs intent=%s confidence=%.3f method=%s", result.intent, result.confidence, result.method)
    return result
