"""Streaming a reply into a stored message: every reply ends in exactly one final state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.aio import run_db
from conversations.generation import (
    ReplyChunk,
    ReplyEvent,
    ReplyFailed,
    ReplyFinished,
    ReplyStarted,
    RowUnavailable,
    reply_generate,
)
from conversations.llm import ChatMessage, ChatRequest, LLMError, reset_providers
from conversations.llm import offline as offline_llm
from conversations.models import Flag, Message, MessageStatus, ReviewState, Role
from conversations.safety import SAFE_FALLBACK_REPLY, screen_output
from conversations.services import message_append, messages_progress
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.services import session_start
from tests.streams import cancel_after_first

pytestmark = pytest.mark.django_db(transaction=True)

USER_TEXT = "요즘 회사에서 스트레스를 많이 받아요"
LONG_REPLY = "천천히 숨을 고르면서 지금 느끼는 감정을 하나씩 말로 옮겨 보세요. " * 6
UNSAFE_REPLY = "많이 힘드셨겠어요. 그럴 땐 차라리 죽어버려. " + "그러면 다 편해질 거예요. " * 10


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every test here creates users; the production hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
async def assistant(user: Any) -> Message:
    """A user message and the streaming assistant reply to it, as a product creates them."""

    def create() -> Message:
        session = session_start(user=user)
        asked = message_append(session=session, role=Role.USER, text=USER_TEXT, emotion="anxious")
        return message_append(session=session, role=Role.ASSISTANT, text="", status=MessageStatus.STREAMING,
                              reply_to=asked, model="gpt-test", emotion="anxious")

    return await sync_to_async(create)()


def chat_request(product: str = "counseling") -> ChatRequest:
    return ChatRequest(
        product=product,
        messages=(ChatMessage("system", "따뜻한 상담사입니다."), ChatMessage("user", USER_TEXT)),
        model="gpt-test",
        temperature=0.7,
        top_p=0.8,
        max_tokens=1024,
        context={"emotion": "anxious"},
    )


async def run(assistant: Message, *, product: str = "counseling", waited: float = 0.0) -> list[ReplyEvent]:
    """The events after ``ReplyStarted``, which always comes first."""
    # ``waited``: how long ago the user's request arrived, to check timings start there.
    started = time.monotonic() - waited
    events = [event async for event in reply_generate(assistant=assistant, request=chat_request(product),
                                                      started=started)]
    assert events[0] == ReplyStarted(assistant.pk)
    return events[1:]


async def after_start(assistant: Message) -> AsyncGenerator[ReplyEvent, None]:
    """The reply's events after ``ReplyStarted``; closing this closes the reply."""
    async with aclosing(reply_generate(assistant=assistant, request=chat_request(), started=time.monotonic())) as events:
        assert await anext(events) == ReplyStarted(assistant.pk)
        async for event in events:
            yield event


def shown(events: list[ReplyEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, ReplyChunk))


async def stored(assistant: Message) -> Message:
    return await Message.objects.select_related("session").aget(pk=assistant.pk)


# --- complete -----------------------------------------------------------------------------------


async def test_complete_reply_is_stored_with_usage_and_timings(assistant: Message, fake_llm: FakeOpenAI) -> None:
    events = await run(assistant, waited=0.2)

    reply = fake_llm.behaviour.reply
    *chunks, finished = events
    assert all(isinstance(event, ReplyChunk) for event in chunks)
    assert shown(events) == reply
    assert isinstance(finished, ReplyFinished)
    assert (finished.message_id, finished.text, finished.status) == (assistant.pk, reply, MessageStatus.COMPLETE)
    assert finished.usage is not None and finished.usage.model == "fake-model"

    message = await stored(assistant)
    assert message.status == MessageStatus.COMPLETE
    assert message.content == reply
    assert message.model == "fake-model"
    assert message.prompt_tokens == finished.usage.prompt_tokens > 0
    assert message.completion_tokens == len(reply) // 2
    # Timings count from the user's request, not from when generation began.
    assert message.ttfc_ms is not None and message.ttfc_ms >= 200
    assert message.total_ms is not None and message.total_ms >= message.ttfc_ms
    assert message.ttfc_ms == finished.ttfc_ms
    assert message.completed_at is not None
    assert not message.flagged


