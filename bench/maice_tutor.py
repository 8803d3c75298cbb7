"""How long the offline MAICE tutor takes per step (printed figures, not a test).

    .venv/bin/python -m bench.maice_tutor [--rounds 5] [--threads 8]

Baselines measured in the same run: one Kiwi tokenization (what classification adds to
regular expressions) and one sandbox round trip of an empty function (the pipe to a warm
worker process that every computed answer pays on top of SymPy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def _figures(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{name:42} n={len(ordered):4}  p50 {statistics.median(ordered) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms")


def _nothing() -> None:
    """The sandbox baseline's task (module level: it is sent to the worker by reference)."""


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from conversations.llm import ChatRequest
    from maice.tutor import classify_question, respond
    from maice.tutor.morph import _load
    from maice.tutor.sandbox import run_bounded
    from tests.maice.test_tutor_classify import TABLE
    from tests.maice.test_tutor_worked import TABLE as WORKED

    started = time.perf_counter()
    kiwi = _load()
    print(f"Kiwi load (once per process): {(time.perf_counter() - started) * 1000:.0f} ms")
    questions = [row[0] for row in TABLE]
    computed = [row[0] for row in WORKED]

    def answer(question: str) -> str:
        return respond(ChatRequest(product="maice", messages=(), model="m",
                                   context={"step": "answer", "question": question, "classification": None,
                                            "mode": "freepass", "history": []}))

    answer(computed[0])  # SymPy import and warm-up
    _figures("baseline: Kiwi tokenize", [_timed(lambda q=q: kiwi.tokenize(q)) for q in questions * args.rounds])
    _figures("baseline: sandbox round trip (empty fn)", [_timed(lambda: run_bounded(_nothing, timeout=5))
                                                        for _ in range(20 * args.rounds)])
    _figures("classify step", [_timed(lambda q=q: classify_question(q)) for q in questions * args.rounds])
    _figures("answer step, computed (sequential)", [_timed(lambda q=q: answer(q)) for q in computed * args.rounds])
    _figures("answer step, no expression (sequential)",
             [_timed(lambda q=q: answer(q)) for q in questions * args.rounds if not any(c.isdigit() for c in q)])
    with ThreadPoolExecutor(args.threads) as pool:
        timings = list(pool.map(lambda q: _timed(lambda: answer(q)), computed * args.rounds))
    _figures(f"answer step, computed ({args.threads} threads)", timings)


if __name__ == "__main__":
    main()
