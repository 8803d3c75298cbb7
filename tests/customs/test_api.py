"""POST /api/v1/chat through a real HTTP client against the live daphne server.

The server runs with the fake OpenAI upstream; the intent classifier's requests are told
apart from the answer's by the marker ``intent_type`` its system prompt carries.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import httpx2
import pytest
from django.db import connection

from conversations.aio import run_db
from conversations.models import ChatSession, Message, MessageStatus, Role
from conversations.ratelimit import generation_lock_acquire, generation_lock_release
from conversations.services import message_append, token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI, RecordedRequest
from customs.cargo import recognize_cargo_number
from customs.models import Intent, IntentRecord
from tests.conftest import Clock
from tests.customs.conftest import SSE, bearer, parse_sse

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.django_db(transaction=True)

CLASSIFIER_MARKER = "intent_type"
REPLY = "수입신고는 물품이 보세구역에 반입된 뒤 하며, 세관 심사를 거쳐 수리되면 반출할 수 있습니다. 필요한 서류는 송품장과 포장명세서입니다."
SLOW_REPLY = "원산지 증명서는 협정마다 발급 방식이 다르므로 먼저 적용할 협정을 정하셔야 합니다. " * 8
CARGO_SUCCESS_KEYS = ["intent_type", "status", "message", "cargo_data", "spring_endpoint", "session_uuid", "user_id",
                      "processed_at", "processing_time_ms", "error_code", "error_details"]
CARGO_ERROR_KEYS = ["intent_type", "status", "error_code", "error_message", "original_message", "session_uuid",
                    "user_id", "suggestions", "retry_available", "processed_at"]


def classify_as(fake: FakeOpenAI, intent: str, confidence: float = 0.9, **entities: Any) -> None:
    reply = json.dumps({"intent_type": intent, "confidence_score": confidence, "entities": entities})
    fake.route(CLASSIFIER_MARKER, Behaviour(reply=reply, chunk_size=0))


@pytest.fixture
def classifier(fake_llm: FakeOpenAI) -> FakeOpenAI:
    classify_as(fake_llm, "regulatory_inquiry")
    return fake_llm


def answer_requests(fake: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in fake.requests
            if r.path == "/v1/chat/completions" and CLASSIFIER_MARKER not in json.dumps(r.body, ensure_ascii=False)]


async def post_sse(http: httpx2.AsyncClient, body: dict[str, Any], **kwargs: Any) -> tuple[httpx2.Response, list[SSE]]:
    async with http.stream("POST", "/api/v1/chat", json=body, **kwargs) as response:
        raw = (await response.aread()).decode()
    return response, parse_sse(raw)


def texts(events: list[SSE]) -> list[str]:
    return [e.data["delta"]["text"] for e in events
            if e.event == "content_block_delta" and e.data["delta"]["type"] == "text_delta"]


async def _settled(key: str, timeout: float = 5.0) -> Message:
    deadline = time.monotonic() + timeout
    while True:
        reply = await Message.objects.filter(session__key=key, role=Role.ASSISTANT).order_by("id").alast()
        if reply is not None and reply.status != MessageStatus.STREAMING:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"reply not settled: {reply and reply.status}")
        await asyncio.sleep(0.05)


def _raw_entities(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT entities FROM {IntentRecord._meta.db_table} WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


# --- cargo JSON --------------------------------------------------------------------------


async def test_cargo_success_json_is_the_seed_field_for_field(classifier: FakeOpenAI, http: httpx2.AsyncClient,
                                                              token: str, user: Any) -> None:
    classify_as(classifier, "cargo_tracking", 0.97, cargo_numbers=["CSQU3054383"])
    session_uuid = str(uuid.uuid4())
    response = await http.post("/api/v1/chat", headers=bearer(token),
                               json={"message": "CSQU3054383 통관 어디까지 됐나요?", "session_uuid": session_uuid})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "Content-Type, Authorization, X-Requested-With"
    body = response.json()
    assert list(body) == CARGO_SUCCESS_KEYS
    assert (body["intent_type"], body["status"], body["spring_endpoint"]) == ("cargo_tracking", "success",
                                                                              "/api/cargo/tracking")
    assert body["message"] == "화물번호 'CSQU3054383'을(를) 인식했습니다. 통관 정보를 조회하고 있습니다."
    assert body["cargo_data"] == {"cargo_number": "CSQU3054383", "cargo_type": "컨테이너",
                                  "extracted_patterns": ["container"], "confidence_score": 0.95}
    assert (body["session_uuid"], body["user_id"]) == (session_uuid, user.pk)
    assert body["processed_at"].endswith("Z") and len(body["processed_at"]) == 24
    assert isinstance(body["processing_time_ms"], int) and body["processing_time_ms"] >= 0
    assert (body["error_code"], body["error_details"]) == (None, None)

    # Stored: the user's message with its intent (the LLM's, with its confidence), and the answer.
    record = await IntentRecord.objects.select_related("message").aget(session__key=session_uuid)
    assert (record.intent, record.method, record.confidence) == (Intent.CARGO_TRACKING, "llm", 0.97)
    assert record.entities["cargo_numbers"] == ["CSQU3054383"]
    raw = await run_db(_raw_entities, record.pk)
    assert "CSQU3054383" not in raw  # encrypted at rest, like the message itself
    answer = await Message.objects.aget(session__key=session_uuid, role=Role.ASSISTANT)
    assert answer.content == body["message"] and answer.model == "rules"
    assert answer.ttfc_ms is not None and answer.total_ms == answer.ttfc_ms


async def test_cargo_wrong_check_digit_and_several_numbers(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(classifier, "cargo_tracking")
    body = (await http.post("/api/v1/chat", json={"message": "CSQU3054384 이랑 180-12345675 조회"})).json()
    # The air waybill's check digit holds, the container's does not: the AWB is the surer reading.
    assert body["cargo_data"]["cargo_number"] == "18012345675"
    assert body["cargo_data"]["extracted_patterns"] == ["air_waybill", "container"]
    assert "CSQU3054384(컨테이너)" in body["message"]
    body = (await http.post("/api/v1/chat", json={"message": "CSQU3054384 조회"})).json()
    assert body["cargo_data"]["confidence_score"] == 0.7
    assert "검사 숫자" in body["message"] and "3" in body["message"]


async def test_cargo_error_json_is_the_seed_field_for_field(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classify_as(classifier, "cargo_tracking")
    response = await http.post("/api/v1/chat", json={"message": "화물 조회해줘"})
    body = response.json()
    assert response.status_code == 200 and list(body) == CARGO_ERROR_KEYS
    assert (body["status"], body["error_code"], body["retry_available"]) == ("error", "CARGO_NUMBER_NOT_FOUND", True)
    assert body["error_message"] == "메시지에서 화물번호를 찾을 수 없습니다."
    assert body["original_message"] == "화물 조회해줘"
    assert body["user_id"] is None  # a guest
    assert body["suggestions"][0] == "화물번호를 정확히 입력해주세요."
    # Every example is a number the recogniser takes as valid (a check digit that holds).
    examples = [re.fullmatch(r"예시: (\S+) \((.+)\)", line) for line in body["suggestions"][1:]]
    assert len(examples) == 4 and all(examples)
    for example in examples:
        assert example is not None
        match = recognize_cargo_number(example[1])
        assert match is not None and match.confidence >= 0.8 and not match.note, example[0]
    uuid.UUID(body["session_uuid"])


# --- SSE -----------------------------------------------------------------------------------


def _order(events: list[SSE], *, buttons: bool = True) -> list[str]:
    names = []
    for e in events:
        if not buttons and e.event == "content_block_delta" and "button" in e.data["delta"]["type"]:
            continue
        if e.event == "content_block_delta":
            names.append(f"delta:{e.data['delta']['type']}@{e.data['index']}")
        elif e.event in ("content_block_start", "content_block_stop"):
            kind = e.data.get("content_block", {}).get("type", "")
            names.append(f"{e.event}:{kind}@{e.data['index']}".replace(":@", "@"))
        else:
            names.append(e.event)
    collapsed: list[str] = []
    for name in names:  # runs of the same delta read as one
        if not collapsed or collapsed[-1] != name or not name.startswith("delta:text_delta"):
            collapsed.append(name)
    return collapsed


async def test_sse_order_indexes_headers_and_stored_reply(detail_links: None, classifier: FakeOpenAI,
                                                          http: httpx2.AsyncClient, token: str) -> None:
    classifier.route("[수입신고]", Behaviour(reply=REPLY))
    response, events = await post_sse(http, {"message": "[수입신고] 수입신고 절차가 궁금해요"}, headers=bearer(token))
    assert response.status_code == 200
    for name, value in {"content-type": "text/event-stream", "cache-control": "no-cache", "connection": "keep-alive",
                        "x-accel-buffering": "no", "transfer-encoding": "chunked",
                        "access-control-expose-headers": "Content-Type",
                        "access-control-allow-methods": "GET, POST, OPTIONS"}.items():
        assert response.headers[name] == value, name
    order = _order(events)
    buttons = [n for n in order if "detail_button" in n]
    assert _order(events, buttons=False) == [
        "session_info", "message_start", "content_block_start:metadata@0", "content_block_stop@0",
        "content_block_start:text@1", "delta:text_delta@1", "content_block_stop@1", "message_delta", "message_stop"]
    assert buttons[0] == "delta:detail_buttons_start@1" and set(buttons[1:]) == {"delta:detail_button_ready@1"}
    assert order.index(buttons[-1]) < order.index("content_block_stop@1")

    info, start = events[0].data, events[1].data
    session_key = info["session_uuid"]
    assert isinstance(info["timestamp"], float) and abs(info["timestamp"] - time.time()) < 30
    message = start["message"]
    assert list(message)[:9] == ["id", "type", "role", "model", "parent_uuid", "uuid", "content", "stop_reason",
                                 "stop_sequence"]
    assert (message["type"], message["role"], message["model"], message["content"]) == ("message", "assistant",
                                                                                         "gpt-4o-mini", [])
    assert events[2].data["content_block"]["metadata"] == {"session_uuid": session_key}
    assert events[2].data["content_block"]["stop_timestamp"] is None
    assert events[4].data["content_block"] == {**events[4].data["content_block"], "type": "text", "text": "",
                                               "citations": []}
    pieces = texts(events)
    assert "".join(pieces) == REPLY
    assert all(1 <= len(p) <= 10 for p in pieces) and sum(len(p) == 10 for p in pieces) >= len(pieces) // 2
    ready = [e.data["delta"]["button_data"] for e in events if e.event == "content_block_delta"
             and e.data["delta"]["type"] == "detail_button_ready"]
    start_delta = next(e.data["delta"] for e in events if e.event == "content_block_delta"
                       and e.data["delta"]["type"] == "detail_buttons_start")
    assert start_delta["button_count"] == len(ready) and start_delta["processing_status"] == "준비 중"
    assert all(set(b) == {"title", "description", "action_type", "url"} for b in ready)
    end = next(e.data for e in events if e.event == "message_delta")
    assert end["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert end["usage"]["output_tokens"] > 0 and end["usage"]["input_tokens"] > 0

    reply = await _settled(session_key)
    assert (reply.status, reply.content, reply.client_msg_id) == (MessageStatus.COMPLETE, REPLY, message["uuid"])
    asked = await Message.objects.aget(pk=reply.reply_to_id)
    assert asked.client_msg_id == message["parent_uuid"] and asked.content == "[수입신고] 수입신고 절차가 궁금해요"
    assert reply.completion_tokens == end["usage"]["output_tokens"]

    # The same session again: no metadata block, the text block is index 0.
    _, again = await post_sse(http, {"message": "[수입신고] 서류는요?", "session_uuid": session_key},
                              headers=bearer(token))
    assert _order(again, buttons=False) == [
        "session_info", "message_start", "content_block_start:text@0", "delta:text_delta@0", "content_block_stop@0",
        "message_delta", "message_stop"]
    # The earlier turn went to the model as context.
    last = answer_requests(classifier)[-1].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]


async def test_anthropic_sdk_parses_the_stream_and_rebuilds_the_message(detail_links: None, classifier: FakeOpenAI,
                                                                        asgi_server: str, token: str) -> None:
    from anthropic import NOT_GIVEN, AsyncAnthropic, AsyncStream
    from anthropic.lib.streaming import AsyncMessageStream
    from anthropic.types import RawMessageStreamEvent

    classifier.route("[sdk]", Behaviour(reply=REPLY))
    async with httpx2.AsyncClient(trust_env=False, timeout=10) as transport:
        client = AsyncAnthropic(base_url=asgi_server, api_key=token, http_client=transport, max_retries=0)
        raw = await client.post("/api/v1/chat", body={"message": "[sdk] 수입신고 절차 알려줘"},
                                cast_to=RawMessageStreamEvent, stream=True,  # type: ignore[arg-type]
                                stream_cls=AsyncStream[RawMessageStreamEvent])
        stream = AsyncMessageStream(raw, output_format=NOT_GIVEN)
        streamed = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(streamed) == REPLY
    text_blocks = [b for b in final.content if getattr(b, "type", None) == "text"]
    assert [b.text for b in text_blocks] == [REPLY]
    assert (final.role, final.stop_reason, final.model) == ("assistant", "end_turn", "gpt-4o-mini")
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    # The SDK sends its key as a bearer token: the answer is that user's.
    assert await ChatSession.objects.filter(user__isnull=False, product="customs").aexists()


async def test_upstream_failure_mid_stream_is_the_error_form(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classifier.route("[끊김]", Behaviour(reply=REPLY, fault="drop", fault_after=5))
    response, events = await post_sse(http, {"message": "[끊김] 통관 절차 알려줘"})
    assert response.status_code == 200
    tail = [e.event for e in events][-3:]
    assert tail == ["content_block_delta", "message_delta", "message_stop"]
    error_text = events[-3].data["delta"]["text"]
    assert error_text == "응답 처리 중 오류가 발생했습니다."
    assert events[-2].data["delta"] == {"stop_reason": "error", "stop_sequence": None}
    partial = "".join(texts(events)[:-1])
    assert partial and REPLY.startswith(partial)
    reply = await _settled(events[0].data["session_uuid"])
    assert (reply.status, reply.content, reply.error_code) == (MessageStatus.FAILED, partial, "STREAMING_ERROR")

    # The session stays usable.
    classifier.route("[끊김]", Behaviour(reply=REPLY))
    _, events = await post_sse(http, {"message": "다시 알려줘", "session_uuid": events[0].data["session_uuid"]})
    assert events[-2].data["delta"]["stop_reason"] == "end_turn"


async def test_upstream_unavailable_before_the_first_token(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classifier.route("[장애]", Behaviour(fault="500"))
    _, events = await post_sse(http, {"message": "[장애] 관세 환급 절차"})
    assert texts(events) == ["AI 서비스에 일시적으로 연결할 수 없습니다. 잠시 후 다시 시도해 주세요."]
    assert events[-2].data["delta"]["stop_reason"] == "error"


async def test_disconnect_stops_the_upstream_at_once_and_keeps_the_partial(
    classifier: FakeOpenAI, http: httpx2.AsyncClient
) -> None:
    classifier.route("[느림]", Behaviour(reply=SLOW_REPLY, delay=0.05))
    seen: list[SSE] = []
    async with http.stream("POST", "/api/v1/chat", json={"message": "[느림] 원산지 증명 방법"}) as response:
        buffer = ""
        async for chunk in response.aiter_text():
            buffer += chunk
            seen = parse_sse(buffer.rsplit("\n\n", 1)[0] + "\n\n") if "\n\n" in buffer else []
            if len(texts(seen)) >= 2:
                break
        left_at = time.monotonic()
    upstream = answer_requests(classifier)[-1]
    finished = classifier.wait_until_finished(classifier.requests.index(upstream), timeout=1.0)
    assert finished.client_disconnected
    assert finished.finished_at is not None and finished.finished_at - left_at < 1.0
    assert finished.chunks_sent < len(SLOW_REPLY) // 2
    reply = await _settled(seen[0].data["session_uuid"])
    assert reply.status == MessageStatus.INTERRUPTED
    assert reply.content and SLOW_REPLY.startswith(reply.content)
    assert reply.content.startswith("".join(texts(seen)))


async def test_a_second_turn_while_streaming_is_busy(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    classifier.route("[느림]", Behaviour(reply=SLOW_REPLY, delay=0.02))
    async with http.stream("POST", "/api/v1/chat", json={"message": "[느림] FTA 원산지"}) as response:
        chunks = response.aiter_text()  # one iterator: a dropped one closes the response
        first = await anext(chunks)
        session_key = parse_sse(first)[0].data["session_uuid"]
        busy = await http.post("/api/v1/chat", json={"message": "또 질문", "session_uuid": session_key})
        assert busy.status_code == 409
        assert busy.json()["error"]["code"] == "BUSY"
        async for _ in chunks:
            pass
    ok = await http.post("/api/v1/chat", json={"message": "화물 조회 ABCD1234567", "session_uuid": session_key})
    assert ok.status_code == 200


# --- retries (client_msg_id) ----------------------------------------------------------------


def _buttons_of(events: list[SSE]) -> list[Any]:
    return [e.data["delta"] for e in events if e.event == "content_block_delta" and "button" in e.data["delta"]["type"]]


async def _session_key(http: httpx2.AsyncClient) -> str:
    _response, events = await post_sse(http, {"message": "FTA 원산지 증명 절차"})
    return str(events[0].data["session_uuid"])


async def test_a_retried_stream_turn_is_the_stored_answer_and_asks_no_model(classifier: FakeOpenAI,
                                                                           http: httpx2.AsyncClient) -> None:
    key = await _session_key(http)
    body = {"message": "관세 환급은 어떻게 신청하나요", "session_uuid": key, "client_msg_id": "turn-2"}
    _response, answered = await post_sse(http, body)
    calls, rows = len(classifier.requests), await Message.objects.filter(session__key=key).acount()
    _response, again = await post_sse(http, body)
    # (The buttons come as they are ready, before or among the text.)
    assert _order(again, buttons=False) == _order(answered, buttons=False)
    assert "".join(texts(again)) == "".join(texts(answered))
    assert _buttons_of(again) == _buttons_of(answered)
    assert again[1].data["message"]["parent_uuid"] == answered[1].data["message"]["parent_uuid"] == "turn-2"
    assert again[1].data["message"]["uuid"] == answered[1].data["message"]["uuid"]
    assert len(classifier.requests) == calls  # neither the intent classifier nor the answer's model
    assert await Message.objects.filter(session__key=key).acount() == rows


async def test_a_retried_cargo_turn_is_the_same_json(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    key = await _session_key(http)
    classify_as(classifier, "cargo_tracking")
    body = {"message": "MSKU9070323 조회해 주세요", "session_uuid": key, "client_msg_id": "turn-2"}
    answered = (await http.post("/api/v1/chat", json=body)).json()
    calls, rows = len(classifier.requests), await Message.objects.filter(session__key=key).acount()
    again = (await http.post("/api/v1/chat", json=body)).json()
    changing = {"processed_at", "processing_time_ms"}
    assert {k: v for k, v in again.items() if k not in changing} == {
        k: v for k, v in answered.items() if k not in changing}
    assert again["cargo_data"]["cargo_number"] == "MSKU9070323"
    assert len(classifier.requests) == calls
    assert await Message.objects.filter(session__key=key).acount() == rows


async def test_a_retried_json_turn_whose_process_died_is_answered_not_busy(
        classifier: FakeOpenAI, http: httpx2.AsyncClient, settings: Any) -> None:
    # What a process killed between storing the message and its answer leaves behind: the
    # message and its intent, no reply, and (its lease run out) a free session.
    key = await _session_key(http)

    def crashed_turn() -> None:
        session = ChatSession.objects.get(key=key)
        asked = message_append(session=session, role=Role.USER, text="MSKU9070323 조회해 주세요",
                               client_msg_id="turn-9")
        IntentRecord.objects.create(session=session, message=asked, intent=Intent.CARGO_TRACKING, confidence=0.9,
                                    method=IntentRecord.Method.RULES, entities={})

    await run_db(crashed_turn)
    calls = len(classifier.requests)
    body = {"message": "MSKU9070323 조회해 주세요", "session_uuid": key, "client_msg_id": "turn-9"}
    if settings.REDIS_URL:
        # While a turn of the session holds it (the message's own, still being answered
        # elsewhere), the retry waits its turn. (The embedded server's leases are its own.)
        session = await ChatSession.objects.aget(key=key)
        assert await generation_lock_acquire(session_id=session.pk, owner="elsewhere")
        busy = await http.post("/api/v1/chat", json=body)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "BUSY"
        await generation_lock_release(session_id=session.pk, owner="elsewhere")
    answered = await http.post("/api/v1/chat", json=body)
    assert answered.status_code == 200, answered.text
    assert answered.json()["cargo_data"]["cargo_number"] == "MSKU9070323"
    assert len(classifier.requests) == calls  # the stored intent: no classifier
    asked = await Message.objects.aget(session__key=key, client_msg_id="turn-9")
    assert await Message.objects.filter(reply_to=asked, role=Role.ASSISTANT).acount() == 1
    again = (await http.post("/api/v1/chat", json=body)).json()  # now an ordinary retry: the same JSON
    assert again["cargo_data"] == answered.json()["cargo_data"]
    assert await Message.objects.filter(session__key=key, client_msg_id="turn-9").acount() == 1


async def test_a_retry_while_its_answer_streams_is_busy(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    key = await _session_key(http)
    classifier.route("[느림]", Behaviour(reply=SLOW_REPLY, delay=0.02))
    body = {"message": "[느림] FTA 원산지", "session_uuid": key, "client_msg_id": "turn-2"}
    async with http.stream("POST", "/api/v1/chat", json=body) as response:
        chunks = response.aiter_text()
        await anext(chunks)
        retry = await http.post("/api/v1/chat", json=body)
        assert retry.status_code == 409 and retry.json()["error"]["code"] == "BUSY"
        async for _ in chunks:
            pass
    assert len(answer_requests(classifier)) == 2  # the first turn's and this one's, once


# --- intent classification ---------------------------------------------------------------


async def test_llm_intent_is_used_and_bad_llm_json_falls_back_to_rules(fake_llm: FakeOpenAI,
                                                                        http: httpx2.AsyncClient) -> None:
    classify_as(fake_llm, "news_inquiry", 0.66)
    _, events = await post_sse(http, {"message": "요즘 어때요?"})
    key = events[0].data["session_uuid"]
    record = await IntentRecord.objects.aget(session__key=key)
    assert (record.intent, record.method, record.confidence) == ("news_inquiry", "llm", 0.66)
    # The answer's prompt follows the intent.
    assert "뉴스" in answer_requests(fake_llm)[-1].body["messages"][0]["content"]

    fake_llm.reset()
    fake_llm.route(CLASSIFIER_MARKER, Behaviour(reply='{"intent_type": "shipping", "confidence_score": 2}'))
    response = await http.post("/api/v1/chat", json={"message": "MSKU9070323 조회", "session_uuid": key})
    assert response.json()["cargo_data"]["cargo_number"] == "MSKU9070323"
    latest = await IntentRecord.objects.filter(session__key=key).order_by("-id").afirst()
    assert latest is not None and (latest.intent, latest.method) == ("cargo_tracking", "rules_fallback")
    classifier_calls = len([r for r in fake_llm.requests if CLASSIFIER_MARKER in json.dumps(r.body)])
    assert classifier_calls == 1
    body = fake_llm.requests[0].body
    assert body["response_format"] == {"type": "json_object"}


async def test_intent_is_cached_for_the_same_normalised_message(classifier: FakeOpenAI,
                                                                http: httpx2.AsyncClient) -> None:
    classify_as(classifier, "cargo_tracking")
    for message in ("화물 조회  MSKU9070323", "화물 조회 msku9070323 "):
        assert (await http.post("/api/v1/chat", json={"message": message})).status_code == 200
    assert len([r for r in classifier.requests if CLASSIFIER_MARKER in json.dumps(r.body)]) == 1
    # The one call's tokens are billed to the message it classified (the quality page counts them).
    asked = [m async for m in Message.objects.filter(role=Role.USER).order_by("id")]
    assert [bool(m.prompt_tokens) for m in asked] == [True, False] and asked[0].model == ""


# --- bodies, auth, ownership, limits -------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({}, "message"),
    ({"message": ""}, "message"),
    ({"message": "   "}, "message"),
    ({"message": None}, "message"),
    ({"message": 42}, "message"),
    ({"message": ["화물"]}, "message"),
    ({"message": "가" * 4001}, "message"),
    ({"message": "안녕", "session_uuid": "not-a-uuid"}, "session_uuid"),
    ({"message": "안녕", "client_msg_id": ""}, "client_msg_id"),
    ({"message": "안녕", "client_msg_id": "x" * 65}, "client_msg_id"),
    ({"message": "안녕", "client_msg_id": 7}, "client_msg_id"),
])
async def test_bad_bodies_are_422_naming_the_field(classifier: FakeOpenAI, http: httpx2.AsyncClient,
                                                   body: dict[str, Any], field: str) -> None:
    response = await http.post("/api/v1/chat", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in error["fields"]] == [field]
    assert not classifier.requests


async def test_not_json_is_rejected(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    response = await http.post("/api/v1/chat", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert "error" in response.json()


async def test_sessions_are_their_owners_only(classifier: FakeOpenAI, http: httpx2.AsyncClient, token: str,
                                              make_user: Any) -> None:
    classify_as(classifier, "cargo_tracking")
    mine = (await http.post("/api/v1/chat", headers=bearer(token), json={"message": "MSKU9070323"})).json()
    other_token = (await run_db(token_issue, user=await run_db(make_user, "mallory")))[1]
    for headers in (bearer(other_token), {}):
        stolen = await http.post("/api/v1/chat", headers=headers,
                                 json={"message": "MSKU9070323", "session_uuid": mine["session_uuid"]})
        assert stolen.status_code == 404
        assert stolen.json()["error"]["code"] == "SESSION_NOT_FOUND"
    guest = (await http.post("/api/v1/chat", json={"message": "MSKU9070323"})).json()
    taken = await http.post("/api/v1/chat", headers=bearer(token),
                            json={"message": "MSKU9070323", "session_uuid": guest["session_uuid"]})
    assert taken.status_code == 404
    # A guest's own session continues with its UUID.
    again = await http.post("/api/v1/chat", json={"message": "MSKU9070323", "session_uuid": guest["session_uuid"]})
    assert again.status_code == 200
    session = await ChatSession.objects.aget(key=mine["session_uuid"])
    assert session.product == "customs"


async def test_a_bad_token_is_401_not_a_guest(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    response = await http.post("/api/v1/chat", headers=bearer("ct_wrong"), json={"message": "안녕하세요"})
    assert response.status_code == 401


@pytest.fixture
def low_rates(fake_llm: FakeOpenAI, settings: Any, clock: Clock) -> None:
    settings.CUSTOMS_GUEST_RATE = "2/m"
    settings.CUSTOMS_RATE = "3/m"


async def test_guests_are_limited_per_ip_and_users_per_user(low_rates: None, classifier: FakeOpenAI,
                                                            http: httpx2.AsyncClient, token: str) -> None:
    classify_as(classifier, "cargo_tracking")
    statuses = [(await http.post("/api/v1/chat", json={"message": "MSKU9070323"})).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await http.post("/api/v1/chat", json={"message": "MSKU9070323"})
    assert limited.json()["error"]["code"] == "RATE_LIMITED" and int(limited.headers["retry-after"]) >= 1
    # A signed-in user has a budget of their own.
    statuses = [(await http.post("/api/v1/chat", headers=bearer(token), json={"message": "MSKU9070323"})).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.fixture
def no_button_time(fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.CUSTOMS_DETAIL_TIMEOUT = 0.0


async def test_detail_buttons_that_miss_their_limit_say_so(no_button_time: None, classifier: FakeOpenAI,
                                                           http: httpx2.AsyncClient) -> None:
    _, events = await post_sse(http, {"message": "FTA 원산지 기준"})
    kinds = [e.data["delta"]["type"] for e in events if e.event == "content_block_delta"]
    assert "detail_buttons_timeout" in kinds and "detail_button_ready" not in kinds
    timeout = next(e.data["delta"] for e in events if e.event == "content_block_delta"
                   and e.data["delta"]["type"] == "detail_buttons_timeout")
    assert timeout["message"] == "상세페이지 정보 준비 시간이 초과되었습니다"
    assert events[-2].data["delta"]["stop_reason"] == "end_turn"


@pytest.fixture
def front_origin(fake_llm: FakeOpenAI, settings: Any) -> str:
    settings.CORS_ALLOWED_ORIGINS = ["http://front.example"]
    return "http://front.example"


async def test_cors_for_configured_origins_only(front_origin: str, classifier: FakeOpenAI,
                                                http: httpx2.AsyncClient) -> None:
    preflight = await http.options("/api/v1/chat", headers={"Origin": front_origin,
                                                            "Access-Control-Request-Method": "POST",
                                                            "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers["access-control-allow-origin"] == front_origin
    response, _ = await post_sse(http, {"message": "관세 환급 안내"}, headers={"Origin": front_origin})
    assert response.headers["access-control-allow-origin"] == front_origin
    foreign, _ = await post_sse(http, {"message": "관세 환급 안내"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


async def test_a_blocked_answer_is_replaced_in_customs_words(classifier: FakeOpenAI, http: httpx2.AsyncClient) -> None:
    from customs.stream import BLOCKED_TEXT

    classifier.route("[차단]", Behaviour(reply="담당자 개인 번호 010-1234-5678 로 연락하세요.", chunk_size=50))
    _, events = await post_sse(http, {"message": "[차단] 수입신고 문의처"})
    assert "".join(texts(events)).endswith(BLOCKED_TEXT)
    assert "010-1234-5678" not in "".join(texts(events))
    assert events[-2].data["delta"]["stop_reason"] == "end_turn"
    reply = await _settled(events[0].data["session_uuid"])
    assert (reply.status, reply.content) == (MessageStatus.BLOCKED, BLOCKED_TEXT)


@pytest.fixture
def broken_request_builder(fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patched before the server forks: a bug on the stream path."""
    def broken(**kwargs: Any) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr("customs.stream._llm_request", broken)


