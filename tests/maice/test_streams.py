"""Stop, disconnect, resume, replay, keep-alive and timeouts, through the live server.

The upstream's own record (the fake server's ``client_disconnected``/``finished_at``)
shows that a stop reaches the LLM call, not only the client.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import pytest
from django.conf import settings as django_settings

from conversations.aio import redis_client
from conversations.models import Message
from conversations.safety import CRISIS_REPLY
from conversations.testing.fake_openai import Behaviour, FakeOpenAI, RecordedRequest
from maice.models import MaiceQuestion, MaiceRequest
from tests.maice.conftest import ANSWER, ANSWER_TEXT, CLASSIFY, SSE, Stream, auth, classification, route_steps

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "이차함수의 그래프를 그리는 방법을 알려주세요"
SLOW_ANSWER = Behaviour(reply=ANSWER_TEXT * 3, chunk_size=5, delay=0.05)


def answer_call(fake: FakeOpenAI) -> RecordedRequest:
    calls = [r for r in fake.requests if ANSWER in r.body["messages"][0]["content"]]
    assert calls, "the answer was never asked"
    return calls[-1]


async def wait_stopped(fake: FakeOpenAI, since: float, *, within: float = 1.0) -> RecordedRequest:
    deadline = since + within
    while time.monotonic() < deadline:
        call = answer_call(fake)
        if call.finished_at is not None:
            assert call.client_disconnected, "the upstream finished on its own, it was not stopped"
            assert call.finished_at - since <= within
            return call
        await asyncio.sleep(0.02)
    raise AssertionError(f"the upstream call was still running {within}s after the stop")


async def read_until(stream: Stream, kind: str, count: int = 1) -> list[SSE]:
    seen: list[SSE] = []
    async for event in stream.events():
        seen.append(event)
        if sum(e.type == kind for e in seen) >= count:
            return seen
    raise AssertionError(f"stream ended before {count} {kind}: {[e.type for e in seen]}")


async def test_cancel_stops_the_agent_and_the_upstream_call(maice_server: str, token: str,
                                                             fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=SLOW_ANSWER)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            stream = Stream(response)
            seen = await read_until(stream, "answer_chunk", 2)
            request_id = response.headers["x-request-id"]
            stopped_at = time.monotonic()
            cancel = await client.post(f"{maice_server}/api/maice/chat/{request_id}/cancel", headers=auth(token))
            assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"
            rest = [event async for event in stream.events()]
    await wait_stopped(fake_llm, stopped_at)
    events = seen + rest
    assert events[-1].type == "error" and events[-1].data["error_code"] == "CANCELLED"
    assert sum(e.type == "error" for e in events) == 1
    shown = "".join(e.data["content"] for e in events if e.type == "answer_chunk")
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=events[0].data["session_id"])
    assert question.answer is not None and question.answer.status == "interrupted"
    assert question.answer.content == shown and 0 < len(shown) < len(SLOW_ANSWER.reply)
    # Stopping again changes nothing.
    async with httpx2.AsyncClient(timeout=10) as client:
        again = await client.post(f"{maice_server}/api/maice/chat/{request_id}/cancel", headers=auth(token))
    assert again.json()["status"] == "finished"


@pytest.fixture
def no_grace(maice_settings: Any) -> None:
    # The 1 s allowed below is for the stop itself, not for the grace a reconnect gets.
    maice_settings.MAICE_DISCONNECT_GRACE_MS = 0


async def test_disconnect_stops_the_agent_and_the_upstream_call(no_grace: None, maice_server: str, token: str,
                                                                fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=SLOW_ANSWER)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            seen = await read_until(Stream(response), "answer_chunk", 1)
    left_at = time.monotonic()
    await wait_stopped(fake_llm, left_at)
    session_id = seen[0].data["session_id"]
    for _ in range(50):
        answer = await Message.objects.filter(session_id=session_id, role="assistant").alast()
        if answer is not None and answer.status != "streaming":
            break
        await asyncio.sleep(0.05)
    assert answer is not None and answer.status == "interrupted"
    request = await MaiceRequest.objects.aget(session_id=session_id)
    assert request.finished_at is not None and request.outcome == "CANCELLED"


@pytest.fixture
def long_grace(maice_settings: Any) -> None:
    maice_settings.MAICE_DISCONNECT_GRACE_MS = 3000


async def test_resume_with_last_event_id_misses_nothing_and_repeats_nothing(
    long_grace: None, maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT * 2, chunk_size=5, delay=0.02))
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            first = await read_until(Stream(response), "answer_chunk", 2)
            request_id = response.headers["x-request-id"]
        # The connection dropped; the client comes back with the last id it saw.
        headers = {**auth(token), "Last-Event-ID": str(first[-1].id)}
        async with client.stream("GET", f"{maice_server}/api/maice/chat/{request_id}/events",
                                 headers=headers) as resumed:
            assert resumed.status_code == 200 and resumed.headers["x-request-id"] == request_id
            rest = await Stream(resumed).all()
        async with client.stream("GET", f"{maice_server}/api/maice/chat/{request_id}/events",
                                 headers=auth(token)) as replay:
            everything = await Stream(replay).all()
    combined = first + rest
    assert [e.id for e in combined] == [e.id for e in everything]
    assert [e.data for e in combined] == [e.data for e in everything]
    assert combined[-1].type == "summary_complete"
    chunks = [e.data["content"] for e in combined if e.type == "answer_chunk"]
    assert "".join(chunks) == ANSWER_TEXT * 2


async def test_get_chat_replays_the_latest_stream_for_the_seeds_event_source(
    maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            posted = await Stream(response).all()
        # What `new EventSource(response.url)` does after the seed's POST.
        async with client.stream("GET", f"{maice_server}/api/maice/chat", headers=auth(token)) as again:
            assert again.headers["content-type"].startswith("text/event-stream")
            replayed = await Stream(again).all()
    assert [(e.id, e.data) for e in replayed] == [(e.id, e.data) for e in posted]


async def test_a_reconnect_after_the_last_event_is_told_there_is_no_more(
    maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    """An EventSource reconnects after every close, with the last id it saw: a 204 is what
    stops it (a stream would wait for events that never come and end in a false timeout)."""
    route_steps(fake_llm)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            posted = await Stream(response).all()
            request_id = response.headers["x-request-id"]
        headers = {**auth(token), "Last-Event-ID": str(posted[-1].id)}
        started = time.monotonic()
        for url in (f"{maice_server}/api/maice/chat", f"{maice_server}/api/maice/chat/{request_id}/events"):
            reconnect = await client.get(url, headers=headers)
            assert reconnect.status_code == 204 and reconnect.content == b""
        assert time.monotonic() - started < 5
        # Earlier ids still replay what came after them.
        headers["Last-Event-ID"] = str(posted[-2].id)
        async with client.stream("GET", f"{maice_server}/api/maice/chat/{request_id}/events",
                                 headers=headers) as rest:
            assert [(e.id, e.data) for e in await Stream(rest).all()] == [(posted[-1].id, posted[-1].data)]
    request = await MaiceRequest.objects.aget(request_id=request_id)
    assert request.outcome == "summary_complete"


async def test_a_repeated_client_msg_id_replays_its_stream_and_asks_the_model_once(
    maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=ANSWER_TEXT, chunk_size=20, delay=0.02))
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            session_id = (await Stream(response).all())[0].data["session_id"]
        asked_before = len(fake_llm.requests)
        body = {"question": "꼭짓점은 어떻게 구하나요?", "session_id": session_id, "client_msg_id": "retry-1"}
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json=body, headers=auth(token)) as first:
            seen = await read_until(Stream(first), "answer_chunk", 1)
            # The connection is lost; the client sends the same message again, and later once more.
            async with client.stream("POST", f"{maice_server}/api/maice/chat", json=body,
                                     headers=auth(token)) as again:
                assert again.status_code == 200 and again.headers["x-request-id"] == first.headers["x-request-id"]
                retried = await Stream(again).all()
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json=body, headers=auth(token)) as late:
            replayed = await Stream(late).all()
    assert retried[0].id == seen[0].id and retried[-1].type == "summary_complete"
    assert [(e.id, e.data) for e in replayed] == [(e.id, e.data) for e in retried]
    assert len(fake_llm.requests) - asked_before == 3  # classify, answer, summary: once
    assert await MaiceQuestion.objects.filter(session_id=session_id).acount() == 2
    assert await Message.objects.filter(session_id=session_id, role="user").acount() == 2
    # Another id is another question.
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", headers=auth(token),
                                 json={**body, "client_msg_id": "retry-2"}) as other:
            assert other.headers["x-request-id"] != retried[0].data["request_id"]
            assert (await Stream(other).all())[-1].type == "summary_complete"
    assert await MaiceQuestion.objects.filter(session_id=session_id).acount() == 3


async def test_a_retried_first_question_reuses_its_session_and_its_answer(
    maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    route_steps(fake_llm)
    body = {"question": QUESTION, "client_msg_id": "first-try"}  # no session yet
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json=body, headers=auth(token)) as first:
            answered = await Stream(first).all()
        asked = len(fake_llm.requests)
        # The response was lost before the client learned the session id: it sends it again.
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json=body, headers=auth(token)) as again:
            replayed = await Stream(again).all()
    assert [(e.id, e.data) for e in replayed] == [(e.id, e.data) for e in answered]
    assert len(fake_llm.requests) == asked  # the model was not asked again
    assert await MaiceQuestion.objects.acount() == 1 and await MaiceRequest.objects.acount() == 1


@pytest.fixture
def fast_keepalive(maice_settings: Any) -> None:
    maice_settings.MAICE_KEEPALIVE_SECONDS = 0.2


async def test_keep_alive_comments_during_silence(fast_keepalive: None, maice_server: str, token: str,
                                                  fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm)
    fake_llm.route(CLASSIFY, Behaviour(reply=classification(), chunk_size=50, ttft=1.0))
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            stream = Stream(response)
            events = await stream.all()
    assert "keep-alive" in stream.comments
    assert ": keep-alive" in stream.raw
    assert events[-1].type == "summary_complete"


@pytest.fixture
def short_chunk_timeout(maice_settings: Any) -> None:
    maice_settings.MAICE_CHUNK_TIMEOUT = 0.4


async def test_a_stalled_answer_ends_with_agent_timeout_not_a_hang(
    short_chunk_timeout: None, maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    # 60 characters, then nothing for 6 s: far past the gap allowed between chunks.
    stall = Behaviour(reply="가" * 60 + " " + "나" * 60 + " ", chunk_size=61, delay=6.0)
    route_steps(fake_llm, answer=stall)
    started = time.monotonic()
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            events = await Stream(response).all()
            ended = time.monotonic()
    assert [e.type for e in events][-2:] == ["answer_chunk", "error"]
    assert events[-1].data["error_code"] == "AGENT_TIMEOUT"
    assert ended - started < 6.0  # before the upstream's next piece: the timeout ended it
    await wait_stopped(fake_llm, ended)
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=events[0].data["session_id"])
    assert question.answer is not None and question.answer.status == "failed"
    assert question.answer.error_code == "AGENT_TIMEOUT"
    assert question.answer.content == "가" * 60 + " "


async def test_a_formula_longer_than_the_chunk_gap_is_not_a_timeout(
    short_chunk_timeout: None, maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    # The model keeps writing a display formula for about a second, four times the gap
    # allowed between chunks; a chunk never cuts a formula, so none can go out meanwhile.
    formula = "$$" + "+".join(f"a_{{{n}}}x^{{{n}}}" for n in range(20)) + "$$"
    text = "가" * 60 + " " + formula + " 이렇게 전개합니다."
    route_steps(fake_llm, answer=Behaviour(reply=text, chunk_size=20, delay=0.06))
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            events = await Stream(response).all()
    assert [e.type for e in events][-2:] == ["answer_complete", "summary_complete"]
    chunks = [e.data["content"] for e in events if e.type == "answer_chunk"]
    assert "".join(chunks) == text and any(c.startswith(formula) or formula in c for c in chunks)
    assert {e.type for e in events} <= {"classification_start", "classification_complete", "answer_chunk",
                                        "answer_complete", "summary_complete"}  # nothing internal leaks


async def test_a_slow_check_of_the_whole_answer_is_not_a_chunk_timeout(
    short_chunk_timeout: None, moderation: Any, maice_server: str, token: str, fake_llm: FakeOpenAI
) -> None:
    # Every chunk is out; the moderation endpoint takes twice the gap allowed between chunks.
    route_steps(fake_llm)
    fake_llm.moderation_delay = 0.8
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            events = await Stream(response).all()
    assert [e.type for e in events][-2:] == ["answer_complete", "summary_complete"]
    answer = await Message.objects.aget(session_id=events[0].data["session_id"], role="assistant")
    assert answer.status == "complete"


async def test_no_agent_running_is_an_error_event_not_a_hang(bare_server: str, token: str, settings: Any,
                                                             fake_llm: FakeOpenAI) -> None:
    if not settings.REDIS_URL:
        pytest.skip("embedded mode always has its in-process agent")
    started = time.monotonic()
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{bare_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            assert response.status_code == 200
            events = await Stream(response).all()
    assert [e.type for e in events] == ["error"]
    assert events[0].data["error_code"] == "AGENT_UNAVAILABLE" and events[0].data["message"]
    assert time.monotonic() - started < 5
    assert not fake_llm.requests
    # Nothing was queued either: an agent that starts later must not answer a stream that ended.
    assert await redis_client().xlen(f"{settings.MAICE_REDIS_PREFIX}:backend_to_agent") == 0


async def test_a_second_question_while_one_streams_is_busy(maice_server: str, token: str,
                                                           fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=SLOW_ANSWER)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            seen = await read_until(Stream(response), "answer_chunk", 1)
            running = response.headers["x-request-id"]
            session_id = seen[0].data["session_id"]
            async with client.stream("POST", f"{maice_server}/api/maice/chat", headers=auth(token),
                                     json={"question": "다른 질문", "session_id": session_id}) as busy:
                assert busy.status_code == 200 and busy.headers["content-type"].startswith("text/event-stream")
                events = await Stream(busy).all()
            # The contract's BUSY error event, naming the request still running (resumable).
            assert [e.type for e in events] == ["error"]
            assert events[0].data["error_code"] == "BUSY" and events[0].data["message"]
            assert events[0].data["session_id"] == session_id and events[0].data["request_id"] == running
            assert busy.headers["x-request-id"] == running
            await client.post(f"{maice_server}/api/maice/chat/{running}/cancel", headers=auth(token))
    # The refused question was not stored.
    assert await MaiceQuestion.objects.filter(session_id=session_id).acount() == 1


async def test_a_student_in_crisis_while_an_answer_streams_is_answered_not_busy(
        maice_server: str, token: str, fake_llm: FakeOpenAI) -> None:
    route_steps(fake_llm, answer=SLOW_ANSWER)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            first = Stream(response)
            seen = await read_until(first, "answer_chunk", 1)
            running, session_id = response.headers["x-request-id"], seen[0].data["session_id"]
            async with client.stream("POST", f"{maice_server}/api/maice/chat", headers=auth(token),
                                     json={"question": "수학 때문에 죽고 싶어요", "session_id": session_id}) as crisis:
                events = await Stream(crisis).all()
            assert "".join(e.data["content"] for e in events if e.type == "answer_chunk") == CRISIS_REPLY
            assert events[-1].type == "summary_complete" and crisis.headers["x-request-id"] != running
            rest = await first.all()  # the answer in flight goes on to its end
            assert rest[-1].type == "summary_complete"
    assert await MaiceQuestion.objects.filter(session_id=session_id).acount() == 2


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL: agents beside restarting web workers")
async def test_a_process_starting_up_leaves_an_answer_being_streamed_alone(
    maice_server: str, token: str, fake_llm: FakeOpenAI, settings: Any, monkeypatch: Any
) -> None:
    """A web worker that (re)starts sweeps rows left ``streaming`` without a lease: the
    agent's answer holds one, and its text so far is saved as it streams. (The embedded
    default is one process: nothing starts beside it.)"""
    from conversations import recovery

    settings.LEASE_TTL_SECONDS = 1  # the start-up sweep's age cutoff (with Redis) in this process
    route_steps(fake_llm, answer=SLOW_ANSWER)
    async with httpx2.AsyncClient(timeout=20) as client:
        async with client.stream("POST", f"{maice_server}/api/maice/chat", json={"question": QUESTION},
                                 headers=auth(token)) as response:
            stream = Stream(response)
            seen = await read_until(stream, "answer_chunk", 1)
            session_id = seen[0].data["session_id"]
            saved = None
            for _ in range(60):  # STREAM_SAVE_MS (1 s) after the first chunk
                saved = await Message.objects.filter(session_id=session_id, role="assistant").alast()
                if saved is not None and saved.content:
                    break
                await asyncio.sleep(0.05)
            assert saved is not None and saved.status == "streaming" and saved.content
            monkeypatch.setattr(recovery, "_swept_in", None)
            assert await recovery.replies_sweep_at_startup() == 0
            rest = [event async for event in stream.events()]
    events = seen + rest
    assert events[-1].type == "summary_complete"
    answer = await Message.objects.filter(session_id=session_id, role="assistant").alast()
    assert answer is not None and answer.status == "complete"
    assert answer.content == "".join(e.data["content"] for e in events if e.type == "answer_chunk")
