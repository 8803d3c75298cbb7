"""Chunk coalescing: first text at once, then at most one flush per interval, nothing lost."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from conversations.llm import LLMError, StreamItem, TextDelta, Usage
from conversations.streaming import coalesce
from tests.streams import cancel_after_first

INTERVAL = 0.05
USAGE = Usage(model="fake-model", prompt_tokens=3, completion_tokens=5)


async def scripted(script: list[tuple[float, StreamItem | Exception]], log: list[str]) -> AsyncIterator[StreamItem]:
    """Yields each item after its pause; logs when it finishes, however it finishes."""
    try:
        for pause, item in script:
            if pause:
                await asyncio.sleep(pause)
            if isinstance(item, Exception):
                raise item
            yield item
        log.append("exhausted")
    finally:
        log.append("closed")


def texts(*parts: str) -> list[tuple[float, StreamItem | Exception]]:
    return [(0.0, TextDelta(p)) for p in parts]


async def collect(stream: AsyncIterator[StreamItem]) -> list[StreamItem]:
    return [item async for item in stream]


def text_groups(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextDelta)]


async def test_first_text_goes_out_without_waiting_for_the_interval() -> None:
    log: list[str] = []
    # A long interval and a silent upstream: only an immediate first flush gets "안녕" out in time.
    out = coalesce(scripted([(0.0, TextDelta("안녕")), (30.0, TextDelta("하세요"))], log), interval=30.0)
    try:
        first = await asyncio.wait_for(anext(out), timeout=2.0)
    finally:
        await out.aclose()
    assert first == TextDelta("안녕")
    assert log == ["closed"]


async def test_later_deltas_are_merged_within_an_interval() -> None:
    log: list[str] = []
    script = [*texts("지금", " 많이", " 힘드", "시죠"), (0.3, TextDelta(".")), (0.0, USAGE)]
    items = await collect(coalesce(scripted(script, log), interval=INTERVAL))

    # The burst after the first flush arrives within one interval and goes out as one chunk;
    # "." comes after a long pause, so it is flushed on arrival.
    assert text_groups(items) == ["지금", " 많이 힘드시죠", "."]
    assert items[-1] == USAGE
    assert log == ["exhausted", "closed"]


async def test_pending_text_is_flushed_when_the_interval_ends_even_if_upstream_is_silent() -> None:
    log: list[str] = []
    script = [*texts("첫", "두", "번째"), (30.0, TextDelta("끝"))]
    out = coalesce(scripted(script, log), interval=INTERVAL)
    try:
        first = await asyncio.wait_for(anext(out), timeout=2.0)
        second = await asyncio.wait_for(anext(out), timeout=2.0)
    finally:
        await out.aclose()
    assert (first, second) == (TextDelta("첫"), TextDelta("두번째"))


async def test_usage_passes_through_after_pending_text_is_flushed() -> None:
    log: list[str] = []
    items = await collect(coalesce(scripted([*texts("하나", "둘", "셋"), (0.0, USAGE)], log), interval=30.0))
    # With a long interval only the first text and the end of the stream can flush.
    assert items == [TextDelta("하나"), TextDelta("둘셋"), USAGE]


async def test_trailing_text_is_flushed_when_the_stream_ends() -> None:
    items = await collect(coalesce(scripted(texts("가", "나", "다"), []), interval=30.0))
    assert items == [TextDelta("가"), TextDelta("나다")]


async def test_text_is_preserved_exactly_across_any_grouping() -> None:
    rng = random.Random(7)
    reply = "스트레스를 받고 계시는군요.\n  무엇이 가장 😮 힘드셨나요? 🙂 (천천히)  "
    pieces, i = [], 0
    while i < len(reply):
        step = rng.randint(1, 4)
        pieces.append(reply[i : i + step])
        i += step
    script: list[tuple[float, StreamItem | Exception]] = [
        (rng.choice([0.0, 0.0, 0.01, 0.03, 0.07]), TextDelta(p)) for p in pieces
    ]
    items = await collect(coalesce(scripted([*script, (0.0, USAGE)], []), interval=INTERVAL))

    assert "".join(text_groups(items)) == reply
    assert items[-1] == USAGE
    assert len(text_groups(items)) < len(pieces)  # some merging happened
    assert all(text_groups(items))  # no empty chunks


async def test_zero_interval_passes_every_delta_through() -> None:
    items = await collect(coalesce(scripted([*texts("a", "b", "c"), (0.0, USAGE)], []), interval=0))
    assert items == [TextDelta("a"), TextDelta("b"), TextDelta("c"), USAGE]


async def test_source_failure_delivers_pending_text_then_raises() -> None:
    log: list[str] = []
    script = [*texts("보내", "진 ", "부분"), (0.0, LLMError(LLMError.STREAMING, "dropped", permanent=False))]
    out = coalesce(scripted(script, log), interval=30.0)
    items: list[StreamItem] = []

    with pytest.raises(LLMError) as caught:
        async for item in out:
            items.append(item)

    assert caught.value.code == LLMError.STREAMING
    assert "".join(text_groups(items)) == "보내진 부분"
    assert log == ["closed"]


async def test_cancelling_the_consumer_closes_the_source() -> None:
    log: list[str] = []
    await cancel_after_first(coalesce(scripted([(0.0, TextDelta("시작")), (30.0, TextDelta("끝"))], log),
                                      interval=INTERVAL))

    assert log == ["closed"]


async def test_aclose_closes_the_source_mid_read() -> None:
    log: list[str] = []
    out = coalesce(scripted([*texts("하나", "둘"), (30.0, TextDelta("셋"))], log), interval=INTERVAL)

    async for item in out:
        assert item == TextDelta("하나")
        break
    await asyncio.wait_for(out.aclose(), timeout=2.0)

    assert log == ["closed"]
