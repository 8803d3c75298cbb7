"""Benchmark: quality and latency of the offline HS classifier.

A fixed, seeded 10% of the Korean product examples is held out; the index is built from
the nomenclature (English and Korean titles) and the other 90%, and every held-out
product name is classified. Printed: HS4 and HS6 top-1 and top-3 accuracy, latency per
classification (p50/p99) against a baseline measured in the same run (a bare Kiwi
tokenisation of the same text), and how the reported confidence tracks accuracy.

``--dev`` evaluates on a second seeded 10% carved out of the training part instead (the
hold-out is then not even in the index): retrieval weights were chosen there, so the
hold-out figures are not tuned on the hold-out.

    .venv/bin/python -m bench.hs_quality [--data ../shared/data/hs] [--dev] [--limit N]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
logging.getLogger("bm25s").setLevel(logging.WARNING)

from customs.hs.classifier import classify_offline, explain  # noqa: E402
from customs.hs.loading import parse_codes, parse_examples, parse_titles_ko  # noqa: E402
from customs.hs.models import Level  # noqa: E402
from customs.hs.retrieval import Entry, Example, HSIndex, analyzer  # noqa: E402

SEED = 20260101
# The project keeps no copy: the data sits beside the checkout (../shared/data/hs).
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hs"


def split(examples: list[Example], *, seed: int, fraction: float = 0.1) -> tuple[list[Example], list[Example]]:
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    cut = round(len(order) * fraction)
    held = sorted(order[:cut])
    rest = sorted(order[cut:])
    return [examples[i] for i in rest], [examples[i] for i in held]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dev", action="store_true", help="evaluate on the development split, not the hold-out")
    parser.add_argument("--limit", type=int, default=0, help="classify only the first N evaluation items")
    args = parser.parse_args()

    codes = parse_codes(args.data / "harmonized-system.csv")
    ko4 = parse_titles_ko(args.data / "hs4_ko.csv", Level.HEADING)
    ko6 = parse_titles_ko(args.data / "hs6_ko.csv", Level.SUBHEADING)
    headings = [Entry(r.code, r.title_en, ko4.get(r.code, "")) for r in codes if r.level == Level.HEADING]
    subheadings = [Entry(r.code, r.title_en, ko6.get(r.code, "")) for r in codes if r.level == Level.SUBHEADING]
    known6 = {e.code for e in subheadings}
    examples = [Example(name, code) for name, code in parse_examples(args.data / "ko_product_names.jsonl").values()
                if code[:6] in known6]
    train, evaluation = split(examples, seed=SEED)
    label = "hold-out"
    if args.dev:
        train, evaluation = split(train, seed=SEED + 1)
        label = "development split"
    held_names = {x.name for x in evaluation}
    train = [x for x in train if x.name not in held_names]  # the same name twice must not leak
    if args.limit:
        evaluation = evaluation[: args.limit]

    started = time.perf_counter()
    index = HSIndex(headings=headings, subheadings=subheadings, examples=train)
    build_s = time.perf_counter() - started
    titles = {e.code: e.title_ko or e.title_en for e in (*headings, *subheadings)}
    analyzer.analyze("워밍업")

    hits = {"hs4@1": 0, "hs4@3": 0, "hs6@1": 0, "hs6@3": 0}
    latencies, baseline = [], []
    buckets: dict[float, list[int]] = {}
    for item in evaluation:
        t0 = time.perf_counter()
        analyzer.analyze(item.name)
        baseline.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        result = classify_offline(index=index, description=item.name)
        if result.best is not None:
            explain(result=result, description=item.name, titles=titles)
        latencies.append((time.perf_counter() - t0) * 1000)
        hs6 = [c.hs6 for c in result.candidates]
        hs4 = list(dict.fromkeys(c[:4] for c in hs6))
        want6, want4 = item.hsk_code[:6], item.hsk_code[:4]
        hits["hs6@1"] += hs6[:1] == [want6]
        hits["hs6@3"] += want6 in hs6[:3]
        hits["hs4@1"] += hs4[:1] == [want4]
        hits["hs4@3"] += want4 in hs4[:3]
        bucket = min(0.9, int(result.confidence * 10) / 10)
        buckets.setdefault(bucket, []).append(int(hs6[:1] == [want6]))

    n = len(evaluation)
    print(f"HS classification quality ({label}: {n} of {len(examples)} examples, seed {SEED}; "
          f"index: {len(index)} subheadings, {len(train)} examples, built in {build_s:.1f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}")
    for key in ("hs4@1", "hs4@3", "hs6@1", "hs6@3"):
        print(f"  {key.replace('@', ' top-'):10s} {100 * hits[key] / n:5.1f}%")
    print(f"  latency per classification: p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms")
    print(f"  baseline (Kiwi tokenisation alone): p50 {statistics.median(baseline):.2f} ms, "
          f"p99 {percentile(baseline, 0.99):.2f} ms")
    print("  confidence vs HS6 top-1 accuracy:")
    for bucket in sorted(buckets):
        rows = buckets[bucket]
        accuracy = 100 * sum(rows) / len(rows)
        print(f"    {bucket:.1f}-{bucket + 0.1:.1f}: {len(rows):4d} items, accuracy {accuracy:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
