"""The offline tutor's reading of a question stays quick on any input the API accepts.

Its patterns run on the question as typed (up to MAICE_QUESTION_MAX_CHARS); Python's `re`
holds the GIL, so one slow match stalls every stream of the process, not only its own.
"""

from __future__ import annotations

import time

import pytest

from maice.tutor.mathexpr import MAX_QUESTION_CHARS, analyze

N = MAX_QUESTION_CHARS
HOSTILE = {
    "a letter, then blanks": "x" + " " * (N - 2) + "?",  # was minutes: chained \s* backtracking
    "integral signs": "∫" * N,
    "one long number": "1" * N,
    "dotted digits": "1." * (N // 2),
    "blank lines": "x" + " \n" * (N // 2),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_question_is_read_in_well_under_a_second(text: str) -> None:
    analyze("x^2")  # (imports and compiled patterns out of the way)
    started = time.perf_counter()
    analyze(text)
    assert time.perf_counter() - started < 2.0  # (was 2-160 s; now tens of milliseconds)


def test_collapsing_blanks_keeps_what_the_question_says() -> None:
    spaced = analyze("x      가   2  로    갈 때  (x^2 - 4)/(x - 2)  의 극한")
    assert spaced.approach == analyze("x 가 2 로 갈 때 (x^2 - 4)/(x - 2) 의 극한").approach
    assert spaced.approach is not None