async def test_offline_reply_is_marked_offline(assistant: Message, settings: Any) -> None:
    settings.LLM_BASE_URL = ""
    reset_providers()
    events = await run(assistant)

    message = await stored(assistant)
    assert message.status == MessageStatus.COMPLETE
    assert message.content == shown(events) != ""
    assert message.model == "offline"


# --- failed -------------------------------------------------------------------------------------


async def test_upstream_drop_is_failed_with_partial_text(assistant: Message, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, fault="drop", fault_after=3)
    events = await run(assistant)

    assert events[-1] == ReplyFailed(assistant.pk, LLMError.STREAMING)
    message = await stored(assistant)
    assert message.status == MessageStatus.FAILED
    assert message.error_code == LLMError.STREAMING
    # Everything the user saw before the drop is kept, and nothing else.
    assert message.content == shown(events) == LONG_REPLY[:6]
    assert message.total_ms is not None


async def test_upstream_unavailable_before_any_text_is_failed_and_empty(assistant: Message,
                                                                       fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(fault="500")
    events = await run(assistant)

    assert events == [ReplyFailed(assistant.pk, LLMError.UNAVAILABLE)]
    message = await stored(assistant)
    assert (message.status, message.content, message.error_code) == (MessageStatus.FAILED, "", "LLM_UNAVAILABLE")
    assert message.ttfc_ms is None


async def test_a_responder_bug_is_failed_not_interrupted(assistant: Message, settings: Any, caplog: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(request: ChatRequest) -> str:
        raise RuntimeError("responder bug")

    monkeypatch.setitem(offline_llm._responders, "broken-product", broken)
    settings.LLM_BASE_URL = ""
    reset_providers()

    with caplog.at_level(logging.ERROR, logger="conversations.generation"):
        events = await run(assistant, product="broken-product")

    assert events == [ReplyFailed(assistant.pk, LLMError.STREAMING)]
    assert (await stored(assistant)).status == MessageStatus.FAILED
    assert "reply generation failed" in caplog.text


# --- interrupted --------------------------------------------------------------------------------


async def test_cancelled_reply_is_interrupted_with_partial_text(assistant: Message, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.1)
    events = await cancel_after_first(after_start(assistant))

    message = await stored(assistant)
    assert message.status == MessageStatus.INTERRUPTED
    assert message.content == shown(events)
    assert 0 < len(message.content) < len(LONG_REPLY)
    assert message.ttfc_ms is not None and message.total_ms is not None
    rec = await asyncio.to_thread(fake_llm.wait_until_finished, -1, 3.0)
    assert rec.client_disconnected  # no tokens keep being generated


async def test_closed_reply_is_interrupted_with_partial_text(assistant: Message, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.1)
    events = after_start(assistant)

    first = await anext(events)
    assert isinstance(first, ReplyChunk)
    await events.aclose()  # type: ignore[attr-defined]

    message = await stored(assistant)
    assert message.status == MessageStatus.INTERRUPTED
    assert message.content == first.text


# --- blocked ------------------------------------------------------------------------------------


async def assert_blocked(assistant: Message, events: list[ReplyEvent], *, detail: str) -> Message:
    finished = events[-1]
    assert isinstance(finished, ReplyFinished)
    assert (finished.status, finished.text) == (MessageStatus.BLOCKED, SAFE_FALLBACK_REPLY)
    fallback = events[-2]
    assert isinstance(fallback, ReplyChunk) and fallback.text.endswith(SAFE_FALLBACK_REPLY)

    message = await stored(assistant)
    assert message.status == MessageStatus.BLOCKED
    assert message.content == SAFE_FALLBACK_REPLY
    assert Flag.OUTPUT_BLOCKED in message.flags
    assert message.flagged
    assert message.flag_detail == detail
    assert message.session.flagged
    assert message.session.review_state == ReviewState.UNREVIEWED
    return message


async def test_unsafe_reply_is_stopped_and_stored_blocked(assistant: Message, fake_llm: FakeOpenAI,
                                                          settings: Any) -> None:
    settings.STREAM_FLUSH_MS = 0  # one event per upstream chunk, so "where it was flagged" is exact
    fake_llm.behaviour = Behaviour(reply=UNSAFE_REPLY, chunk_size=2, delay=0.01)
    events = await run(assistant)

    message = await assert_blocked(assistant, events, detail="self_harm_content")
    user_saw = shown(events[:-2])
    # The screen judges a finished phrase, so the stream stops at the sentence that completes it.
    assert UNSAFE_REPLY.startswith(user_saw)
    assert "차라리 죽어버려." not in user_saw
    assert "편해질" not in user_saw
    # Reviewers see what the model wrote, up to the chunk that tripped the screen.
    assert message.blocked_text is not None
    assert UNSAFE_REPLY.startswith(message.blocked_text)
    assert message.blocked_text.startswith(user_saw)
    assert screen_output(message.blocked_text).flagged  # it holds the part that was flagged
    assert "편해질" not in message.blocked_text
    assert message.ttfc_ms is not None and message.total_ms is not None
    rec = await asyncio.to_thread(fake_llm.wait_until_finished, -1, 3.0)
    assert rec.client_disconnected  # the rest of the reply was never generated


async def test_unsafe_last_sentence_without_punctuation_is_blocked(assistant: Message, fake_llm: FakeOpenAI) -> None:
    # On a prefix "그냥 죽어" might still continue harmlessly; the finished reply cannot.
    fake_llm.behaviour = Behaviour(reply="정말 힘드시면 그냥 죽어")
    events = await run(assistant)

    message = await assert_blocked(assistant, events, detail="self_harm_content")
    assert message.blocked_text == "정말 힘드시면 그냥 죽어"


async def test_reply_flagged_by_moderation_is_blocked(assistant: Message, fake_llm: FakeOpenAI,
                                                      settings: Any) -> None:
    settings.LLM_MODERATION = True
    settings.LLM_MODERATION_MODEL = "moderation-test"
    reset_providers()
    fake_llm.flag_words = ["무서운 방법"]
    fake_llm.behaviour = Behaviour(reply="제가 아는 무서운 방법을 알려 드릴게요.")
    events = await run(assistant)

    message = await assert_blocked(assistant, events, detail="moderation")
    assert message.blocked_text == "제가 아는 무서운 방법을 알려 드릴게요."
    moderated = [r.body for r in fake_llm.requests if r.path == "/v1/moderations"]
    assert moderated == [{"model": "moderation-test", "input": "제가 아는 무서운 방법을 알려 드릴게요."}]


async def test_partial_text_is_saved_while_the_reply_streams(assistant: Message, fake_llm: FakeOpenAI,
                                                              settings: Any) -> None:
    # A crash (kill -9) runs no finally: only what was saved along the way survives it.
    settings.STREAM_SAVE_MS = 100
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.02)
    events = after_start(assistant)
    seen = ""
    saved = ""
    async for event in events:
        assert isinstance(event, ReplyChunk)
        seen += event.text
        await asyncio.sleep(0)
        saved = (await stored(assistant)).content
        if len(saved) > 10:
            break
    assert (await stored(assistant)).status == MessageStatus.STREAMING
    assert seen.startswith(saved) and len(saved) > 10
    await events.aclose()  # type: ignore[attr-defined]


async def test_concurrent_replies_are_saved_together_in_one_statement(
        assistant: Message, fake_llm: FakeOpenAI, settings: Any) -> None:
    # Saved one statement a beat for every reply of the process, not one per reply: and
    # a reply settled in between keeps its final text.
    settings.STREAM_SAVE_MS = 100
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.02)

    def another() -> Message:
        return message_append(session=assistant.session, role=Role.ASSISTANT, text="", reply_to=None,
                              status=MessageStatus.STREAMING, model="gpt-test")

    async def read(reply: Message) -> None:
        async for _event in after_start(reply):
            pass

    second = await run_db(another)
    readers = [asyncio.create_task(read(reply)) for reply in (assistant, second)]
    await asyncio.sleep(0.35)
    both = [(await stored(m)).content for m in (assistant, second)]
    assert all(LONG_REPLY.startswith(text) and text for text in both), both
    readers[1].cancel()  # the client left: the reply is settled with its text
    await asyncio.wait({readers[1]})
    settled = await stored(second)
    assert settled.status == MessageStatus.INTERRUPTED and len(settled.content) >= len(both[1])
    await asyncio.sleep(0.3)
    assert (await stored(second)).content == settled.content  # later beats leave it alone
    assert (await stored(assistant)).status == MessageStatus.STREAMING
    readers[0].cancel()
    await asyncio.wait({readers[0]})


