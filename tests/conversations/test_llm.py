"""The LLM gateway: the real ``openai`` client against the fake upstream, and the offline provider."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from conversations.llm import (
    OFFLINE_MODEL,
    Accepted,
    ChatMessage,
    ChatRequest,
    LLMError,
    LLMProvider,
    StreamItem,
    TextDelta,
    Usage,
    get_provider,
    provider_close,
    reset_providers,
)
from conversations.llm.offline import OfflineProvider
from conversations.llm.openai_provider import OpenAICompatibleProvider
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from tests.streams import cancel_after_first

LONG_REPLY = "천천히 숨을 고르면서 지금 느끼는 감정을 하나씩 말로 옮겨 보세요. " * 6


def chat_request(*, product: str = "counseling", text: str = "요즘 잠을 잘 못 자요.", **overrides: Any) -> ChatRequest:
    fields: dict[str, Any] = {
        "product": product,
        "messages": (ChatMessage("system", "따뜻한 상담사입니다."), ChatMessage("user", text)),
        "model": "gpt-test",
        "temperature": 0.7,
        "top_p": 0.8,
        "max_tokens": 1024,
    }
    fields.update(overrides)
    return ChatRequest(**fields)


async def drain(stream: AsyncIterator[StreamItem], into: list[StreamItem] | None = None) -> list[StreamItem]:
    items = into if into is not None else []
    async for item in stream:
        items.append(item)
    return items


def text_of(items: list[StreamItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


@pytest.fixture
def http_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths of every HTTP request the SDK sends, including ones the fake does not record."""
    sent: list[str] = []
    original = httpx2.AsyncClient.send

    async def send(self: httpx2.AsyncClient, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        sent.append(request.url.path)
        return await original(self, request, **kwargs)

    monkeypatch.setattr(httpx2.AsyncClient, "send", send)
    return sent


def provider_for(fake: FakeOpenAI, *, base_url: str | None = None, **overrides: Any) -> OpenAICompatibleProvider:
    options: dict[str, Any] = {
        "base_url": base_url or fake.base_url,
        "api_key": "test-key",
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "total_timeout": 10.0,
        "max_retries": 0,
    }
    options.update(overrides)
    return OpenAICompatibleProvider(**options)


async def stream_failure(provider: OpenAICompatibleProvider) -> LLMError:
    """The error a stream from ``provider`` ends with; the provider is closed after it."""
    try:
        with pytest.raises(LLMError) as caught:
            await drain(provider.stream(chat_request()))
    finally:
        await provider.aclose()
    return caught.value


async def finished(fake: FakeOpenAI, index: int = -1) -> Any:
    return await asyncio.to_thread(fake.wait_until_finished, index, 3.0)


# --- get_provider -----------------------------------------------------------------------------


async def test_get_provider_is_offline_without_base_url(settings: Any) -> None:
    settings.LLM_BASE_URL = ""
    reset_providers()
    provider = get_provider()
    assert isinstance(provider, OfflineProvider)
    assert get_provider() is provider


async def test_get_provider_builds_openai_provider_from_settings(fake_llm: FakeOpenAI) -> None:
    provider = get_provider()
    assert isinstance(provider, OpenAICompatibleProvider)
    items = await drain(provider.stream(chat_request()))
    assert text_of(items) == fake_llm.behaviour.reply
    assert fake_llm.requests[0].headers["authorization"] == "Bearer test-key"


# --- streaming --------------------------------------------------------------------------------


async def test_stream_yields_text_then_one_usage(fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply="불안한 마음이 드셨군요. 언제부터 그러셨나요?", chunk_size=3)
    items = await drain(get_provider().stream(chat_request()))

    accepted, *deltas, usage = items
    assert accepted == Accepted()  # the upstream took the request before any text
    assert all(isinstance(item, TextDelta) for item in deltas)
    assert len(deltas) > 1  # streamed, not one blob
    assert text_of(items) == "불안한 마음이 드셨군요. 언제부터 그러셨나요?"
    assert usage == Usage(model="fake-model", prompt_tokens=(len("따뜻한 상담사입니다.") + len("요즘 잠을 잘 못 자요.")) // 2,
                          completion_tokens=len("불안한 마음이 드셨군요. 언제부터 그러셨나요?") // 2)


async def test_stream_without_upstream_usage_still_ends_with_usage(fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(usage=False)
    items = await drain(get_provider().stream(chat_request()))
    assert items[-1] == Usage(model="gpt-test")
    assert text_of(items) == fake_llm.behaviour.reply


async def test_exact_request_params_sent_upstream(fake_llm: FakeOpenAI) -> None:
    await drain(get_provider().stream(chat_request(temperature=0.7, top_p=0.8, max_tokens=1024)))

    (sent,) = fake_llm.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "따뜻한 상담사입니다."},
            {"role": "user", "content": "요즘 잠을 잘 못 자요."},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.7,
        "top_p": 0.8,
        "max_tokens": 1024,
    }


async def test_unset_generation_params_are_left_to_the_upstream(fake_llm: FakeOpenAI) -> None:
    await drain(get_provider().stream(chat_request(temperature=None, top_p=None, max_tokens=None)))
    body = fake_llm.requests[0].body
    assert not {"temperature", "top_p", "max_tokens"} & body.keys()


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [Behaviour(fault="timeout"), Behaviour(ttft=5)], ids=["no-headers", "no-first-token"])
async def test_read_timeout_is_llm_timeout(fake_llm: FakeOpenAI, settings: Any, behaviour: Behaviour) -> None:
    settings.LLM_READ_TIMEOUT = 0.3
    reset_providers()
    fake_llm.behaviour = behaviour

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()))

    assert caught.value.code == LLMError.TIMEOUT
    assert not caught.value.permanent
    assert (await finished(fake_llm)).client_disconnected


