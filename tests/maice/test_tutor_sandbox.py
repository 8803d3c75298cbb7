"""Computations are bounded: no code runs from the question, huge work is refused or killed."""

from __future__ import annotations

import os
import time

import pytest

from maice.tutor.compose import compute
from maice.tutor.mathexpr import to_parsable
from maice.tutor.sandbox import ComputationFailed, ComputationTimeout, run_bounded
from maice.tutor.symbolic import NotComputable, parse
from maice.tutor.worked import work


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/pwned')", "x.__class__", "lambda: 1", "open('x')", "exec('1')",
    "[x for x in y]", "x; import os", "globals()", "{1: 2}", "x if y else z", "'a' * 3",
])
def test_text_that_is_not_maths_never_reaches_the_parser(text: str) -> None:
    assert to_parsable(text) is None


@pytest.mark.parametrize("text", ["10 ^ 100 ^ 100", "( x + 1 ) ^ 100000", "1000 !", "9 ^ 9 ^ 9 ^ 9"])
def test_huge_expressions_are_refused_before_evaluation(text: str) -> None:
    with pytest.raises(NotComputable):
        parse(text)


def test_a_huge_expansion_question_gets_no_result_but_no_hang() -> None:
    started = time.monotonic()
    assert compute("(x+1)^100000 전개해줘") is None
    assert compute("10^10^10 계산") is None
    assert time.monotonic() - started < 10


def test_a_computation_past_its_deadline_is_killed() -> None:
    with pytest.raises(ComputationTimeout):
        run_bounded(lambda: time.sleep(30), timeout=0.5)


def test_a_failing_computation_reports_its_error_kind() -> None:
    def fail() -> None:
        raise NotComputable("no")

    with pytest.raises(ComputationFailed) as caught:
        run_bounded(fail, timeout=5)
    assert caught.value.kind == "NotComputable"


def test_the_child_cannot_touch_the_parent() -> None:
    marker = {"value": 1}

    def mutate() -> int:
        marker["value"] = 2
        return os.getpid()

    child_pid = run_bounded(mutate, timeout=5)
    assert child_pid != os.getpid() and marker["value"] == 1


def test_work_runs_inside_the_sandbox_and_returns_plain_strings() -> None:
    result = compute("x^2-5x+6=0을 풀어줘")
    assert result is not None and result["result"] == "x = 2, x = 3"
    assert all(isinstance(v, str) for k, v in result.items() if k != "concepts")
    assert work("x^2-5x+6=0을 풀어줘") is not None  # also usable in-process (tests, warm-up)
