"""A server process killed mid-stream, or stopped: nobody is locked out, nothing stays half-done.

Real ``manage.py serve`` processes against the test database (and Redis, when the suite
runs with it), the way an operator would try it: SIGKILL and a restart, or SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conversations.models import ChatSession, Message, MessageStatus, Role
from conversations.services import token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.services import session_start
from tests.processes import ServeProcess

pytestmark = pytest.mark.django_db(transaction=True)

# About 8 s of upstream at 50 ms a chunk: still streaming when the server is stopped.
LONG_REPLY = "지금 느끼는 감정을 천천히 하나씩 말로 옮겨 보면 마음이 조금 가벼워질 수 있어요. " * 7
TERMINAL = ("ai_stream_complete", "ai_stream_error")


@pytest.fixture
def live(make_user: Any) -> dict[str, Any]:
    owner = make_user("crash-user")
    return {"token": token_issue(user=owner)[1], "session": session_start(user=owner)}


async def _recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _ask(ws: ClientConnection, message: str) -> None:
    await ws.send(json.dumps({"type": "request_ai_response", "data": {"message": message}}, ensure_ascii=False))


async def _stream_for(ws: ClientConnection, seconds: float) -> str:
    """Ask for a reply and read its chunks for ``seconds``; the text received."""
    assert (await _recv(ws))["type"] == "connected"
    await _ask(ws, "요즘 회사에서 스트레스를 많이 받아요")
    assert (await _recv(ws))["type"] == "ai_stream_begin"
    text = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = await _recv(ws)
        assert frame["type"] == "ai_stream_chunk"
        text += frame["data"]["chunk"]
    return text


async def _partial_saved(session: ChatSession, timeout: float) -> str:
    """The streaming reply's text as its last periodic save stored it, once there is some."""
    deadline = time.monotonic() + timeout
    while True:
        reply = await Message.objects.filter(session=session, role=Role.ASSISTANT).order_by("id").afirst()
        if reply is not None and reply.content:
            return reply.content
        if time.monotonic() > deadline:
            raise AssertionError(f"no partial text saved after {timeout}s")
        await asyncio.sleep(0.05)


async def _reply_settled(session: ChatSession, timeout: float) -> Message:
    deadline = time.monotonic() + timeout
    while True:
        reply = await Message.objects.filter(session=session, role=Role.ASSISTANT).order_by("id").afirst()
        if reply is not None and reply.status != MessageStatus.STREAMING:
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"the reply is still {reply and reply.status} after {timeout}s")
        await asyncio.sleep(0.2)


async def test_sigkill_mid_stream_then_restart_locks_no_one_out(fake_llm: FakeOpenAI, live: dict[str, Any]) -> None:
    session, token = live["session"], live["token"]
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05)
    with ServeProcess() as server:
        ws = await connect(server.ws(session.key, token), proxy=None, open_timeout=10)
        received = await _stream_for(ws, 1.6)  # past one periodic save of the partial text
        saved = await _partial_saved(session, timeout=5)  # (the save runs in the background: wait for it)
        server.kill()
        killed = time.monotonic()
        with pytest.raises(ConnectionClosed):
            await _recv(ws)

        fake_llm.behaviour = Behaviour()
        server.start()
        # The same user, the same session: a normal reply, once the dead process's lock
        # has run out (at once in the embedded mode, where it died with the process).
        while True:
            async with connect(server.ws(session.key, token), proxy=None, open_timeout=10) as again:
                assert (await _recv(again))["type"] == "connected"
                await _ask(again, "다시 이야기해도 될까요?")
                frames = [await _recv(again)]
                while frames[-1]["type"] not in TERMINAL:
                    frames.append(await _recv(again))
            if frames[-1]["type"] == "ai_stream_complete":
                break
            assert frames[-1]["data"]["code"] == "BUSY"
            assert time.monotonic() - killed < 10, "still locked out 10 s after the crash"
            await asyncio.sleep(0.5)
        assert time.monotonic() - killed < 10
        assert frames[-1]["data"]["fullResponse"] == fake_llm.behaviour.reply

        # The reply the crash cut short is settled, with the text saved before the kill.
        earlier = await _reply_settled(session, timeout=20)
        assert earlier.status == MessageStatus.INTERRUPTED
        assert received and earlier.content and len(earlier.content) >= len(saved)
        assert LONG_REPLY.startswith(earlier.content)
        statuses = [m.status async for m in Message.objects.filter(session=session, role=Role.ASSISTANT)]
        assert statuses == [MessageStatus.INTERRUPTED, MessageStatus.COMPLETE]


async def test_sigterm_ends_open_streams_with_their_terminal_frame(fake_llm: FakeOpenAI,
                                                                  live: dict[str, Any]) -> None:
    session, token = live["session"], live["token"]
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05)
    with ServeProcess() as server:
        ws = await connect(server.ws(session.key, token), proxy=None, open_timeout=10)
        received = await _stream_for(ws, 0.5)
        stopping = asyncio.create_task(asyncio.to_thread(server.terminate))
        frame = await _recv(ws)
        while frame["type"] == "ai_stream_chunk":
            received += frame["data"]["chunk"]
            frame = await _recv(ws)
        assert frame["type"] == "ai_stream_error"
        assert frame["data"]["code"] == "SERVER_RESTARTING"
        # uvicorn re-raises the signal once it has shut down cleanly, so the exit is "by SIGTERM".
        assert await stopping in (0, -15)
        with pytest.raises(ConnectionClosed):
            await _recv(ws)

    reply = await sync_to_async(Message.objects.get)(session=session, role=Role.ASSISTANT)
    assert reply.status == MessageStatus.INTERRUPTED
    assert reply.content == received
    upstream = await asyncio.to_thread(fake_llm.wait_until_finished, 0)
    assert upstream.client_disconnected  # the model stopped generating too