@pytest.mark.parametrize("fault", ["429", "500"])
async def test_upstream_busy_or_broken_is_unavailable(fake_llm: FakeOpenAI, fault: str) -> None:
    fake_llm.behaviour = Behaviour(fault=fault)
    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()))

    assert caught.value.code == LLMError.UNAVAILABLE
    assert not caught.value.permanent
    assert len(fake_llm.requests) == 1  # LLM_MAX_RETRIES is 0 here
    if fault == "429":
        assert caught.value.retry_after == 1.0


async def test_unreachable_upstream_is_unavailable_not_a_timeout(fake_llm: FakeOpenAI) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await stream_failure(provider_for(fake_llm, base_url=f"http://127.0.0.1:{port}/v1"))

    assert error.code == LLMError.UNAVAILABLE
    assert error.detail == "upstream unreachable"
    assert not error.permanent


async def test_provider_close_ends_this_loops_provider(fake_llm: FakeOpenAI) -> None:
    provider = get_provider()
    await provider.complete(chat_request())
    await provider_close()

    with pytest.raises(LLMError):  # its connections are gone
        await provider.complete(chat_request())
    fresh = get_provider()
    assert fresh is not provider
    assert (await fresh.complete(chat_request())).text


async def test_retries_before_the_first_token(fake_llm: FakeOpenAI, settings: Any, caplog: Any) -> None:
    settings.LLM_MAX_RETRIES = 2
    reset_providers()
    fake_llm.queue(Behaviour(fault="500"), Behaviour())

    with caplog.at_level(logging.WARNING, logger="conversations.llm.openai_provider"):
        items = await drain(get_provider().stream(chat_request()))

    assert text_of(items) == Behaviour().reply
    assert len(fake_llm.requests) == 2
    assert "llm retry 1 after LLM_UNAVAILABLE" in caplog.text


async def test_gives_up_after_max_retries(fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.LLM_MAX_RETRIES = 1
    reset_providers()
    fake_llm.queue(Behaviour(fault="500"), Behaviour(fault="500"), Behaviour())

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()))

    assert caught.value.code == LLMError.UNAVAILABLE
    assert len(fake_llm.requests) == 2


