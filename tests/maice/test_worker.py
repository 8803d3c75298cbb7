"""Real ``run_maice_agent`` processes on Redis Streams: a killed worker's request, SIGTERM.

Skipped without REDIS_URL (the embedded default has no workers).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import redis

from conversations.models import Message
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from maice.transport import AGENT_GROUP
from tests.maice.conftest import ANSWER, ANSWER_TEXT, CLASSIFY, SSE, Agents, Stream, auth, classification, route_steps
from tests.processes import ServeProcess

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "이차함수의 그래프를 그리는 방법을 알려주세요"


def holder(settings: Any, agents: Agents) -> subprocess.Popen[bytes]:
    """The worker whose consumer holds the pending request."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for _ in range(100):
            pending = client.xpending_range(f"{settings.MAICE_REDIS_PREFIX}:backend_to_agent", AGENT_GROUP,
                                            "-", "+", 10)
            if pending:
                name = pending[0]["consumer"].decode()
                return agents.procs[int(name.rsplit("-", 1)[1])]
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("no worker holds the request")


async def stream_with(server: str, token: str, on_event: Any) -> list[SSE]:
    events: list[SSE] = []
    async with httpx2.AsyncClient(timeout=30) as client:
        async with client.stream("POST", f"{server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            async for event in Stream(response).events():
                events.append(event)
                on_event(event, events)
    return events


async def test_a_worker_killed_mid_answer_ends_the_stream_with_one_error(
    agents: Agents, bare_server: str, token: str, settings: Any, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT * 4, chunk_size=5, delay=0.05))
    agents.start()
    agents.start()
    agents.wait_ready(2)
    killed: list[subprocess.Popen[bytes]] = []

    def kill_on_first_chunk(event: SSE, events: list[SSE]) -> None:
        if event.type == "answer_chunk" and not killed:
            victim = holder(settings, agents)
            victim.send_signal(signal.SIGKILL)
            killed.append(victim)

    started = time.monotonic()
    events = await asyncio.wait_for(stream_with(bare_server, token, kill_on_first_chunk), 20)
    assert killed and killed[0].wait(5) == -signal.SIGKILL
    assert time.monotonic() - started < 15
    terminal = [e for e in events if e.type in ("error", "summary_complete")]
    assert len(terminal) == 1 and terminal[0] is events[-1]
    assert events[-1].type == "error"
    assert events[-1].data["error_code"] in ("AGENT_UNAVAILABLE", "AGENT_TIMEOUT")
    # The answer does not stay "streaming" forever.
    session_id = events[0].data["session_id"]
    for _ in range(100):
        answer = await Message.objects.filter(session_id=session_id, role="assistant").alast()
        if answer is not None and answer.status != "streaming":
            break
        await asyncio.sleep(0.05)
    assert answer is not None and answer.status == "failed"


async def test_a_worker_killed_before_answering_leaves_the_request_to_another(
    agents: Agents, bare_server: str, token: str, settings: Any, fake_llm: FakeOpenAI
) -> None:
    # The classifier takes 1.5 s: the first worker dies while it waits.
    route_steps(fake_llm)
    fake_llm.route(CLASSIFY, Behaviour(reply=classification(), chunk_size=50, ttft=1.5))
    agents.start()
    agents.start()
    agents.wait_ready(2)
    killed: list[subprocess.Popen[bytes]] = []

    def kill_on_start(event: SSE, events: list[SSE]) -> None:
        if event.type == "classification_start" and not killed:
            victim = holder(settings, agents)
            victim.send_signal(signal.SIGKILL)
            killed.append(victim)

    events = await asyncio.wait_for(stream_with(bare_server, token, kill_on_start), 25)
    assert killed
    types = [e.type for e in events]
    assert types.count("classification_start") == 1 and types.count("classification_complete") == 1
    assert types[-2:] == ["answer_complete", "summary_complete"]
    assert "".join(e.data["content"] for e in events if e.type == "answer_chunk") == ANSWER_TEXT