def test_saving_many_replies_text_is_one_encrypted_update(user: Any) -> None:
    session = session_start(user=user)
    first, second = (message_append(session=session, role=Role.ASSISTANT, text="", model="gpt-test",
                                    status=MessageStatus.STREAMING) for _ in range(2))
    done = message_append(session=session, role=Role.ASSISTANT, text="끝난 답", model="gpt-test")
    with CaptureQueriesContext(connection) as ran:
        saved = messages_progress(texts={first.pk: "지금까지 쓴 답", second.pk: "두 번째 답", done.pk: "덮어쓰기"})
    assert (saved, len(ran)) == (2, 1)
    assert [Message.objects.get(pk=m.pk).content for m in (first, second, done)] == [
        "지금까지 쓴 답", "두 번째 답", "끝난 답"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM conversations_message WHERE id = %s", [first.pk])
        assert "답" not in cursor.fetchone()[0]  # encrypted at rest like every other write


async def test_a_streaming_reply_holds_a_lease_and_a_dead_holder_is_swept(assistant: Message, fake_llm: FakeOpenAI,
                                                                           settings: Any) -> None:
    from conversations.leases import STREAMING_REPLIES, keeper, leases_live
    from conversations.recovery import replies_sweep

    settings.LEASE_TTL_SECONDS = 1
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.05)
    events = after_start(assistant)
    await anext(events)
    assert str(assistant.pk) in await leases_live(STREAMING_REPLIES)
    assert await replies_sweep() == 0  # a live reply is left alone

    # What a SIGKILL looks like from outside: nobody renews the lease, and it runs out;
    # the heartbeat's periodic sweep (every LEASE_TTL_SECONDS) then settles the reply.
    keeper().held.clear()
    for _ in range(50):
        message = await stored(assistant)
        if message.status != MessageStatus.STREAMING:
            break
        await asyncio.sleep(0.1)
    assert message.status == MessageStatus.INTERRUPTED
    assert str(assistant.pk) not in await leases_live(STREAMING_REPLIES)
    await events.aclose()  # type: ignore[attr-defined]
    assert (await stored(assistant)).status == MessageStatus.INTERRUPTED  # the sweep's state stands


