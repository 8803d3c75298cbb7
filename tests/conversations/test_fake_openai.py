"""Tests for the fake OpenAI server, driven by the real openai SDK over loopback HTTP.

Exception types the SDK (openai 3.52, httpx2 transport) raises against each fault:
- "drop":      openai.APIConnectionError, __cause__ httpx2.RemoteProtocolError
               (incomplete chunked read), raised while iterating the stream.
- "malformed": json.JSONDecodeError (a ValueError) straight out of the stream iterator;
               the SDK does not wrap it in an openai.* error.
- "timeout":   openai.APITimeoutError, __cause__ httpx2.ReadTimeout, raised by create().
- "429":       openai.RateLimitError (status_code 429), raised by create().
- "500":       openai.InternalServerError (status_code 500), raised by create().
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import openai
import pytest

from conversations.testing.fake_openai import Behaviour, FakeOpenAI

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are a kind counsellor."},
    {"role": "user", "content": "요즘 잠을 잘 못 자요."},
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@asynccontextmanager
async def make_client(fake: FakeOpenAI, read_timeout: float = 5.0) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=read_timeout) as client:
        yield client


async def stream_chat(client: openai.AsyncOpenAI, **kwargs: Any) -> Any:
    return await client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}, **kwargs
    )


@pytest.mark.asyncio
async def test_stream_reassembles_reply_and_reports_usage(fake: FakeOpenAI) -> None:
    async with make_client(fake) as client:
        stream = await stream_chat(client)
        parts: list[str] = []
        usage = None
        finish_reasons: list[str | None] = []
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish_reasons.append(choice.finish_reason)

    assert "".join(parts) == Behaviour().reply
    assert finish_reasons[-1] == "stop"
    assert usage is not None
    assert usage.completion_tokens == len(Behaviour().reply) // 2
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    rec = fake.wait_until_finished()
    assert rec.chunks_sent == -(-len(Behaviour().reply) // 2)
    assert not rec.client_disconnected


@pytest.mark.asyncio
async def test_no_usage_chunk_unless_requested(fake: FakeOpenAI) -> None:
    async with make_client(fake) as client:
        stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


@pytest.mark.asyncio
async def test_request_body_and_headers_are_recorded(fake: FakeOpenAI) -> None:
    async with make_client(fake) as client:
        stream = await stream_chat(client, temperature=0.7, top_p=0.9, max_tokens=321)
        async for _ in stream:
            pass

    (rec,) = fake.wait_for_requests(1)
    assert rec.path == "/v1/chat/completions"
    assert rec.body["messages"] == MESSAGES
    assert rec.body["temperature"] == 0.7
    assert rec.body["top_p"] == 0.9
    assert rec.body["max_tokens"] == 321
    assert rec.body["model"] == "gpt-test"
    assert rec.body["stream_options"] == {"include_usage": True}
    assert rec.headers["authorization"] == "Bearer test"


@pytest.mark.asyncio
async def test_ttft_is_honoured(fake: FakeOpenAI) -> None:
    fake.behaviour = Behaviour(ttft=0.3)
    async with make_client(fake) as client:
        started = time.monotonic()
        stream = await stream_chat(client)
        role_at = first_content_at = None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.role and role_at is None:
                role_at = time.monotonic() - started
            if chunk.choices and chunk.choices[0].delta.content and first_content_at is None:
                first_content_at = time.monotonic() - started

    assert role_at is not None
    assert role_at < 0.3  # the role frame is not held back by ttft
    assert first_content_at is not None
    assert first_content_at >= 0.3
    rec = fake.wait_until_finished()
    assert rec.first_chunk_at is not None
    assert rec.first_chunk_at - rec.received_at >= 0.3


@pytest.mark.asyncio
async def test_queue_is_one_shot_then_falls_back_to_default(fake: FakeOpenAI) -> None:
    fake.behaviour = Behaviour(reply="default")
    fake.queue(Behaviour(reply="first"), Behaviour(reply="second"))

    async def collect(client: openai.AsyncOpenAI) -> str:
        stream = await stream_chat(client)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async with make_client(fake) as client:
        replies = [await collect(client) for _ in range(4)]
    assert replies == ["first", "second", "default", "default"]

    fake.queue(Behaviour(reply="queued"))
    fake.reset()
    assert fake.requests == []
    async with make_client(fake) as client:
        assert await collect(client) == "default"


@pytest.mark.asyncio
async def test_429_raises_rate_limit_error(fake: FakeOpenAI) -> None:
    fake.queue(Behaviour(fault="429"))
    async with make_client(fake) as client:
        with pytest.raises(openai.RateLimitError) as exc_info:
            await stream_chat(client)
    assert exc_info.value.status_code == 429
    assert exc_info.value.response.headers["retry-after"] == "1"
    assert exc_info.value.code == "rate_limit_exceeded"


@pytest.mark.asyncio
async def test_500_raises_internal_server_error(fake: FakeOpenAI) -> None:
    fake.queue(Behaviour(fault="500"))
    async with make_client(fake) as client:
        with pytest.raises(openai.InternalServerError) as exc_info:
            await stream_chat(client)
    assert exc_info.value.status_code == 500


@pytest.mark.asyncio
async def test_timeout_raises_api_timeout_error(fake: FakeOpenAI) -> None:
    fake.queue(Behaviour(fault="timeout"))
    async with make_client(fake, read_timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError) as exc_info:
            await stream_chat(client)
    assert 0.4 < time.monotonic() - started < 3
    assert isinstance(exc_info.value.__cause__, httpx2.ReadTimeout)
    # The handler notices the client hung up instead of sleeping the full 30 s.
    rec = fake.wait_until_finished(timeout=2)
    assert rec.client_disconnected
    assert rec.chunks_sent == 0


@pytest.mark.asyncio
async def test_drop_breaks_the_stream(fake: FakeOpenAI) -> None:
    fake.queue(Behaviour(fault="drop", fault_after=3))
    received: list[str] = []
    async with make_client(fake) as client:
        stream = await stream_chat(client)
        with pytest.raises(openai.APIConnectionError) as exc_info:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    assert isinstance(exc_info.value.__cause__, httpx2.RemoteProtocolError)
    assert received == ["안녕", "하세", "요."]
    assert fake.wait_until_finished().chunks_sent == 3


@pytest.mark.asyncio
async def test_malformed_frame_raises_json_error(fake: FakeOpenAI) -> None:
    fake.queue(Behaviour(fault="malformed", fault_after=2))
    received: list[str] = []
    async with make_client(fake) as client:
        stream = await stream_chat(client)
        with pytest.raises(json.JSONDecodeError):
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    assert received == ["안녕", "하세"]


@pytest.mark.asyncio
async def test_closing_the_stream_stops_upstream_generation(fake: FakeOpenAI) -> None:
    fake.behaviour = Behaviour(reply="가" * 40, chunk_size=1, delay=0.05)
    async with make_client(fake) as client:
        stream = await stream_chat(client)
        seen = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen += 1
                if seen == 2:
                    break
        await stream.close()

    rec = fake.wait_until_finished(timeout=2)
    assert rec.client_disconnected
    assert rec.chunks_sent < 10
    assert rec.finished_at is not None
    assert rec.finished_at - rec.received_at < 1.0


@pytest.mark.asyncio
async def test_moderation_flags_configured_words(fake: FakeOpenAI) -> None:
    fake.flag_words = ["죽고 싶", "kill"]
    async with make_client(fake) as client:
        flagged = await client.moderations.create(input="요즘 정말 죽고 싶어요")
        clean = await client.moderations.create(input="오늘은 날씨가 좋네요")
        batch = await client.moderations.create(input=["hello", "I want to KILL it"])

    assert flagged.results[0].flagged is True
    assert flagged.results[0].categories.self_harm is True
    assert clean.results[0].flagged is False
    assert clean.results[0].categories.self_harm is False
    assert [r.flagged for r in batch.results] == [False, True]
    assert [r.path for r in fake.requests] == ["/v1/moderations"] * 3
    assert fake.requests[0].body["input"] == "요즘 정말 죽고 싶어요"


@pytest.mark.asyncio
async def test_non_streaming_completion(fake: FakeOpenAI) -> None:
    async with make_client(fake) as client:
        completion = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.choices[0].message.content == Behaviour().reply
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    assert fake.requests[0].body.get("stream") in (None, False)


def test_unknown_path_returns_404_json(fake: FakeOpenAI) -> None:
    request = urllib.request.Request(f"{fake.base_url}/embeddings", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc_info:
        urllib.request.urlopen(request, timeout=2)
    assert exc_info.value.code == 404
    assert "error" in json.loads(exc_info.value.read())
    assert fake.requests == []


def test_stop_wakes_a_handler_stuck_in_timeout_fault() -> None:
    server = FakeOpenAI(Behaviour(fault="timeout")).start()
    errors: list[BaseException] = []

    async def call() -> None:
        async with make_client(server, read_timeout=10) as client:
            await stream_chat(client)

    def run() -> None:
        try:
            asyncio.run(call())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    (rec,) = server.wait_for_requests(1)
    started = time.monotonic()
    server.stop()
    thread.join(timeout=3)
    assert time.monotonic() - started < 2
    assert rec.finished_at is not None
    assert len(errors) == 1
    assert isinstance(errors[0], openai.APIConnectionError)


def test_command_line_routes_a_marker_to_its_reply() -> None:
    """The benchmarks start the fake as a command and route their classifiers with --route."""
    proc = subprocess.Popen([sys.executable, "-m", "conversations.testing.fake_openai", "--port", "0",
                             "--route", "[cls]={\"ok\": 1}"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "[cls] 분류"}]}).encode()
        request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.load(response)
        assert answer["choices"][0]["message"]["content"] == '{"ok": 1}'
    finally:
        proc.terminate()
        proc.wait(timeout=5)
