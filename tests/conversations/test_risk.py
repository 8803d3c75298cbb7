from __future__ import annotations

import asyncio

from bench.ws_ttfc import CLASSIFIER_MARKER as BENCH_MARKER
from conversations.risk import CLASSIFIER_MARKER, RISK_PROMPT, input_screen


def test_the_benchmarks_upstream_recognises_the_classifiers_requests() -> None:
    # The load benchmarks answer the classifier as a classifier, and leave its requests
    # out of the reply's timing, by this marker.
    assert BENCH_MARKER == CLASSIFIER_MARKER
    assert RISK_PROMPT.startswith(CLASSIFIER_MARKER)


async def test_screening_a_long_message_leaves_the_event_loop_to_other_streams() -> None:
    # Unspaced Hangul is Kiwi's slowest input: a few hundred milliseconds at the length limit,
    # during which every other stream of the process would otherwise stand still.
    ticks = 0

    async def other_stream() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    ticker = asyncio.create_task(other_stream())
    try:
        screening = await input_screen("가" * 4000 + " 죽고 싶어요")
    finally:
        ticker.cancel()
    assert screening.flagged
    assert ticks >= 5