async def test_client_error_is_permanent_and_not_retried(fake_llm: FakeOpenAI, http_paths: list[str]) -> None:
    error = await stream_failure(provider_for(fake_llm, base_url=fake_llm.base_url + "/missing", max_retries=2))

    assert error.code == LLMError.UNAVAILABLE
    assert error.permanent
    assert http_paths == ["/v1/missing/chat/completions"]


async def test_drop_mid_stream_is_streaming_error_without_retry(fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.LLM_MAX_RETRIES = 2
    reset_providers()
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, fault="drop", fault_after=3)
    items: list[StreamItem] = []

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()), into=items)

    assert caught.value.code == LLMError.STREAMING
    assert text_of(items) == LONG_REPLY[:6]  # what came before the drop reached the caller
    assert len(fake_llm.requests) == 1


async def test_malformed_chunk_is_streaming_error(fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=4, fault="malformed", fault_after=2)
    items: list[StreamItem] = []

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()), into=items)

    assert caught.value.code == LLMError.STREAMING
    assert text_of(items) == LONG_REPLY[:8]


async def test_total_timeout_ends_a_slow_drip(fake_llm: FakeOpenAI, settings: Any) -> None:
    # Every chunk arrives well within the read timeout; only the total limit can stop it.
    settings.LLM_TOTAL_TIMEOUT = 0.5
    reset_providers()
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.1)
    items: list[StreamItem] = []

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()), into=items)

    assert caught.value.code == LLMError.TIMEOUT
    assert 0 < len(text_of(items)) < len(LONG_REPLY)
    rec = await finished(fake_llm)
    assert rec.client_disconnected


async def test_total_timeout_also_bounds_the_first_token(fake_llm: FakeOpenAI, settings: Any) -> None:
    settings.LLM_TOTAL_TIMEOUT = 0.3
    settings.LLM_READ_TIMEOUT = 5.0
    reset_providers()
    fake_llm.behaviour = Behaviour(ttft=3)

    with pytest.raises(LLMError) as caught:
        await drain(get_provider().stream(chat_request()))

    assert caught.value.code == LLMError.TIMEOUT
    assert (await finished(fake_llm)).client_disconnected


# --- stopping early closes the upstream ---------------------------------------------------------


async def test_cancelling_the_consumer_closes_the_upstream(fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.1)
    items = await cancel_after_first(get_provider().stream(chat_request()))

    rec = await finished(fake_llm)
    assert rec.client_disconnected
    assert rec.chunks_sent <= 4  # stopped at once, not after the whole reply
    assert len(text_of(items)) < len(LONG_REPLY)


async def test_break_and_aclose_close_the_upstream(fake_llm: FakeOpenAI) -> None:
    fake_llm.behaviour = Behaviour(reply=LONG_REPLY, chunk_size=2, delay=0.1)
    stream = get_provider().stream(chat_request())

    assert await anext(stream) == Accepted()
    async for item in stream:
        assert isinstance(item, TextDelta)
        break
    await stream.aclose()  # type: ignore[attr-defined]

    rec = await finished(fake_llm)
    assert rec.client_disconnected
    assert rec.chunks_sent <= 3


# --- moderation --------------------------------------------------------------------------------


async def test_moderation_follows_the_endpoint(fake_llm: FakeOpenAI) -> None:
    fake_llm.flag_words = ["죽고 싶"]
    provider = provider_for(fake_llm, moderation_model="m")
    try:
        assert await provider.moderate("요즘은 정말 죽고 싶어요") is True
        assert await provider.moderate("오늘 날씨가 좋네요") is False
    finally:
        await provider.aclose()

    sent = [r for r in fake_llm.requests if r.path == "/v1/moderations"]
    assert [r.body for r in sent] == [
        {"model": "m", "input": "요즘은 정말 죽고 싶어요"},
        {"model": "m", "input": "오늘 날씨가 좋네요"},
    ]


