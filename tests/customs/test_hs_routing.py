"""The chat endpoint hands HS questions, and every message of a pending HS stage, to customs.hs."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from conversations.models import ChatSession, Message, Role
from customs.models import IntentRecord
from tests.customs.conftest import parse_sse

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.django_db(transaction=True)

ENVELOPE = {"type", "service", "stage", "timestamp", "session_uuid", "user_id"}


async def test_hs_question_and_its_follow_ups_are_the_staged_json(nomenclature: None, offline: None,
                                                                  http: httpx2.AsyncClient, token: str,
                                                                  user: Any) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    # The first HS question of a process builds its retrieval index: seconds on a slow machine.
    first = await http.post("/api/v1/chat", headers=headers, json={"message": "스마트폰 HS코드 알려줘"}, timeout=60)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    body = first.json()
    assert ENVELOPE <= set(body) and body["service"] == "hscode_classification"
    assert body["user_id"] == user.pk
    key = body["session_uuid"]
    assert body["type"] in ("information_request", "classification_result")
    if body["type"] == "information_request":
        assert (body["stage"], body["next_stage"]) == ("information_gathering", "classification")
        # An answer to its questions is no HS question by itself: the pending stage routes it.
        answer = await http.post("/api/v1/chat", headers=headers,
                                 json={"message": "터치스크린이 있는 휴대용 무선 전화기입니다", "session_uuid": key})
        body = answer.json()
    assert (body["type"], body["stage"], body["next_stage"]) == ("classification_result", "classification",
                                                                 "verification")
    result = body["result"]
    assert set(result) >= {"hscode", "confidence_score", "classification_reason", "gri_application",
                           "alternative_codes", "verification_sources", "recommendations", "risk_assessment"}
    assert isinstance(body["processing_time_ms"], int)

    verified = (await http.post("/api/v1/chat", headers=headers,
                                json={"message": "네 확인해 주세요", "session_uuid": key})).json()
    assert (verified["type"], verified["stage"], verified["completed"]) == ("verification_result", "verification",
                                                                            True)
    # The stage is done: an ordinary question streams again.
    async with http.stream("POST", "/api/v1/chat", headers=headers,
                           json={"message": "FTA 원산지 증명 절차", "session_uuid": key}) as streamed:
        assert streamed.headers["content-type"] == "text/event-stream"
        await streamed.aread()

    methods = [r.method async for r in IntentRecord.objects.filter(session__key=key).order_by("id")]
    assert methods[0] == "rules" and "hs_stage" in methods
    # One user message per turn: the HS turn reuses the one the endpoint stored.
    session = await ChatSession.objects.aget(key=key)
    users = await Message.objects.filter(session=session, role=Role.USER).acount()
    assert users == len(methods)


async def test_a_retried_hs_turn_is_the_same_json_and_nothing_new_is_stored(
        nomenclature: None, offline: None, http: httpx2.AsyncClient) -> None:
    from customs.hs.models import HSClassification

    async with http.stream("POST", "/api/v1/chat", json={"message": "FTA 원산지 증명 절차"}) as streamed:
        key = parse_sse((await streamed.aread()).decode())[0].data["session_uuid"]
    body = {"message": "스마트폰 HS코드 알려줘", "session_uuid": key, "client_msg_id": "hs-1"}
    answered = (await http.post("/api/v1/chat", json=body, timeout=60)).json()
    assert answered["service"] == "hscode_classification"
    rows = await Message.objects.filter(session__key=key).acount()
    again = (await http.post("/api/v1/chat", json=body)).json()
    assert again == answered
    assert await Message.objects.filter(session__key=key).acount() == rows
    assert await HSClassification.objects.filter(session__key=key).acount() == 1
    session = await ChatSession.objects.aget(key=key)
    assert session.state.get("hs_stage") == answered["stage"]  # the retry did not move the stage


async def test_a_retry_of_a_hidden_hs_answer_gets_none_of_it(
        nomenclature: None, offline: None, http: httpx2.AsyncClient, make_user: Any) -> None:
    from conversations.aio import run_db
    from conversations.moderation import message_hide
    from customs.hs.services import HIDDEN_MESSAGE

    body = {"message": "스마트폰 HS코드 알려줘", "client_msg_id": "hs-1"}
    answered = (await http.post("/api/v1/chat", json=body, timeout=60)).json()
    key = answered["session_uuid"]
    reply = await Message.objects.aget(session__key=key, role=Role.ASSISTANT)
    moderator = await run_db(make_user, "moderator", is_staff=True)
    await run_db(message_hide, message=reply, actor=moderator)

    again = (await http.post("/api/v1/chat", json={**body, "session_uuid": key})).json()
    assert (again["type"], again["stage"], again["message"]) == ("error", answered["stage"], HIDDEN_MESSAGE)
    assert again["session_uuid"] == key
    assert answered["message"] not in str(again) and "8517" not in str(again)
