"""The production server (``manage.py serve``) as real processes: many sockets, many processes.

The multi-process test needs PostgreSQL and Redis (the embedded mode is one process by
design); the others run on whatever the suite runs on.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conversations.services import token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.services import session_start
from tests.processes import ServeProcess

pytestmark = pytest.mark.django_db(transaction=True)

LONG_REPLY = "지금 느끼는 감정을 천천히 하나씩 말로 옮겨 보면 마음이 조금 가벼워질 수 있어요. " * 4
TERMINAL = ("ai_stream_complete", "ai_stream_error")


def _open(uri: str, **options: Any) -> Any:
    return connect(uri, proxy=None, open_timeout=20, close_timeout=2, **options)


async def _recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def _ask(ws: ClientConnection, message: str = "요즘 잠이 잘 안 와요") -> None:
    await ws.send(json.dumps({"type": "request_ai_response", "data": {"message": message}}, ensure_ascii=False))


async def _until_terminal(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = [await _recv(ws)]
    while frames[-1]["type"] not in TERMINAL:
        frames.append(await _recv(ws))
    return frames


async def _close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code


@sync_to_async
def _users_with_sessions(count: int, sessions_each: int) -> list[tuple[str, list[str]]]:
    from django.contrib.auth import get_user_model

    made = []
    for i in range(count):
        user = get_user_model().objects.create_user(username=f"many{i}", password="pw-for-tests-1234")
        made.append((token_issue(user=user)[1], [session_start(user=user).key for _ in range(sessions_each)]))
    return made


async def test_two_hundred_websockets_at_once_are_all_accepted(fake_llm: FakeOpenAI) -> None:
    users = await _users_with_sessions(67, 3)  # three sockets per user is the cap
    targets = [(token, key) for token, keys in users for key in keys][:200]
    with ServeProcess() as server:

        async def attach(token: str, key: str) -> tuple[str, ClientConnection]:
            ws = await connect(server.ws(key, token), proxy=None, open_timeout=30, close_timeout=2)
            return (await _recv(ws, 30))["type"], ws

        results = await asyncio.gather(*(attach(token, key) for token, key in targets), return_exceptions=True)
        sockets = [r[1] for r in results if not isinstance(r, BaseException)]
        try:
            failures = [r for r in results if isinstance(r, BaseException)]
            assert failures == [], server.output()[-3000:]
            assert [kind for kind, _ in results] == ["connected"] * 200  # type: ignore[misc]
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def test_oversized_frame_closes_with_1009_under_the_production_server(fake_llm: FakeOpenAI) -> None:
    ((token, (key,)),) = await _users_with_sessions(1, 1)
    with ServeProcess() as server:
        async with _open(server.ws(key, token), compression=None) as ws:
            assert (await _recv(ws))["type"] == "connected"
            await ws.send("x" * (settings.WS_MAX_FRAME_BYTES + 1))
            assert await _close_code(ws) == 1009
    assert fake_llm.requests == []


async def test_the_servers_own_logs_never_hold_a_token_or_personal_data(fake_llm: FakeOpenAI) -> None:
    """uvicorn logs each WebSocket's path, query string included, and Django's debug
    console copies records: both must go through the masking filter."""
    ((token, (key,)), (other, _)) = await _users_with_sessions(2, 1)
    with ServeProcess(LOG_LEVEL="DEBUG", DJANGO_DEBUG="1") as server:
        async with _open(server.ws(key, token)) as ws:
            assert (await _recv(ws))["type"] == "connected"
            await _ask(ws, "제 번호는 010-1234-5678 이에요")
            await _until_terminal(ws)
            await _ask(ws, "잠이 안 와서 걱정이에요")  # short: the websockets library cuts long frames
            reply = "".join(f["data"].get("chunk", "") for f in await _until_terminal(ws))
        # A refused socket too (its token is someone else's session's).
        async with _open(server.ws(key, other)) as ws:
            await _close_code(ws)
        output = server.output()
    assert f"/ws/session/{key}" in output, "the server logged no WebSocket line: the test would prove nothing"
    assert token not in output and other not in output
    assert "010-1234-5678" not in output
    # No message body either, not even cut short: not the user's words, not the reply's
    # (the websockets library logs every frame at DEBUG, Django every SQL parameter).
    assert "잠이 안 와서" not in output and reply[:12] not in output


needs_services = pytest.mark.skipif(not (settings.REDIS_URL and settings.DATABASES["default"]["ENGINE"].endswith(
    "postgresql")), reason="several server processes need PostgreSQL and Redis")


@needs_services
async def test_limits_hold_across_two_server_processes(fake_llm: FakeOpenAI) -> None:
    ((token, keys),) = await _users_with_sessions(1, 5)
    with ServeProcess(COUNSELING_RATE="4/d") as a, ServeProcess(COUNSELING_RATE="4/d") as b:
        # Three sockets per user, counted across both processes.
        first, second = await _open(a.ws(keys[0], token)), await _open(a.ws(keys[1], token))
        third = await _open(b.ws(keys[2], token))
        for ws in (first, second, third):
            assert (await _recv(ws))["type"] == "connected"
        for server in (a, b):
            async with _open(server.ws(keys[3], token)) as fourth:
                assert await _close_code(fourth) == 4429
        await second.close()
        async with _open(b.ws(keys[3], token)) as again:
            assert (await _recv(again))["type"] == "connected"

        # One reply per session: the same session on the other process is busy.
        fake_llm.behaviour = Behaviour(reply=LONG_REPLY, delay=0.05)
        await _ask(first)
        assert (await _recv(first))["type"] == "ai_stream_begin"
        other = await _open(b.ws(keys[0], token))
        assert (await _recv(other))["type"] == "connected"
        await _ask(other)
        busy = await _recv(other)
        assert (busy["type"], busy["data"]["code"]) == ("ai_stream_error", "BUSY")
        assert (await _until_terminal(first))[-1]["type"] == "ai_stream_complete"

        # The per-user rate counts the requests on both processes together. Real processes
        # keep the real clock, and each key's window edge falls at its own moment: 4 a day
        # makes an edge inside these few seconds a one in ten thousand chance.
        # one so far, on a; three more alternate between them, then the fifth is refused.
        fake_llm.behaviour = Behaviour()
        for ws in (third, first, third):
            await _ask(ws)
            assert (await _until_terminal(ws))[-1]["type"] == "ai_stream_complete"
        for ws in (first, third):
            await _ask(ws)
            limited = (await _until_terminal(ws))[-1]
            assert limited["data"]["code"] == "RATE_LIMITED" and limited["data"]["retry_after"] >= 1
        for ws in (first, third, other):
            await ws.close()