async def test_moderation_fails_open_and_logs(fake_llm: FakeOpenAI, caplog: Any) -> None:
    provider = provider_for(fake_llm, base_url=fake_llm.base_url + "/missing", moderation_model="m")
    try:
        with caplog.at_level(logging.WARNING, logger="conversations.llm.openai_provider"):
            assert await provider.moderate("요즘은 정말 죽고 싶어요") is False
    finally:
        await provider.aclose()
    assert "moderation unavailable: NotFoundError" in caplog.text
    assert "죽고" not in caplog.text  # the user's words never reach the log


async def test_without_moderation_model_nothing_is_sent(fake_llm: FakeOpenAI, http_paths: list[str]) -> None:
    fake_llm.flag_words = ["죽고 싶"]
    provider = provider_for(fake_llm)
    try:
        assert await provider.moderate("요즘은 정말 죽고 싶어요") is False
    finally:
        await provider.aclose()
    assert http_paths == []


# --- offline provider ---------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


async def offline_reply(provider: LLMProvider, *, text: str, emotion: str | None) -> tuple[str, Usage]:
    items = await drain(provider.stream(chat_request(text=text, context={"emotion": emotion})))
    usage = items[-1]
    assert isinstance(usage, Usage)
    assert items[0] == Accepted()
    assert all(isinstance(item, TextDelta) for item in items[1:-1])
    return text_of(items), usage


async def test_offline_unknown_product_is_a_permanent_error() -> None:
    with pytest.raises(LLMError) as caught:
        await drain(OfflineProvider().stream(chat_request(product="no-such-product")))
    assert caught.value.permanent


async def test_offline_counseling_reply_is_deterministic_and_emotion_aware() -> None:
    provider = OfflineProvider()
    text = "요즘 잠을 잘 못 자서 너무 피곤해요"

    anxious, usage = await offline_reply(provider, text=text, emotion="anxious")
    again, _ = await offline_reply(provider, text=text, emotion="anxious")
    sad, _ = await offline_reply(provider, text=text, emotion="sad")

    assert anxious == again
    assert anxious != sad
    assert usage.model == OFFLINE_MODEL
    assert usage.prompt_tokens and usage.completion_tokens
    for reply in (anxious, sad):
        assert re.search(r"[가-힣]", reply)
        assert "?" in reply
        assert 2 <= len(sentences(reply)) <= 3, reply


async def test_offline_reply_streams_in_several_pieces() -> None:
    items = await drain(OfflineProvider().stream(chat_request(context={"emotion": "sad"})))
    assert len([item for item in items if isinstance(item, TextDelta)]) > 3


async def test_offline_reply_is_two_or_three_sentences_for_every_emotion() -> None:
    provider = OfflineProvider()
    too_long = []
    for text in ("상사가 너무 싫어요", "시험을 망쳤어요", "오늘은 그냥 그래요"):
        for emotion in ("anxious", "sad", "angry", "happy", "neutral", "fearful", "disgusted", "surprised", None):
            reply, _ = await offline_reply(provider, text=text, emotion=emotion)
            if not 2 <= len(sentences(reply)) <= 3:
                too_long.append(reply)
    assert too_long == []


async def test_complete_collects_the_reply_and_asks_for_json(fake_llm: FakeOpenAI) -> None:
    fake_llm.queue(Behaviour(reply='{"level": "none"}', chunk_size=3))
    request = ChatRequest(product="counseling", model="gpt-test", messages=(ChatMessage("user", "분류해 주세요"),),
                          json_mode=True)

    completion = await get_provider().complete(request)

    assert completion.text == '{"level": "none"}'
    assert completion.usage.model == "fake-model"
    assert fake_llm.requests[0].body["response_format"] == {"type": "json_object"}


async def test_fake_routes_a_request_by_a_marker_in_its_messages(fake_llm: FakeOpenAI) -> None:
    fake_llm.route("[risk]", Behaviour(reply="routed"))
    fake_llm.queue(Behaviour(reply="queued"))

    routed = await get_provider().complete(chat_request(text="[risk] 분류해 주세요"))
    queued = await get_provider().complete(chat_request())

    assert (routed.text, queued.text) == ("routed", "queued")