async def test_a_bug_on_the_stream_path_still_ends_the_stream(broken_request_builder: None, classifier: FakeOpenAI,
                                                              http: httpx2.AsyncClient) -> None:
    _, events = await post_sse(http, {"message": "관세 환급 절차"})
    assert [e.event for e in events][-3:] == ["content_block_delta", "message_delta", "message_stop"]
    assert texts(events) == ["응답 처리 중 오류가 발생했습니다."]
    assert events[-2].data["delta"]["stop_reason"] == "error"
    # The session is free again.
    again = await http.post("/api/v1/chat", json={"message": "MSKU9070323",
                                                  "session_uuid": events[0].data["session_uuid"]})
    assert again.status_code == 200


@pytest.fixture
def slow_save(fake_llm: FakeOpenAI, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patched before the server forks: the reply row takes longer than its limit."""
    import customs.stream

    original = customs.stream._reply_open

    def slow(**kwargs: Any) -> Message:
        time.sleep(0.6)
        return original(**kwargs)

    settings.CUSTOMS_SAVE_TIMEOUT = 0.1
    monkeypatch.setattr("customs.stream._reply_open", slow)


async def test_a_save_past_its_limit_ends_in_the_error_form_and_the_row_is_settled(
    slow_save: None, classifier: FakeOpenAI, http: httpx2.AsyncClient
) -> None:
    _, events = await post_sse(http, {"message": "관세 환급 절차"})
    assert texts(events) == ["대화 저장이 지연되어 응답을 중단했습니다. 다시 시도해 주세요."]
    assert events[-2].data["delta"]["stop_reason"] == "error"
    reply = await _settled(events[0].data["session_uuid"])
    # The answer's request went out while the row was being written; none of its text was
    # shown, and the row, once written, is settled as failed.
    assert (reply.status, reply.error_code, reply.content) == (MessageStatus.FAILED, "SAVE_TIMEOUT", "")
    # Written in the same transaction: the user's message, with how it was classified.
    record = await IntentRecord.objects.select_related("message").aget(session__key=events[0].data["session_uuid"])
    assert record.message.content == "관세 환급 절차"
    assert reply.reply_to_id == record.message_id


async def test_a_client_leaving_while_a_late_row_is_written_still_gets_it_settled(
    slow_save: None, classifier: FakeOpenAI, http: httpx2.AsyncClient
) -> None:
    # The error form is out at the save's limit; the row is still being written when the
    # client goes, and the stream's cancellation must not stop the row being settled.
    async with http.stream("POST", "/api/v1/chat", json={"message": "관세 환급 절차"}) as response:
        raw = ""
        async for text in response.aiter_text():
            raw += text
            if "message_stop" in raw:
                break
    key = parse_sse(raw)[0].data["session_uuid"]
    reply = await _settled(key)
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "SAVE_TIMEOUT")
