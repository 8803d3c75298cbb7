"""The counseling WebSocket over a real daphne server, driven by the `websockets` client.

The client is used the way the seed's test script uses it: `?token=` in the URL, one
JSON request, then `recv()` until `ai_stream_complete`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conversations.models import ChatSession, Message, MessageStatus, Role
from conversations.services import token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.consumers import CLOSE_UNSUPPORTED_DATA
from counseling.services import session_start

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.django_db(transaction=True)

LONG_REPLY = "지금 느끼는 감정을 천천히 하나씩 말로 옮겨 보면 마음이 조금 가벼워질 수 있어요. " * 6
LONG_REPLY_CHUNKS = len(LONG_REPLY) // Behaviour.chunk_size  # over 6 s of upstream at 50 ms a chunk
TERMINAL = ("ai_stream_complete", "ai_stream_error")
RECV_TIMEOUT = 10.0
SETTLE_TIMEOUT = 5.0  # how long the server process may take to store a reply's final state


@pytest.fixture
def live(make_user: Any) -> dict[str, Any]:
    """A user with a token and an active session, committed, so the server process sees them."""
    owner = make_user("live-user")
    return {"token": token_issue(user=owner)[1], "session": session_start(user=owner)}


def _ws_uri(base_url: str, session_key: str, token: str) -> str:
    return f"{base_url.replace('http://', 'ws://', 1)}/ws/session/{session_key}?token={token}"


def _open(uri: str, **options: Any) -> connect:
    # No proxy: an HTTP(S)_PROXY in the environment must not swallow loopback traffic.
    return connect(uri, proxy=None, open_timeout=5, close_timeout=2, **options)


async def _request(ws: ClientConnection, message: str = "요즘 회사에서 스트레스를 많이 받아요") -> None:
    await ws.send(json.dumps({
        "type": "request_ai_response",
        "data": {"message": message, "emotion": "anxious", "timestamp": 1704902400000},
    }, ensure_ascii=False))  # fmt: skip


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))


async def _until(ws: ClientConnection, types: tuple[str, ...]) -> list[dict[str, Any]]:
    frames = [await _recv(ws)]
    while frames[-1]["type"] not in types:
        frames.append(await _recv(ws))
    return frames


async def _streaming(ws: ClientConnection) -> dict[str, Any]:
    """Connect and ask; the reply's first chunk frame, once it has arrived."""
    assert (await _recv(ws))["type"] == "connected"
    await _request(ws)
    assert (await _recv(ws))["type"] == "ai_stream_begin"
    first = await _recv(ws)
    assert first["type"] == "ai_stream_chunk"
    return first


async def _messages(session: ChatSession) -> list[Message]:
    return [m async for m in Message.objects.filter(session=session).order_by("id")]


async def _assistant_settled(session: ChatSession) -> Message:
    """The assistant message once it has left `streaming` (written by the server process)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        answer = await Message.objects.filter(session=session, role=Role.ASSISTANT).order_by("-id").afirst()
        if answer is not None and answer.status != MessageStatus.STREAMING:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"assistant message still {answer and answer.status} after {SETTLE_TIMEOUT}s")
        await asyncio.sleep(0.05)


async def test_reply_streams_over_the_real_server_and_is_stored(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    session = live["session"]
    async with _open(_ws_uri(asgi_server, session.key, live["token"])) as ws:
        hello = await _recv(ws)
        assert hello["type"] == "connected"
        assert hello["data"]["sessionId"] == session.key
        await _request(ws)
        frames = await _until(ws, TERMINAL)

    reply = fake_llm.behaviour.reply
    assert frames[0]["type"] == "ai_stream_begin"
    assert {f["type"] for f in frames[1:-1]} == {"ai_stream_chunk"}
    assert "".join(f["data"]["chunk"] for f in frames[1:-1]) == reply
    assert frames[-1]["type"] == "ai_stream_complete"
    assert frames[-1]["data"]["fullResponse"] == reply

    asked, answer = await _messages(session)
    assert (asked.role, asked.content, asked.emotion) == (Role.USER, "요즘 회사에서 스트레스를 많이 받아요", "anxious")
    assert (answer.role, answer.status, answer.content) == (Role.ASSISTANT, MessageStatus.COMPLETE, reply)
    assert answer.model == "fake-model"
    assert answer.ttfc_ms is not None
    assert len(fake_llm.requests) == 1


async def test_oversized_frame_closes_the_socket_with_1009(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    async with _open(_ws_uri(asgi_server, live["session"].key, live["token"]), compression=None) as ws:
        assert (await _recv(ws))["type"] == "connected"
        await ws.send("x" * (20 * 1024))
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009
    assert fake_llm.requests == []


async def test_binary_frame_closes_the_socket_cleanly(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    async with _open(_ws_uri(asgi_server, live["session"].key, live["token"])) as ws:
        assert (await _recv(ws))["type"] == "connected"
        await ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    # The consumer's own code, not 1011 (the server failing to send it).
    assert ws.close_code == CLOSE_UNSUPPORTED_DATA


async def test_foreign_origin_is_refused_at_handshake(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with _open(_ws_uri(asgi_server, live["session"].key, live["token"]), origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403


async def test_same_origin_page_is_accepted(fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]) -> None:
    # What a browser on the served page sends: the origin carries the server's port.
    async with _open(_ws_uri(asgi_server, live["session"].key, live["token"]), origin=asgi_server) as ws:
        assert (await _recv(ws))["type"] == "connected"


async def test_unknown_session_is_closed_with_4404(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    async with _open(_ws_uri(asgi_server, "sess_does-not-exist", live["token"])) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4404


async def test_stop_mid_stream_ends_the_upstream_request(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    fake_llm.queue(Behaviour(reply=LONG_REPLY, delay=0.05))
    session = live["session"]
    async with _open(_ws_uri(asgi_server, session.key, live["token"])) as ws:
        await _streaming(ws)
        await ws.send(json.dumps({"type": "cancel_ai_response"}))
        rest = await _until(ws, TERMINAL)

    done = rest[-1]
    assert done["type"] == "ai_stream_complete"
    assert done["data"]["stopped"] is True
    assert LONG_REPLY.startswith(done["data"]["fullResponse"])
    assert len(done["data"]["fullResponse"]) < len(LONG_REPLY) // 2

    upstream = await asyncio.to_thread(fake_llm.wait_until_finished, 0)
    assert upstream.client_disconnected is True
    assert upstream.chunks_sent < LONG_REPLY_CHUNKS // 4
    answer = await _assistant_settled(session)
    assert answer.status == MessageStatus.INTERRUPTED
    assert answer.content == done["data"]["fullResponse"]


async def test_client_leaving_mid_stream_keeps_the_partial_reply(
    fake_llm: FakeOpenAI, asgi_server: str, live: dict[str, Any]
) -> None:
    fake_llm.queue(Behaviour(reply=LONG_REPLY, delay=0.05))
    session = live["session"]
    async with _open(_ws_uri(asgi_server, session.key, live["token"])) as ws:
        first = await _streaming(ws)

    answer = await _assistant_settled(session)
    assert answer.status == MessageStatus.INTERRUPTED
    assert answer.content.startswith(first["data"]["chunk"])
    assert LONG_REPLY.startswith(answer.content)
    assert len(answer.content) < len(LONG_REPLY)
    upstream = await asyncio.to_thread(fake_llm.wait_until_finished, 0)
    assert upstream.client_disconnected is True
    assert upstream.chunks_sent < LONG_REPLY_CHUNKS // 4
