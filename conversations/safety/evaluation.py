"""Scoring the screener against the labelled set ``eval.jsonl`` (used by its test and bench).

Recall of an urgent level counts a statement as caught when the screener returns any
urgent level (each gets the same crisis reply and alert); recall of passive and active
ideation when it returns an at-risk level. A false alarm is an idiom, mention, third-party
or ordinary statement treated as the user being at risk.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conversations.safety.levels import Level, Urgency
from conversations.safety.screen import assess

EVAL_SET = Path(__file__).with_name("eval.jsonl")
NOT_AT_RISK = frozenset({Level.NONE, Level.IDIOM, Level.MENTION, Level.THIRD_PARTY})


@dataclass(frozen=True)
class Case:
    text: str
    level: Level
    kind: str
    context: tuple[str, ...] = ()


@dataclass
class Report:
    total: int = 0
    caught: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    exact: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[Level, int] = field(default_factory=lambda: defaultdict(int))
    false_alarms: int = 0
    benign: int = 0
    misses: list[tuple[Case, Level]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def recall(self, level: Level) -> float:
        return self.caught[level] / self.counts[level] if self.counts[level] else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.benign if self.benign else 0.0


def cases_load(path: Path = EVAL_SET) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(r["text"], Level(r["level"]), r["kind"], tuple(r.get("context", ()))) for r in rows]


def _caught(expected: Level, got: Level) -> bool:
    if expected.urgency == Urgency.URGENT:
        return got.urgency == Urgency.URGENT
    if expected.at_risk:
        return got.at_risk
    if expected in NOT_AT_RISK:
        return not got.at_risk
    return got == expected  # history, violence, abuse: their own path


def evaluate(cases: list[Case]) -> Report:
    report = Report()
    for case in cases:
        started = time.perf_counter()
        got = assess(case.text, previous=case.context).level
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        report.total += 1
        report.counts[case.level] += 1
        report.exact[case.level] += got == case.level
        if _caught(case.level, got):
            report.caught[case.level] += 1
        else:
            report.misses.append((case, got))
        if case.level in NOT_AT_RISK:
            report.benign += 1
            report.false_alarms += got.at_risk
    return report
