"""The staged HS classification through hs_classification_turn, without an LLM."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conversations.aio import run_db
from conversations.errors import SessionEnded
from conversations.models import ChatSession, Message, Product, Role, SessionStatus
from conversations.services import message_append
from customs.hs.models import HSClassification
from customs.hs.services import hs_classification_turn
from customs.selectors import session_hs_pending
from tests.customs.hs_fixtures import body_codes, code_is_loaded

pytestmark = pytest.mark.django_db(transaction=True)

ENVELOPE = ("type", "service", "stage", "timestamp", "session_uuid", "user_id", "processing_time_ms")
RESULT_FIELDS = ("hscode", "confidence_score", "classification_reason", "gri_application", "alternative_codes",
                 "verification_sources", "recommendations", "risk_assessment")
CODE_STYLE = re.compile(r"^\d{4}\.\d{2}\.\d{4}$")


async def turn(session: ChatSession, message: str, user_id: str | None = "4") -> dict[str, Any]:
    return await hs_classification_turn(session=session, message=message, user_id=user_id)


async def refreshed(session: ChatSession) -> ChatSession:
    return await run_db(ChatSession.objects.get, pk=session.pk)


def assert_envelope(body: dict[str, Any], session: ChatSession, type_: str, stage: str) -> None:
    for name in ENVELOPE:
        assert name in body, name
    assert (body["type"], body["service"], body["stage"]) == (type_, "hscode_classification", stage)
    assert body["session_uuid"] == session.key and body["user_id"] == "4"
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert body["timestamp"].endswith("Z")
    assert isinstance(body["processing_time_ms"], int) and body["processing_time_ms"] >= 0  # errors too


async def assert_codes_loaded(body: dict[str, Any]) -> None:
    for code in body_codes(body):
        assert CODE_STYLE.match(code), code
        assert await run_db(code_is_loaded, code), code


async def test_a_vague_product_goes_through_the_three_stages(hs_loaded: Any, customs_session: ChatSession) -> None:
    first = await turn(customs_session, "스마트폰 케이스 HS코드 알려줘")
    assert_envelope(first, customs_session, "information_request", "information_gathering")
    assert first["next_stage"] == "classification"
    # It asks for what decides between the candidate headings (a phone, or plastic articles).
    assert "재질" in first["message"] and "용도" in first["message"]
    assert "제8517호" in first["message"] and "제3926호" in first["message"]
    assert customs_session.state["hs_stage"] == "information_gathering"
    assert (await refreshed(customs_session)).state["hs_stage"] == "information_gathering"

    second = await turn(customs_session, "실리콘과 플라스틱으로 만든 휴대폰 보호용 케이스입니다")
    assert_envelope(second, customs_session, "classification_result", "classification")
    assert second["next_stage"] == "verification"
    result = second["result"]
    assert list(result) == list(RESULT_FIELDS)
    # The answer used what was said in both messages: a plastic case, not the phone.
    assert result["hscode"].startswith("3926.90")
    assert 0 < result["confidence_score"] <= 0.9
    assert "GRI 1" in result["gri_application"] and "GRI 6" in result["gri_application"]
    assert result["classification_reason"] and result["risk_assessment"]
    assert result["verification_sources"] and result["recommendations"]
    assert result["alternative_codes"] and result["hscode"] not in result["alternative_codes"]
    await assert_codes_loaded(second)
    assert (await refreshed(customs_session)).state["hs_stage"] == "classification"

    third = await turn(customs_session, "네, 그 분류가 맞는지 확인해 주세요")
    assert_envelope(third, customs_session, "verification_result", "verification")
    assert third["completed"] is True
    assert result["hscode"] in third["message"] and "검증" in third["message"]
    assert (await refreshed(customs_session)).state["hs_stage"] == "verification"

    stored = await run_db(lambda: list(HSClassification.objects.filter(session=customs_session)
                                                  .order_by("id").values_list("stage", "response_type", "hscode")))
    assert stored == [("information_gathering", "information_request", ""),
                      ("classification", "classification_result", result["hscode"]),
                      ("verification", "verification_result", result["hscode"])]
    messages = await run_db(lambda: list(Message.objects.filter(session=customs_session)
                                                    .order_by("id").values_list("role", "model")))
    assert messages == [(Role.USER, ""), (Role.ASSISTANT, "offline")] * 3


async def test_a_specific_product_is_classified_at_once(hs_loaded: Any, customs_session: ChatSession) -> None:
    body = await turn(customs_session, "블루투스 무선 이어폰 헤드폰")
    assert_envelope(body, customs_session, "classification_result", "classification")
    # The best-matching published case lies in the chosen subheading: its 10-digit HSK code.
    assert body["result"]["hscode"] == "8518.30.9000"
    assert "이어폰" in body["result"]["classification_reason"]
    await assert_codes_loaded(body)


async def test_after_verification_the_next_product_starts_again(hs_loaded: Any,
                                                                 customs_session: ChatSession) -> None:
    await turn(customs_session, "블루투스 무선 이어폰 헤드폰")
    await turn(customs_session, "맞나요?")
    body = await turn(customs_session, "금속 프레임 의자 패브릭 쿠션")
    assert body["type"] == "classification_result" and body["result"]["hscode"].startswith("9401.71")


async def test_asking_for_another_code_mid_way_starts_a_new_classification(
        hs_loaded: Any, customs_session: ChatSession) -> None:
    await turn(customs_session, "블루투스 무선 이어폰 헤드폰")
    body = await turn(customs_session, "그럼 면 티셔츠 니트 HS코드는 뭐야?")
    assert body["type"] == "classification_result" and body["result"]["hscode"].startswith("6109.10")


async def test_a_turn_stores_no_second_user_message_when_the_caller_did(
        hs_loaded: Any, customs_session: ChatSession) -> None:
    stored = await run_db(message_append, session=customs_session, role=Role.USER,
                                     text="블루투스 무선 이어폰 헤드폰")
    body = await hs_classification_turn(session=customs_session, message="블루투스 무선 이어폰 헤드폰",
                                        user_id=None, user_message=stored)
    assert body["user_id"] is None and body["type"] == "classification_result"
    roles = await run_db(lambda: list(Message.objects.filter(session=customs_session)
                                                 .values_list("role", "reply_to_id")))
    assert roles == [(Role.USER, None), (Role.ASSISTANT, stored.pk)]


async def test_without_a_nomenclature_the_answer_is_the_seed_error(transactional_db: None,
                                                                   customs_session: ChatSession) -> None:
    body = await turn(customs_session, "스마트폰 HS코드 알려줘")
    assert_envelope(body, customs_session, "error", "information_gathering")
    assert set(body) == {*ENVELOPE, "message", "error_detail"}
    assert "데이터" in body["message"] and body["error_detail"] == "품목분류표 미적재"


async def test_an_ended_session_takes_no_more_messages(hs_loaded: Any, customs_session: ChatSession) -> None:
    await run_db(ChatSession.objects.filter(pk=customs_session.pk).update,
                            status=SessionStatus.ENDED, ended_at=timezone.now())
    with pytest.raises(SessionEnded):
        await turn(customs_session, "스마트폰 HS코드 알려줘")


async def test_the_product_description_is_encrypted_at_rest(hs_loaded: Any, customs_session: ChatSession) -> None:
    await turn(customs_session, "블루투스 무선 이어폰 헤드폰")

    def raw() -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT description FROM {HSClassification._meta.db_table}")
            return [row[0] for row in cursor.fetchall()]

    (description,) = await run_db(raw)
    assert description and "이어폰" not in str(description)
    record = await run_db(HSClassification.objects.get, session=customs_session)
    assert record.description == "블루투스 무선 이어폰 헤드폰"


async def test_an_internal_failure_is_the_seed_error_and_keeps_the_stage(
        hs_loaded: Any, customs_session: ChatSession, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await turn(customs_session, "스마트폰 케이스 HS코드 알려줘")
    assert first["type"] == "information_request"

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("index exploded")

    monkeypatch.setattr("customs.hs.services.classify_offline", broken)
    body = await turn(customs_session, "실리콘 케이스입니다")
    assert_envelope(body, customs_session, "error", "information_gathering")
    # Korean, like the seed's "LLM 호출 시간 초과"; the exception's name stays in the log.
    assert body["error_detail"] == "내부 처리 오류" and "다시 시도" in body["message"]
    assert "index exploded" not in str(body)
    monkeypatch.undo()
    # The question stays open: the next answer is classified with the first message.
    retry = await turn(customs_session, "실리콘과 플라스틱으로 만든 휴대폰 보호용 케이스입니다")
    assert retry["type"] == "classification_result" and retry["result"]["hscode"].startswith("3926.90")


async def test_a_failure_on_the_first_turn_opens_no_hs_question(
        hs_loaded: Any, customs_session: ChatSession, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("index exploded")

    monkeypatch.setattr("customs.hs.services.classify_offline", broken)
    body = await turn(customs_session, "스마트폰 케이스 HS코드 알려줘")
    assert_envelope(body, customs_session, "error", "information_gathering")
    # Nothing was asked, so the session's next message is routed by its own intent
    # (a general question streams), not taken as the answer to an HS question.
    session = await refreshed(customs_session)
    assert "hs_stage" not in session.state and not session_hs_pending(session)


async def test_many_sessions_at_once_share_one_index_build(hs_loaded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from customs.hs import index as hs_index

    builds: list[str] = []
    real_build = hs_index.build

    def counting_build(source: Any) -> Any:
        builds.append(source.version)
        return real_build(source)

    monkeypatch.setattr(hs_index, "build", counting_build)
    sessions = [await run_db(ChatSession.objects.create, key=str(uuid.uuid4()), product=Product.CUSTOMS)
                for _ in range(12)]
    bodies = await asyncio.gather(*(turn(s, "블루투스 무선 이어폰 헤드폰") for s in sessions))
    assert {b["result"]["hscode"] for b in bodies} == {"8518.30.9000"}
    assert [b["session_uuid"] for b in bodies] == [s.key for s in sessions]
    assert len(builds) == 1
    assert await run_db(HSClassification.objects.count) == 12


async def test_the_answer_body_is_encrypted_at_rest(
        hs_loaded: Any, customs_session: ChatSession) -> None:
    body = await turn(customs_session, "블루투스 무선 이어폰 헤드폰")

    def raw() -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT body FROM {HSClassification._meta.db_table}")
            return str(cursor.fetchone()[0])

    assert "이어폰" not in await run_db(raw)
    record = await run_db(HSClassification.objects.get, session=customs_session)
    assert record.body == body  # numbers stay numbers


async def test_an_exchange_that_keeps_asking_reads_only_its_latest_messages(hs_loaded: Any,
                                                                          customs_session: ChatSession) -> None:
    from customs.hs.services import CONTEXT_KEY, CONTEXT_MESSAGES

    # Words that match nothing: the classifier keeps asking, turn after turn.
    for _ in range(CONTEXT_MESSAGES + 3):
        body = await turn(customs_session, "qzxv " * 50)
        assert body["stage"] == "information_gathering"
    state = (await refreshed(customs_session)).state
    assert len(state[CONTEXT_KEY]["message_ids"]) == CONTEXT_MESSAGES
