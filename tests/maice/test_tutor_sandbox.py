"""Computations are bounded: no code runs from the question, huge work is refused or killed."""

from __future__ import annotations

import os
import time

import pytest

from maice.tutor.compose import compute
from maice.tutor.mathexpr import to_parsable
from maice.tutor.sandbox import POOL_SIZE, ComputationFailed, ComputationTimeout, run_bounded
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


MARKER = {"value": 1}


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _fail() -> None:
    raise NotComputable("no")


def _mutate() -> int:
    MARKER["value"] = 2
    return os.getpid()


def test_a_computation_past_its_deadline_is_killed_and_its_worker_replaced() -> None:
    worker = run_bounded(_sleep, 0, timeout=5)  # idle workers are reused last-in first-out
    started = time.monotonic()
    with pytest.raises(ComputationTimeout):
        run_bounded(_sleep, 30, timeout=0.5)
    assert time.monotonic() - started < 2
    with pytest.raises(ProcessLookupError):  # the worker that overran is gone
        os.kill(worker, 0)
    assert run_bounded(_sleep, 0, timeout=5) not in (worker, os.getpid())  # a fresh one answers


def test_workers_are_reused_and_run_side_by_side() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pids = {run_bounded(_sleep, 0, timeout=5) for _ in range(5)}
    assert os.getpid() not in pids and len(pids) <= POOL_SIZE  # reused, not forked per call
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run_bounded(_sleep, 0.2, timeout=5), range(4)))
    assert all(pid > 0 for pid in results)


def test_a_failing_computation_reports_its_error_kind() -> None:
    with pytest.raises(ComputationFailed) as caught:
        run_bounded(_fail, timeout=5)
    assert caught.value.kind == "NotComputable"


def test_the_child_cannot_touch_the_parent() -> None:
    child_pid = run_bounded(_mutate, timeout=5)
    assert child_pid != os.getpid() and MARKER["value"] == 1


def test_work_runs_inside_the_sandbox_and_returns_plain_strings() -> None:
    result = compute("x^2-5x+6=0을 풀어줘")
    assert result is not None and result["result"] == "x = 2, x = 3"
    assert all(isinstance(v, str) for k, v in result.items() if k != "concepts")
    assert work("x^2-5x+6=0을 풀어줘") is not None  # also usable in-process (tests, warm-up)
