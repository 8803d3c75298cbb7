"""The counseling WebSocket through Channels' communicator, against the fake upstream."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from conversations.aio import run_db
from conversations.models import ChatSession, Message, MessageStatus, SessionStatus
from conversations.safety import CRISIS_REPLY
from conversations.services import message_append
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.prompts import BASE_PROMPT, EMOTION_GUIDANCE
from counseling.services import session_end, session_start
from tests.conftest import Clock, ws_client
from tests.counseling.conftest import chunks, collect, messages_of, request

pytestmark = pytest.mark.django_db(transaction=True)

LONG_REPLY = "천천히 숨을 고르면서 지금 느끼는 감정을 하나씩 말로 옮겨 보면 도움이 될 수 있어요. " * 4


async def test_connect_announces_session_and_commands(session: ChatSession, token: str) -> None:
    communicator = ws_client(f"/ws/session/{session.key}", token=token)
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "connected"
    assert hello["data"]["sessionId"] == session.key
    assert hello["data"]["status"] == "active"
    assert "request_ai_response" in hello["data"]["commands"]
    await communicator.disconnect()


async def test_reply_streams_in_three_stages_and_is_stored(connect: Any, session: ChatSession,
                                                           fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, client_msg_id="c-1")
    frames = await collect(ws)

    assert frames[0]["type"] == "ai_stream_begin"
    assert frames[0]["data"]["emotion"] == "anxious"
    assert {f["type"] for f in frames[1:-1]} == {"ai_stream_chunk"}
    assert chunks(frames) == fake_llm.behaviour.reply
    complete = frames[-1]
    assert complete["type"] == "ai_stream_complete"
    assert complete["data"]["fullResponse"] == fake_llm.behaviour.reply
    assert complete["data"]["message_id"] == frames[0]["data"]["message_id"]
    assert complete["data"]["usage"]["completion_tokens"] > 0

    asked, answer = await messages_of(session)
    assert (asked.role, asked.content, asked.emotion, asked.client_msg_id) == (
        "user", "요즘 회사에서 스트레스를 많이 받아요", "anxious", "c-1")
    assert asked.client_timestamp == 1704902400000
    assert answer.status == MessageStatus.COMPLETE
    assert answer.content == fake_llm.behaviour.reply
    assert answer.model == "fake-model"
    assert answer.prompt_tokens and answer.completion_tokens
    assert answer.ttfc_ms is not None and answer.total_ms is not None and answer.total_ms >= answer.ttfc_ms


async def test_prompt_sent_upstream(connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any) -> None:
    def seed_history() -> list[str]:
        texts = []
        for i in range(6):
            for role in ("user", "assistant"):
                text = f"{role} 메시지 {i}"
                message_append(session=session, role=role, text=text)
                texts.append(text)
        return texts

    history = await sync_to_async(seed_history)()
    ws = await connect()
    await request(ws, message="오늘은 조금 슬퍼요", emotion="sad")
    await collect(ws)

    (sent,) = fake_llm.requests
    body = sent.body
    messages = body["messages"]
    assert messages[0]["role"] == "system"
    assert messages[0]["content"].startswith(BASE_PROMPT)
    assert messages[0]["content"].endswith("현재 감정 상태: " + EMOTION_GUIDANCE["sad"])
    assert [m["content"] for m in messages[1:-1]] == history[-10:]
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * 5
    assert messages[-1] == {"role": "user", "content": "오늘은 조금 슬퍼요"}
    assert sum(m["content"] == "오늘은 조금 슬퍼요" for m in messages) == 1
    assert body["temperature"] == 0.7
    assert body["top_p"] == 0.8
    assert body["max_tokens"] == 1024
    assert body["model"] == settings.COUNSELING_LLM_MODEL
    assert body["stream"] is True


@pytest.mark.parametrize("emotion", [None, "bored", 42])
async def test_unknown_emotion_gets_no_guidance_and_is_stored_as_null(
    connect: Any, session: ChatSession, fake_llm: FakeOpenAI, emotion: Any
) -> None:
    ws = await connect()
    await request(ws, emotion=emotion)
    frames = await collect(ws)
    assert frames[-1]["type"] == "ai_stream_complete"
    assert fake_llm.requests[0].body["messages"][0]["content"] == BASE_PROMPT
    asked = (await messages_of(session))[0]
    assert asked.emotion is None


@pytest.mark.parametrize("emotion", ["fearful", "disgusted", "surprised", "HAPPY"])
async def test_frontend_emotions_get_guidance(connect: Any, fake_llm: FakeOpenAI, emotion: str) -> None:
    ws = await connect()
    await request(ws, emotion=emotion)
    await collect(ws)
    assert fake_llm.requests[0].body["messages"][0]["content"].endswith(EMOTION_GUIDANCE[emotion.lower()])


async def test_offline_provider_answers_without_a_key(connect: Any, session: ChatSession) -> None:
    ws = await connect()
    await request(ws, message="회사에서 항상 실수만 해요", emotion="sad")
    frames = await collect(ws)
    reply = chunks(frames)
    assert frames[-1]["type"] == "ai_stream_complete"
    assert "?" in reply and "회사" in reply
    answer = (await messages_of(session))[1]
    assert answer.model == "offline" and answer.status == MessageStatus.COMPLETE


# --- Bad frames ---------------------------------------------------------------------------


@pytest.mark.parametrize("frame,code", [
    ("not json", "PARSE_ERROR"),
    ("[1, 2]", "PARSE_ERROR"),
    ('{"data": {}}', "PARSE_ERROR"),
    ('{"type": "launch_rockets"}', "UNKNOWN_COMMAND"),
    ('{"type": "ping", "data": ' + "[" * 5000 + "]" * 5000 + "}", "PARSE_ERROR"),  # deeper than the parser goes
])
async def test_bad_frames_get_an_error_and_the_socket_stays_open(connect: Any, frame: str, code: str) -> None:
    ws = await connect()
    await ws.send_to(text_data=frame)
    error = await ws.receive_json_from()
    assert error["type"] == "error"
    assert error["data"]["code"] == code
    assert error["data"]["message"]
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["type"] == "pong"


@pytest.mark.parametrize("data,code", [
    ({"emotion": "sad"}, "INVALID_MESSAGE"),
    ({"message": 123}, "INVALID_MESSAGE"),
    ({"message": "   "}, "INVALID_MESSAGE"),
    ({"message": "가" * 2001}, "MESSAGE_TOO_LONG"),
    ({"message": "안녕", "client_msg_id": 5}, "INVALID_MESSAGE"),
    ("just a string", "INVALID_MESSAGE"),
])
async def test_invalid_requests_are_refused_before_anything_is_stored(
    connect: Any, session: ChatSession, fake_llm: FakeOpenAI, data: Any, code: str
) -> None:
    ws = await connect()
    await ws.send_json_to({"type": "request_ai_response", "data": data})
    (error,) = await collect(ws)
    assert error["type"] == "ai_stream_error"
    assert error["data"]["code"] == code
    assert error["data"]["error"]
    assert await messages_of(session) == []
    assert fake_llm.requests == []
    # The session still works.
    await request(ws)
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def test_message_of_exactly_2000_characters_is_accepted(connect: Any, fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="  " + "가" * 2000 + "\n")  # counted after trimming
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def test_binary_frame_closes_the_socket(connect: Any) -> None:
    ws = await connect()
    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive_output())["code"] == 4003


async def test_oversized_frame_closes_the_socket(connect: Any) -> None:
    # Under daphne the server's cap closes with 1009 first (test_live_websocket); this is
    # the consumer's own guard for servers started without the cap.
    ws = await connect()
    await ws.send_to(text_data='{"type": "ping", "pad": "' + "x" * 17000 + '"}')
    assert (await ws.receive_output())["code"] == 4009


# --- Refused connections ------------------------------------------------------------------


async def _close_code(path: str, **kwargs: Any) -> int | None:
    communicator = ws_client(path, **kwargs)
    connected, _ = await communicator.connect()
    if not connected:
        return None
    output = await communicator.receive_output()
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_unknown_foreign_and_ended_sessions_are_refused(session: ChatSession, token: str,
                                                              make_user: Any) -> None:
    stranger = await sync_to_async(make_user)("mallory")
    foreign = await sync_to_async(session_start)(user=stranger)
    ended = await sync_to_async(session_start)(user=session.user)
    await sync_to_async(session_end)(session=ended)

    assert await _close_code("/ws/session/sess_doesnotexist", token=token) == 4404
    assert await _close_code(f"/ws/session/{foreign.key}", token=token) == 4404
    assert await _close_code(f"/ws/session/{ended.key}", token=token) == 4409
    assert await _close_code(f"/ws/session/{session.key}") == 4401
    assert await _close_code(f"/ws/session/{session.key}", token="ct_wrong") == 4401


async def test_an_open_socket_closes_once_its_token_is_revoked(session: ChatSession, token: str,
                                                                settings: Any) -> None:
    from conversations.models import ApiToken
    from conversations.services import token_revoke

    settings.WS_AUTH_RECHECK_SECONDS = 0.1
    communicator = ws_client(f"/ws/session/{session.key}", token=token)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "connected"
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from())["type"] == "pong"  # still in use after a few re-checks
    await asyncio.sleep(0.3)
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from())["type"] == "pong"
    revoked = await ApiToken.objects.aget(user=session.user)
    await run_db(token_revoke, token=revoked)
    closed = await communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_wrong_origin_is_refused(session: ChatSession, token: str) -> None:
    assert await _close_code(f"/ws/session/{session.key}", token=token, origin="https://evil.example") is None


async def test_own_origin_is_accepted(session: ChatSession, token: str) -> None:
    communicator = ws_client(f"/ws/session/{session.key}", token=token, origin="http://localhost:8000")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "connected"
    await communicator.disconnect()


async def test_fourth_socket_of_a_user_is_refused(connect: Any, session: ChatSession, token: str) -> None:
    for _ in range(3):
        await connect()
    assert await _close_code(f"/ws/session/{session.key}", token=token) == 4429


async def test_a_socket_that_fails_gives_its_slot_back(connect: Any, session: ChatSession, token: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from counseling.consumers import CounselingConsumer

    async def broken(self: Any, data: Any, received: float) -> None:
        raise RuntimeError("a fault in a handler")

    monkeypatch.setattr(CounselingConsumer, "_on_ping", broken)
    for _ in range(3):
        ws = await connect()
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_output())["code"] == 1011
    # Three sockets failed: none of them still counts against the user's three.
    for _ in range(3):
        await connect()


# --- Limits -------------------------------------------------------------------------------


async def test_eleventh_request_in_a_minute_is_rate_limited(connect: Any, session: ChatSession) -> None:
    ws = await connect()
    for _ in range(10):
        await request(ws)
        assert (await collect(ws))[-1]["type"] == "ai_stream_complete"
    await request(ws)
    (error,) = await collect(ws)
    assert error["data"]["code"] == "RATE_LIMITED"
    assert 1 <= error["data"]["retry_after"] <= 60
    assert len(await messages_of(session)) == 20


async def test_second_request_while_streaming_is_busy(connect: Any, session: ChatSession,
                                                      fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.01, chunk_size=4)
    ws = await connect()
    await request(ws)
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    await request(ws, message="두 번째")
    frames = await collect(ws)
    errors = [f for f in frames if f["type"] == "ai_stream_error"]
    assert errors and errors[0]["data"]["code"] == "BUSY"
    if frames[-1]["type"] == "ai_stream_error":  # the BUSY came first; now the reply ends
        frames = await collect(ws)
    assert frames[-1]["type"] == "ai_stream_complete"
    assert [m.content for m in await messages_of(session)] == ["요즘 회사에서 스트레스를 많이 받아요", LONG_REPLY]


async def test_busy_across_two_sockets_of_one_session(connect: Any, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.01, chunk_size=4)
    first, second = await connect(), await connect()
    await request(first)
    assert (await first.receive_json_from())["type"] == "ai_stream_begin"
    await request(second)
    (error,) = await collect(second)
    assert error["data"]["code"] == "BUSY"
    assert (await collect(first))[-1]["type"] == "ai_stream_complete"


# --- Upstream failures --------------------------------------------------------------------


@pytest.mark.parametrize("behaviour,code,partial", [
    (Behaviour(fault="timeout"), "LLM_TIMEOUT", ""),
    (Behaviour(fault="429"), "LLM_UNAVAILABLE", ""),
    (Behaviour(fault="500"), "LLM_UNAVAILABLE", ""),
    (Behaviour(reply="하나둘셋넷다섯여섯", chunk_size=2, fault="drop", fault_after=3), "STREAMING_ERROR", "하나둘셋넷다"),
    (Behaviour(reply="하나둘셋넷다섯여섯", chunk_size=2, fault="malformed", fault_after=2), "STREAMING_ERROR", "하나둘셋"),
])
async def test_upstream_failures_end_in_an_error_and_keep_the_partial_reply(
    connect: Any, session: ChatSession, fake_llm: FakeOpenAI, behaviour: Behaviour, code: str, partial: str
) -> None:
    fake_llm.queue(behaviour)
    ws = await connect()
    await request(ws)
    frames = await collect(ws)
    assert frames[0]["type"] == "ai_stream_begin"
    error = frames[-1]
    assert error["type"] == "ai_stream_error"
    assert error["data"]["code"] == code
    assert error["data"]["error"] and "Traceback" not in error["data"]["error"]
    assert chunks(frames) == partial

    asked, answer = await messages_of(session)
    assert asked.content == "요즘 회사에서 스트레스를 많이 받아요"
    assert answer.status == MessageStatus.FAILED
    assert answer.content == partial
    assert answer.error_code == code

    # The socket and the session still work.
    await request(ws, message="다시 말해 볼게요")
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def test_stop_cancels_upstream_and_keeps_the_partial_reply(connect: Any, session: ChatSession,
                                                                 fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05, chunk_size=2)
    ws = await connect()
    await request(ws)
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    first = await ws.receive_json_from()
    assert first["type"] == "ai_stream_chunk"
    await ws.send_json_to({"type": "cancel_ai_response"})
    frames = await collect(ws)
    complete = frames[-1]
    assert complete["type"] == "ai_stream_complete"
    assert complete["data"]["stopped"] is True
    shown = first["data"]["chunk"] + chunks(frames)
    assert complete["data"]["fullResponse"] == shown

    upstream = await sync_to_async(fake_llm.wait_until_finished)(0)
    assert upstream.client_disconnected
    assert upstream.chunks_sent < len(LONG_REPLY) // 2 // 2
    answer = (await messages_of(session))[1]
    assert answer.status == MessageStatus.INTERRUPTED
    assert answer.content == shown and LONG_REPLY.startswith(shown)

    await request(ws, message="계속 이야기할게요")
    fake_llm.behaviour = Behaviour()
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def test_disconnect_mid_stream_cancels_upstream(connect: Any, session: ChatSession,
                                                      fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05, chunk_size=2)
    ws = await connect()
    await request(ws)
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    assert (await ws.receive_json_from())["type"] == "ai_stream_chunk"
    await ws.disconnect()

    upstream = await sync_to_async(fake_llm.wait_until_finished)(0)
    assert upstream.client_disconnected
    answer = (await messages_of(session))[1]
    assert answer.status == MessageStatus.INTERRUPTED
    assert answer.content and LONG_REPLY.startswith(answer.content)


async def test_cancel_without_a_reply_in_flight_is_harmless(connect: Any) -> None:
    ws = await connect()
    await ws.send_json_to({"type": "cancel_ai_response"})
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["type"] == "pong"


# --- Safety and idempotency -----------------------------------------------------------------


async def test_crisis_message_bypasses_the_llm_and_flags_the_session(connect: Any, session: ChatSession,
                                                                     fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="수면제를 30알 정도 모아 뒀어요", emotion="sad")
    frames = await collect(ws)
    assert [f["type"] for f in frames][0] == "ai_stream_begin"
    assert frames[-1]["type"] == "ai_stream_complete"
    assert frames[-1]["data"]["crisis"] is True
    assert chunks(frames) == CRISIS_REPLY
    assert "109" in chunks(frames)
    assert fake_llm.requests == []

    asked, answer = await messages_of(session)
    assert asked.flagged and "crisis" in asked.flags
    assert answer.content == CRISIS_REPLY and answer.model == "safety"
    refreshed = await ChatSession.objects.aget(pk=session.pk)
    assert refreshed.flagged and refreshed.status == SessionStatus.ACTIVE

    await request(ws, message="조금 이야기하고 싶어요")
    assert (await collect(ws))[-1]["type"] == "ai_stream_complete"


async def test_same_client_msg_id_never_calls_the_llm_twice(connect: Any, session: ChatSession,
                                                            fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, client_msg_id="same-id")
    first = await collect(ws)
    await request(ws, client_msg_id="same-id")
    second = await collect(ws)
    assert chunks(second) == chunks(first) == fake_llm.behaviour.reply
    assert second[-1]["data"]["replayed"] is True
    assert len(fake_llm.requests) == 1
    assert len(await messages_of(session)) == 2


async def test_a_retry_never_shows_a_reply_a_moderator_hid(connect: Any, session: ChatSession,
                                                           fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, client_msg_id="hidden-id")
    await collect(ws)
    await Message.objects.filter(session=session, role="assistant").aupdate(hidden=True)
    await request(ws, client_msg_id="hidden-id")
    replayed = await collect(ws)
    assert chunks(replayed) == "" and replayed[-1]["data"]["fullResponse"] == ""
    assert fake_llm.behaviour.reply not in str(replayed)
    assert len(fake_llm.requests) == 1


async def test_unsafe_model_output_is_replaced_and_flagged(connect: Any, session: ChatSession,
                                                           fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply="그렇게 힘들면 자살하는 방법도 있어요.", chunk_size=3)
    ws = await connect()
    await request(ws)
    frames = await collect(ws)
    assert frames[-1]["type"] == "ai_stream_complete"
    assert frames[-1]["data"]["blocked"] is True
    assert "자살하는 방법" not in chunks(frames)
    answer = (await messages_of(session))[1]
    assert answer.status == MessageStatus.BLOCKED
    assert answer.flagged and "output_blocked" in answer.flags
    assert "자살하는 방법" in (answer.blocked_text or "")


# --- Lifecycle commands ---------------------------------------------------------------------


async def test_pause_resume_end_and_status(connect: Any, session: ChatSession) -> None:
    ws = await connect()
    await ws.send_json_to({"type": "pause"})
    paused = await ws.receive_json_from()
    assert paused["type"] == "pause_success" and paused["data"]["status"] == "paused"
    await ws.send_json_to({"type": "resume"})
    assert (await ws.receive_json_from())["data"]["status"] == "active"
    await ws.send_json_to({"type": "get_status"})
    status = await ws.receive_json_from()
    assert status["type"] == "status_update" and status["data"]["streaming"] is False
    await ws.send_json_to({"type": "end"})
    ended = await ws.receive_json_from()
    assert ended["type"] == "end_success" and ended["data"]["endedAt"]

    await request(ws)
    (error,) = await collect(ws)
    assert error["data"]["code"] == "SESSION_ENDED"
    assert await messages_of(session) == []


async def test_a_session_ended_elsewhere_costs_no_model_call(connect: Any, session: ChatSession,
                                                             fake_llm: FakeOpenAI) -> None:
    """The user message is committed before the model is asked: when it cannot be (the
    session was ended from another tab or over REST), nothing reaches the model."""
    ws = await connect()
    await run_db(session_end, session=session)
    await request(ws)
    (error,) = await collect(ws)
    assert error["data"]["code"] == "SESSION_ENDED"
    assert fake_llm.requests == []
    assert await messages_of(session) == []


async def test_end_while_streaming_stops_the_reply(connect: Any, session: ChatSession,
                                                   fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05)
    ws = await connect()
    await request(ws)
    assert (await ws.receive_json_from())["type"] == "ai_stream_begin"
    await ws.send_json_to({"type": "end"})
    frames = []
    while not frames or frames[-1]["type"] != "end_success":
        frames.append(await ws.receive_json_from(timeout=5))
    assert any(f["type"] == "ai_stream_complete" and f["data"].get("stopped") for f in frames)
    answer = (await messages_of(session))[1]
    assert answer.status == MessageStatus.INTERRUPTED


async def test_concurrent_sessions_stream_independently(make_user: Any, fake_llm: FakeOpenAI) -> None:
    from conversations.services import token_issue

    fake_llm.behaviour = Behaviour(delay=0.005)

    async def one(i: int) -> str:
        user = await sync_to_async(make_user)(f"parallel{i}")
        raw = (await sync_to_async(token_issue)(user=user))[1]
        session = await sync_to_async(session_start)(user=user)
        ws = ws_client(f"/ws/session/{session.key}", token=raw)
        await ws.connect()
        await ws.receive_json_from()
        await request(ws, message=f"안녕하세요 {i}")
        text = chunks(await collect(ws))
        await ws.disconnect()
        return text

    results = await asyncio.gather(*(one(i) for i in range(5)))
    assert results == [fake_llm.behaviour.reply] * 5
    assert await Message.objects.filter(status=MessageStatus.COMPLETE, role="assistant").acount() == 5


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis channel layer is only used with REDIS_URL")
async def test_idle_socket_survives_the_redis_channel_layer(connect: Any) -> None:
    ws = await connect()
    await asyncio.sleep(6.5)  # past redis-py's default 5 s read timeout
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["type"] == "pong"


# --- Idempotency and the path to the first token --------------------------------------------


async def test_a_repeated_request_is_answered_from_the_store_even_when_limited(
        connect: Any, session: ChatSession, fake_llm: FakeOpenAI, settings: Any, clock: Clock) -> None:
    settings.COUNSELING_RATE = "2/m"
    ws = await connect()
    await request(ws, client_msg_id="a")
    first = await collect(ws)
    await request(ws, client_msg_id="b")
    await collect(ws)
    await request(ws, client_msg_id="c")
    (limited,) = await collect(ws)
    assert limited["data"]["code"] == "RATE_LIMITED"

    await request(ws, client_msg_id="a")
    again = await collect(ws)
    assert again[-1]["data"]["replayed"] is True
    assert chunks(again) == chunks(first)
    assert len(fake_llm.requests) == 2
    assert [m.client_msg_id for m in await messages_of(session) if m.role == "user"] == ["a", "b"]


async def test_a_repeated_request_while_its_reply_streams_is_busy(connect: Any, session: ChatSession,
                                                                  fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.01, chunk_size=4)
    first, second = await connect(), await connect()
    await request(first, client_msg_id="same")
    assert (await first.receive_json_from())["type"] == "ai_stream_begin"
    await request(second, client_msg_id="same")
    (error,) = await collect(second)
    assert error["data"]["code"] == "BUSY"
    assert (await collect(first))[-1]["type"] == "ai_stream_complete"
    assert len(fake_llm.requests) == 1 and len(await messages_of(session)) == 2


async def test_a_repeated_crisis_message_is_answered_once(connect: Any, session: ChatSession,
                                                          fake_llm: FakeOpenAI) -> None:
    ws = await connect()
    await request(ws, message="유서를 써 놨어요", client_msg_id="sos")
    first = await collect(ws)
    await request(ws, message="유서를 써 놨어요", client_msg_id="sos")
    again = await collect(ws)
    assert chunks(again) == chunks(first) == CRISIS_REPLY
    assert again[-1]["data"]["replayed"] is True
    assert len(await messages_of(session)) == 2 and fake_llm.requests == []


@pytest.mark.parametrize("pause", [0.0, 0.001, 0.005, 0.02])
async def test_stop_at_any_moment_leaves_nothing_streaming(connect: Any, session: ChatSession,
                                                           fake_llm: FakeOpenAI, pause: float) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, ttft=0.01, delay=0.01, chunk_size=4)
    ws = await connect()
    await request(ws)
    await asyncio.sleep(pause)
    await ws.send_json_to({"type": "cancel_ai_response"})
    frames = await collect(ws)
    assert frames[-1]["type"] == "ai_stream_complete", frames
    statuses = [m.status for m in await messages_of(session)]
    assert MessageStatus.STREAMING not in statuses

    fake_llm.behaviour = Behaviour()
    await request(ws, message="다시 말해 볼게요")
    again = await collect(ws)
    assert again[-1]["type"] == "ai_stream_complete", again
