"""Classification with an LLM (the fake upstream): it picks among the retrieved
candidates; anything it says that is not a loaded candidate code is never shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings

from conversations.aio import run_db
from conversations.models import ChatSession, Message, Role
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from customs.hs.llm import PROMPT_MARKER, VERIFY_MARKER
from customs.hs.models import HSClassification
from customs.hs.services import hs_classification_turn
from tests.customs.hs_fixtures import body_codes, code_is_loaded

pytestmark = pytest.mark.django_db(transaction=True)

DESCRIPTION = "블루투스 무선 이어폰 헤드폰"
OFFLINE_BEST = "8518.30.9000"


def answer(**fields: Any) -> str:
    base = {"hscode": OFFLINE_BEST, "confidence_score": 0.92,
            "classification_reason": "무선 이어폰은 헤드폰과 이어폰에 해당합니다(LLM 판단).",
            "gri_application": "GRI 1 적용 - 제8518호; GRI 6 적용 - 소호 8518.30",
            "alternative_codes": ["8518.10.0000"], "recommendations": ["모델별 사양 확인"],
            "risk_assessment": "낮음"}
    return json.dumps({**base, **fields}, ensure_ascii=False)


async def classify(session: ChatSession) -> dict[str, Any]:
    return await hs_classification_turn(session=session, message=DESCRIPTION, user_id="4")


async def assert_only_loaded_codes(body: dict[str, Any]) -> None:
    for code in body_codes(body):
        assert await run_db(code_is_loaded, code), code


async def reply_model(session: ChatSession) -> str:
    return await run_db(lambda: Message.objects.filter(session=session, role=Role.ASSISTANT)
                                   .values_list("model", flat=True).get())


async def test_the_llm_picks_a_candidate_and_explains_with_the_gri(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer(hscode="8518.30.9000",
                                                         alternative_codes=["8518.10.0000", "8517.13.0000"])))
    body = await classify(customs_session)
    result = body["result"]
    assert result["hscode"] == "8518.30.9000"
    assert result["classification_reason"].endswith("(LLM 판단).")
    assert result["gri_application"].startswith("GRI 1 적용")
    assert result["confidence_score"] == 0.92
    assert result["alternative_codes"] == ["8518.10.0000", "8517.13.0000"]
    assert "LLM 품목분류 검토" in result["verification_sources"]
    await assert_only_loaded_codes(body)
    assert await reply_model(customs_session) == "fake-model"
    record = await run_db(HSClassification.objects.select_related("message").get, session=customs_session)
    assert record.model == "fake-model" and record.hscode == "8518.30.9000"
    # The reply stores the LLM's tokens and its timing, like a streamed one (the quality page).
    assert record.message is not None
    assert record.message.prompt_tokens and record.message.completion_tokens
    assert record.message.ttfc_ms is not None and record.message.total_ms == record.message.ttfc_ms


async def test_the_prompt_asks_strict_json_over_the_retrieved_candidates(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer()))
    await classify(customs_session)
    (request,) = fake_llm.requests
    body = request.body
    assert body["model"] == settings.HS_LLM_MODEL
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.0
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert PROMPT_MARKER in system["content"]
    assert "후보 목록에 있는 code 중 하나" in system["content"]
    for rule in ("GRI 1", "GRI 2(a)", "GRI 3(b)", "GRI 6"):
        assert rule in system["content"]
    assert '"hscode"' in system["content"] and '"gri_application"' in system["content"]
    assert DESCRIPTION in user["content"]
    candidates = [json.loads(line) for line in user["content"].split("후보 (JSON 한 줄에 하나):\n")[1].splitlines()]
    assert candidates[0]["code"] == OFFLINE_BEST
    assert "헤드폰과 이어폰" in candidates[0]["subheading"]
    assert any("블루투스 무선 이어폰" in case for case in candidates[0]["similar_cases"])
    for candidate in candidates:
        assert await run_db(code_is_loaded, candidate["code"])


@pytest.mark.parametrize("reply", [
    answer(hscode="9999.99.9999"),  # no such code
    answer(hscode="8518.30.1234"),  # a real subheading, an invented national subdivision
    answer(hscode="6109.10.0000"),  # a loaded code, but not among the candidates retrieved
    "분류 결과: 8518.30 입니다",  # not JSON
    '{"hscode": "8518.30.9000"}',  # JSON without the fields asked for
    answer(confidence_score=7),  # out of range
    "",
])
async def test_an_answer_outside_the_candidates_or_garbage_is_never_shown(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI, reply: str) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=reply))
    body = await classify(customs_session)
    result = body["result"]
    assert body["type"] == "classification_result"
    assert result["hscode"] == OFFLINE_BEST
    assert "LLM 판단" not in result["classification_reason"]
    assert "9999.99.9999" not in json.dumps(body)
    await assert_only_loaded_codes(body)
    assert await reply_model(customs_session) == "offline"


async def test_invented_alternatives_are_dropped(hs_loaded: Any, customs_session: ChatSession,
                                                 fake_llm: FakeOpenAI) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer(alternative_codes=["1234.56.7890", "8518.10.0000",
                                                                            "banana", "8518.30.9000"])))
    body = await classify(customs_session)
    assert body["result"]["hscode"] == OFFLINE_BEST
    assert body["result"]["alternative_codes"] == ["8518.10.0000"]
    await assert_only_loaded_codes(body)


@pytest.mark.parametrize("fault", ["500", "drop", "timeout"])
async def test_an_upstream_failure_falls_back_to_retrieval(hs_loaded: Any, customs_session: ChatSession,
                                                           fake_llm: FakeOpenAI, fault: str) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer(), fault=fault))
    body = await classify(customs_session)
    assert body["type"] == "classification_result" and body["result"]["hscode"] == OFFLINE_BEST
    assert await reply_model(customs_session) == "offline"


@pytest.mark.parametrize("field", ["classification_reason", "gri_application", "risk_assessment"])
async def test_an_explanation_citing_a_code_that_is_not_loaded_is_rejected(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI, field: str) -> None:
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer(**{field: "제8519호와 8517.12.0000을 비교했습니다 (LLM 판단)"})))
    body = await classify(customs_session)
    assert body["result"]["hscode"] == OFFLINE_BEST
    assert "8517.12" not in json.dumps(body, ensure_ascii=False) and "LLM 판단" not in json.dumps(body)
    assert await reply_model(customs_session) == "offline"


async def test_an_explanation_may_cite_loaded_codes_and_dates(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI) -> None:
    reason = "제8518호의 헤드폰과 이어폰(8518.30)에 해당하며 8517.13.0000(스마트폰)과 다릅니다. 2026.01.01 기준 (LLM 판단)."
    fake_llm.route(PROMPT_MARKER, Behaviour(reply=answer(classification_reason=reason)))
    body = await classify(customs_session)
    assert body["result"]["classification_reason"] == reason


async def classified_then_verified(session: ChatSession, fake: FakeOpenAI, verdict: str) -> dict[str, Any]:
    fake.route(PROMPT_MARKER, Behaviour(reply=answer(alternative_codes=["8518.10.0000", "8517.13.0000"])))
    fake.route(VERIFY_MARKER, Behaviour(reply=verdict))
    await classify(session)
    return await hs_classification_turn(session=session, message="마이크가 달린 블루투스 이어폰입니다", user_id="4")


async def test_the_llm_verifies_the_code_against_its_alternatives(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI) -> None:
    verdict = json.dumps({"holds": True, "hscode": "8518.30.9000",
                          "message": "검증 결과 8518.30.9000이 맞습니다. GRI 1과 GRI 6에 따라 제8518호의 이어폰입니다."},
                         ensure_ascii=False)
    body = await classified_then_verified(customs_session, fake_llm, verdict)
    assert (body["type"], body["stage"], body["completed"]) == ("verification_result", "verification", True)
    assert body["message"].startswith("검증 결과 8518.30.9000이 맞습니다")
    request = fake_llm.requests[-1].body
    assert request["response_format"] == {"type": "json_object"}
    system, user = request["messages"]
    assert VERIFY_MARKER in system["content"]
    assert DESCRIPTION in user["content"] and "마이크가 달린 블루투스 이어폰입니다" in user["content"]
    assert '"code": "8518.30.9000"' in user["content"] and '"code": "8518.10.0000"' in user["content"]
    assert "검색 기반 재확인 결과: 분류 결과를 검증했습니다" in user["content"]
    records = await run_db(lambda: list(HSClassification.objects.filter(session=customs_session)
                                        .order_by("id").values_list("stage", "hscode", "model")))
    assert records[-1] == ("verification", "8518.30.9000", "fake-model")


async def test_the_llm_may_prefer_an_alternative(hs_loaded: Any, customs_session: ChatSession,
                                                 fake_llm: FakeOpenAI) -> None:
    verdict = json.dumps({"holds": False, "hscode": "8518.10.0000", "message": "마이크 기능이 본질적이면 8518.10이 맞습니다."},
                         ensure_ascii=False)
    body = await classified_then_verified(customs_session, fake_llm, verdict)
    assert body["message"] == "마이크 기능이 본질적이면 8518.10이 맞습니다."
    record = await run_db(lambda: HSClassification.objects.filter(session=customs_session).latest("id"))
    assert record.hscode == "8518.10.0000"


@pytest.mark.parametrize("verdict", [
    {"holds": False, "hscode": "8518.29.0000", "message": "8518.29가 맞습니다."},  # not among the alternatives
    {"holds": True, "hscode": "8518.10.0000", "message": "맞습니다."},  # says it holds, names another code
    {"holds": True, "hscode": "8518.30.9000", "message": "8517.12.0000과 비교하면 맞습니다."},  # cites an unknown code
    "검증했습니다",
])
async def test_a_verdict_outside_the_codes_or_garbage_leaves_the_retrieval_check(
        hs_loaded: Any, customs_session: ChatSession, fake_llm: FakeOpenAI, verdict: Any) -> None:
    text = verdict if isinstance(verdict, str) else json.dumps(verdict, ensure_ascii=False)
    body = await classified_then_verified(customs_session, fake_llm, text)
    assert body["type"] == "verification_result"
    assert body["message"].startswith("분류 결과를 검증했습니다")
    assert "8518.29" not in body["message"] and "8517.12" not in body["message"]
    record = await run_db(lambda: HSClassification.objects.filter(session=customs_session).latest("id"))
    assert record.model == "offline"
