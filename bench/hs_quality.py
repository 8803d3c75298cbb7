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
from customs.hs.retrieval import Entry, Example, HSIndex  # noqa: E402
from customs.hs.text import analyzer  # noqa: E402

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
    parser.add_argument("--postgres", metavar="URL",
                        help="also rank the examples with PostgreSQL full-text search (a TEMP table in this "
                             "database) and compare it with bm25s on nearest-example votes alone")
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

    hits = {"hs4@1": 0, "hs4@3": 0, "hs6@1": 0, "hs6@3": 0, "hs4@20": 0}
    latencies, baseline = [], []
    buckets: dict[float, list[int]] = {}
    for item in evaluation:
        t0 = time.perf_counter()
        analyzer.analyze(item.name)
        baseline.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        result = classify_offline(index=index, description=item.name)
        if result.best is not None:
            explain(result=result, description=item.name, index=index, titles=titles)
        latencies.append((time.perf_counter() - t0) * 1000)
        hs6 = [c.hs6 for c in result.candidates]
        hs4 = list(dict.fromkeys(c[:4] for c in hs6))
        want6, want4 = item.hsk_code[:6], item.hsk_code[:4]
        hits["hs6@1"] += hs6[:1] == [want6]
        hits["hs6@3"] += want6 in hs6[:3]
        hits["hs4@1"] += hs4[:1] == [want4]
        hits["hs4@3"] += want4 in hs4[:3]
        hits["hs4@20"] += want4 in {c.hs4 for c in index.search(item.name, k=40)}
        bucket = min(0.9, int(result.confidence * 10) / 10)
        buckets.setdefault(bucket, []).append(int(hs6[:1] == [want6]))

    n = len(evaluation)
    print(f"HS classification quality ({label}: {n} of {len(examples)} examples, seed {SEED}; "
          f"index: {len(index)} subheadings, {len(train)} examples, built in {build_s:.1f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}")
    for key in ("hs4@1", "hs4@3", "hs6@1", "hs6@3"):
        print(f"  {key.replace('@', ' top-'):10s} {100 * hits[key] / n:5.1f}%")
    print(f"  (ceiling: the right heading is among the first 20 retrieved for {100 * hits['hs4@20'] / n:.1f}%)")
    print(f"  latency per classification: p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms")
    print(f"  baseline (Kiwi tokenisation alone): p50 {statistics.median(baseline):.2f} ms, "
          f"p99 {percentile(baseline, 0.99):.2f} ms")
    print("  confidence vs HS6 top-1 accuracy:")
    for bucket in sorted(buckets):
        rows = buckets[bucket]
        accuracy = 100 * sum(rows) / len(rows)
        print(f"    {bucket:.1f}-{bucket + 0.1:.1f}: {len(rows):4d} items, accuracy {accuracy:5.1f}%")
    if args.postgres:
        compare_postgres(args.postgres, index=index, train=train, evaluation=evaluation)
    return 0


def _votes_top1(ranked: list[int], train: list[Example]) -> str | None:
    votes: dict[str, float] = {}
    for rank, i in enumerate(ranked):
        votes[train[i].hsk_code[:4]] = votes.get(train[i].hsk_code[:4], 0.0) + 0.7 ** rank
    return max(votes, key=lambda h: votes[h]) if votes else None


def compare_postgres(url: str, *, index: HSIndex, train: list[Example], evaluation: list[Example]) -> None:
    """Nearest-example votes from bm25s and from PostgreSQL full text over the same Kiwi
    terms (``simple`` configuration, ``ts_rank``, GIN index), top-1 heading and latency."""
    import numpy as np
    import psycopg

    docs = analyzer.analyze_many([x.name for x in train])
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TEMP TABLE hs_bench_examples (id int PRIMARY KEY, terms tsvector)")
        with conn.cursor().copy("COPY hs_bench_examples (id, terms) FROM STDIN") as copy:
            for i, doc in enumerate(docs):
                copy.write_row((i, " ".join(f"'{t.replace(chr(39), '')}'" for t in doc if t.replace("'", ""))))
        conn.execute("CREATE INDEX ON hs_bench_examples USING gin (terms)")
        conn.execute("ANALYZE hs_bench_examples")
        results: dict[str, list[float]] = {"bm25s": [], "postgres": []}
        hits = {"bm25s": 0, "postgres": 0}
        for item in evaluation:
            terms = [t.replace("'", "") for t in analyzer.analyze(item.name) if t.replace("'", "")]
            if not terms:
                continue
            t0 = time.perf_counter()
            scores = index._examples.get_scores(terms) if index._examples is not None else np.zeros(0)
            ranked = [int(i) for i in np.argsort(-scores)[:20] if scores[i] > 0]
            results["bm25s"].append((time.perf_counter() - t0) * 1000)
            hits["bm25s"] += _votes_top1(ranked, train) == item.hsk_code[:4]
            query = " | ".join(f"'{t}'" for t in terms)
            t0 = time.perf_counter()
            rows = conn.execute(
                "SELECT id FROM hs_bench_examples, to_tsquery('simple', %s) q WHERE terms @@ q "
                "ORDER BY ts_rank(terms, q, 1) DESC LIMIT 20", (query,)).fetchall()
            results["postgres"].append((time.perf_counter() - t0) * 1000)
            hits["postgres"] += _votes_top1([r[0] for r in rows], train) == item.hsk_code[:4]
    n = len(evaluation)
    print("  nearest-example votes alone (same terms, top 20 examples):")
    for name in ("bm25s", "postgres"):
        print(f"    {name:9s} HS4 top-1 {100 * hits[name] / n:5.1f}%, ranking p50 "
              f"{statistics.median(results[name]):.2f} ms, p99 {percentile(results[name], 0.99):.2f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
