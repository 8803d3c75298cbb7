"""Crisis screener on the labelled set: recall per level, false alarms, latency.

    .venv/bin/python bench/crisis_eval.py [--rounds 5]

Latency is per message, after the analyser is warm: back to back over ``--rounds`` passes
of the set, and isolated (each message after ``--gap-ms`` of idle, as a server sees them:
caches have gone cold). The baseline is Kiwi's own analysis of the same messages in the
same run (the floor any morpheme-based screen pays).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversations.safety import URGENT_LEVELS, Level, assess, kiwi_warm
from conversations.safety.evaluation import cases_load, evaluate
from conversations.safety.kiwi import kiwi


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gap-ms", type=float, default=5.0, help="idle before each isolated message")
    args = parser.parse_args()
    started = time.perf_counter()
    kiwi_warm()
    print(f"analyser load + first call: {(time.perf_counter() - started) * 1000:.0f} ms")
    cases = cases_load()
    report = evaluate(cases)
    for _ in range(args.rounds - 1):
        report.latencies_ms += evaluate(cases).latencies_ms
    baseline = []
    for _ in range(args.rounds):
        for case in cases:
            t = time.perf_counter()
            kiwi().tokenize(case.text)
            baseline.append((time.perf_counter() - t) * 1000)
    isolated, isolated_baseline = [], []
    for case in cases:
        time.sleep(args.gap_ms / 1000)
        t = time.perf_counter()
        assess(case.text, previous=case.context)
        isolated.append((time.perf_counter() - t) * 1000)
        time.sleep(args.gap_ms / 1000)
        t = time.perf_counter()
        kiwi().tokenize(case.text)
        isolated_baseline.append((time.perf_counter() - t) * 1000)

    print(f"\n{report.total} statements\n")
    print(f"{'level':<12} {'n':>4} {'caught':>8} {'exact':>7}")
    for level in Level:
        n = report.counts[level]
        if n:
            mark = " (urgent)" if level in URGENT_LEVELS else ""
            print(f"{level.value:<12} {n:>4} {report.recall(level):>7.0%} {report.exact[level] / n:>7.0%}{mark}")
    print(f"\nfalse alarms on idioms, mentions, third-party and ordinary talk: "
          f"{report.false_alarms}/{report.benign} = {report.false_alarm_rate:.1%}")
    for name, values in (("screen, back to back", report.latencies_ms), ("  baseline: Kiwi only", baseline),
                         ("screen, isolated", isolated), ("  baseline: Kiwi only", isolated_baseline)):
        print(f"{name:<30} p50 {statistics.median(values):.3f} ms  p99 {_percentile(values, 0.99):.3f} ms")
    if report.misses:
        print("\nmissed:")
        for case, got in report.misses:
            print(f"  {case.level.value:<12} got {got.value:<12} {case.text}")


if __name__ == "__main__":
    main()