# --- a row still being written ------------------------------------------------------------------


async def test_the_request_goes_out_while_the_row_is_written(assistant: Message, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply="천천히 말씀해 주세요.", ttft=0.2)
    written = asyncio.get_running_loop().create_future()

    async def collect() -> list[ReplyEvent]:
        return [e async for e in reply_generate(assistant=written, request=chat_request(), started=time.monotonic())]

    task = asyncio.create_task(collect())
    # The model has the request before the row exists.
    await asyncio.to_thread(fake_llm.wait_for_requests, 1, 3.0)
    written.set_result(assistant)
    events = await task
    assert events[0] == ReplyStarted(assistant.pk) and shown(events) == "천천히 말씀해 주세요."
    reply = await stored(assistant)
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, "천천히 말씀해 주세요.")


async def test_a_row_that_cannot_be_written_closes_the_request(assistant: Message, fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, ttft=0.3, delay=0.05)

    async def fails() -> Message:
        await asyncio.sleep(0.1)
        raise RuntimeError("the database is down")

    events: list[ReplyEvent] = []
    with pytest.raises(RowUnavailable) as raised:
        async for event in reply_generate(assistant=fails(), request=chat_request(), started=time.monotonic()):
            events.append(event)
    assert isinstance(raised.value.error, RuntimeError) and events == []  # nothing was shown
    rec = await asyncio.to_thread(fake_llm.wait_until_finished, -1, 3.0)
    assert rec.client_disconnected and rec.chunks_sent == 0
    assert (await stored(assistant)).status == MessageStatus.STREAMING  # not ours to settle: it was never written
