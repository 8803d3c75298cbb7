"""Rules, the LLM classifier's strict JSON and its fallbacks, and the cache."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from customs.intent import IntentCache, classify_by_rules, intent_cache, intent_classify, normalize_message
from customs.models import Intent

MARKER = "intent_type"


@pytest.mark.parametrize(("message", "intent"), [
    ("MSKU9070323 통관 어디까지 됐어요?", Intent.CARGO_TRACKING),
    ("화물 조회해줘", Intent.CARGO_TRACKING),
    ("where is my shipment", Intent.CARGO_TRACKING),
    ("스마트폰 HS코드 알려줘", Intent.HSCODE_CLASSIFICATION),
    ("HS code for lithium batteries", Intent.HSCODE_CLASSIFICATION),
    ("HS 8517130000 맞나요", Intent.HSCODE_CLASSIFICATION),  # a code is not a parcel number
    ("최근 관세 뉴스 알려줘", Intent.NEWS_INQUIRY),
    ("latest trade news", Intent.NEWS_INQUIRY),
    ("FTA 원산지 증명은 어떻게 하나요", Intent.REGULATORY_INQUIRY),
    ("수입 요건 확인 방법", Intent.REGULATORY_INQUIRY),
    ("what permit do I need to import food", Intent.REGULATORY_INQUIRY),
    ("안녕하세요", Intent.GENERAL_CHAT),
])
def test_rules(message: str, intent: Intent) -> None:
    assert classify_by_rules(message).intent == intent


def test_rules_carry_the_numbers_as_entities() -> None:
    result = classify_by_rules("CSQU3054383 이랑 180-12345675")
    assert [n["number"] for n in result.entities["cargo_numbers"]] == ["CSQU3054383", "18012345675"]


def test_cache_normalises_expires_and_evicts(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CUSTOMS_INTENT_CACHE_SIZE = 2
    cache = IntentCache()
    assert normalize_message("  화물   조회 ABC ") == normalize_message("화물 조회 abc")
    result = classify_by_rules("화물 조회")
    cache.put(cache.key("a"), result)
    cache.put(cache.key("b"), result)
    cache.get(cache.key("a"))  # now most recent
    cache.put(cache.key("c"), result)
    assert cache.get(cache.key("b")) is None and cache.get(cache.key("a")) is result and len(cache) == 2
    now = [1000.0]
    monkeypatch.setattr("customs.intent.time.monotonic", lambda: now[0])
    cache.put(cache.key("d"), result)
    now[0] += settings.CUSTOMS_INTENT_CACHE_TTL + 1
    assert cache.get(cache.key("d")) is None


async def test_without_an_llm_rules_decide(settings: Any) -> None:
    settings.LLM_BASE_URL = ""
    intent_cache.clear()
    result = await intent_classify("스마트폰 HS코드 알려줘")
    assert (result.intent, result.method) == (Intent.HSCODE_CLASSIFICATION, "rules")


@pytest.mark.parametrize("reply", [
    "not json at all",
    '{"intent_type": "shipping", "confidence_score": 0.9, "entities": {}}',
    '{"intent_type": "news_inquiry", "confidence_score": 1.5, "entities": {}}',
    '{"intent_type": "news_inquiry", "confidence_score": 0.5, "entities": {}, "extra": 1}',
    '["news_inquiry"]',
    '{"intent_type": "news_inquiry", "confidence_score": 0.5, "entities": {"cargo_numbers": "MSKU9070323"}}',
])
async def test_off_schema_llm_answers_fall_back_to_rules(fake_llm: FakeOpenAI, reply: str) -> None:
    intent_cache.clear()
    fake_llm.route(MARKER, Behaviour(reply=reply))
    result = await intent_classify("FTA 원산지 증명 절차")
    assert (result.intent, result.method) == (Intent.REGULATORY_INQUIRY, "rules_fallback")


async def test_llm_errors_and_timeouts_fall_back(fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.CUSTOMS_INTENT_TIMEOUT = 0.2
    for behaviour in (Behaviour(fault="500"), Behaviour(reply="{}", ttft=0.6)):
        intent_cache.clear()
        fake_llm.route(MARKER, behaviour)
        result = await intent_classify("최근 관세 뉴스")
        assert (result.intent, result.method) == (Intent.NEWS_INQUIRY, "rules_fallback")


async def test_llm_json_is_used_fenced_or_not(fake_llm: FakeOpenAI) -> None:
    answer = {"intent_type": "hscode_classification", "confidence_score": 0.81,
              "entities": {"product": "노트북", "mood": "curious"}}  # unknown keys are dropped
    for reply in (json.dumps(answer), "```json\n" + json.dumps(answer) + "\n```"):
        intent_cache.clear()
        fake_llm.route(MARKER, Behaviour(reply=reply))
        result = await intent_classify("노트북은 뭐로 분류돼요?")
        assert (result.intent, result.confidence, result.method) == (Intent.HSCODE_CLASSIFICATION, 0.81, "llm")
        assert result.entities == {"product": "노트북"}
    request = fake_llm.requests[-1].body
    assert request["response_format"] == {"type": "json_object"} and request["temperature"] == 0.0
    # The call's tokens go with the answer (to be billed); the cache's copy costs nothing.
    assert result.usage is not None and result.usage.prompt_tokens
    assert (await intent_classify("노트북은 뭐로 분류돼요?")).usage is None