async def test_sigterm_finishes_the_request_in_hand(agents: Agents, bare_server: str, token: str,
                                                    fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT, chunk_size=5, delay=0.03))
    worker = agents.start()
    agents.wait_ready(1)

    def term_on_first_chunk(event: SSE, events: list[SSE]) -> None:
        if event.type == "answer_chunk" and event.data["chunk_index"] == 0:
            worker.send_signal(signal.SIGTERM)

    events = await asyncio.wait_for(stream_with(bare_server, token, term_on_first_chunk), 20)
    assert events[-1].type == "summary_complete"
    assert "".join(e.data["content"] for e in events if e.type == "answer_chunk") == ANSWER_TEXT
    assert worker.wait(10) == 0


async def test_a_redis_outage_past_its_retries_does_not_end_the_workers_loops(
    maice_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py retries a few times, then raises: each of the worker's loops waits the
    outage out instead of dying (a dead cancel loop would leave stops unheard)."""
    if not maice_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (agent workers on Redis Streams)")
    import redis.asyncio as aioredis
    from redis.asyncio.client import PubSub
    from redis.exceptions import ConnectionError as RedisConnectionError

    from maice import worker as worker_module

    monkeypatch.setattr(worker_module, "RETRY_SECONDS", 0.05)
    calls = {"xreadgroup": 0, "xautoclaim": 0, "subscribe": 0}

    def failing_once(name: str, real: Any) -> Any:
        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            if calls[name] == 1:
                raise RedisConnectionError("Redis is down")
            return await real(self, *args, **kwargs)
        return call

    monkeypatch.setattr(aioredis.Redis, "xreadgroup", failing_once("xreadgroup", aioredis.Redis.xreadgroup))
    monkeypatch.setattr(aioredis.Redis, "xautoclaim", failing_once("xautoclaim", aioredis.Redis.xautoclaim))
    monkeypatch.setattr(PubSub, "subscribe", failing_once("subscribe", PubSub.subscribe))
    agent = worker_module.AgentWorker(name="outage", claim_idle_ms=300)
    running = asyncio.create_task(agent.run())
    for _ in range(200):
        if min(calls.values()) >= 2 or running.done():
            break
        await asyncio.sleep(0.05)
    assert not running.done(), running.exception() if running.done() else None
    assert min(calls.values()) >= 2, calls  # each loop came back after its failure
    agent.stop()
    await asyncio.wait_for(running, 10)


async def test_a_web_process_killed_mid_stream_does_not_keep_the_answer_alive(
    agents: Agents, token: str, settings: Any, fake_llm: FakeOpenAI
) -> None:
    # The student's stream was on a web process that died; they resumed on another, then
    # left. The dead process's stream must not count as a reader for ever: the answer and
    # its upstream call stop once the lease it held runs out.
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT * 20, chunk_size=5, delay=0.05))
    agents.start()
    agents.wait_ready(1)
    env = {"MAICE_REDIS_PREFIX": settings.MAICE_REDIS_PREFIX, "MAICE_DISCONNECT_GRACE_MS": "200",
           "LEASE_TTL_SECONDS": "2", "MAICE_RATE": "100/m"}
    with ServeProcess(**env) as first, ServeProcess(**env) as second:
        async with httpx2.AsyncClient(timeout=20) as client:
            async with client.stream("POST", f"{first.url}/api/maice/chat", json={"question": QUESTION},
                                     headers=auth(token)) as response:
                request_id = response.headers["x-request-id"]
                seen = [event async for event in _until_chunk(Stream(response))]
                first.kill()
            resumed = client.stream("GET", f"{second.url}/api/maice/chat/{request_id}/events",
                                    headers={**auth(token), "Last-Event-ID": str(seen[-1].id)})
            async with resumed as response:
                assert response.status_code == 200
                [event async for event in _until_chunk(Stream(response))]
            left = time.monotonic()
        call = [r for r in fake_llm.requests if ANSWER in r.body["messages"][0]["content"]][-1]
        for _ in range(100):
            if call.finished_at is not None:
                break
            await asyncio.sleep(0.05)
        assert call.finished_at is not None and call.client_disconnected, "the answer went on with nobody reading"
        assert call.finished_at - left < 5  # the lease (2 s), the grace, the beat that finds it gone
        answer = await Message.objects.filter(session_id=seen[0].data["session_id"], role="assistant").alast()
        assert answer is not None and answer.status == "interrupted"


async def _until_chunk(stream: Stream) -> AsyncIterator[SSE]:
    async for event in stream.events():
        yield event
        if event.type == "answer_chunk":
            return
