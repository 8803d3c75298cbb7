"""The labelled evaluation set: the screener's targets, in CI."""

from __future__ import annotations

import pytest

from conversations.safety import URGENT_LEVELS, Level
from conversations.safety.evaluation import NOT_AT_RISK, cases_load, evaluate


@pytest.fixture(scope="module")
def report():
    return evaluate(cases_load())


def test_the_set_is_large_and_covers_every_category() -> None:
    cases = cases_load()
    assert len(cases) >= 300
    kinds = {case.kind for case in cases}
    assert {"direct", "slang", "spacing", "english", "mixed", "idiom", "third_party", "news", "negation",
            "history", "context", "issue"} <= kinds
    levels = {case.level for case in cases}
    assert URGENT_LEVELS | {Level.PASSIVE, Level.ACTIVE, Level.HISTORY, Level.THIRD_PARTY, Level.IDIOM} <= levels


@pytest.mark.parametrize("level", sorted(URGENT_LEVELS, key=lambda level: level.rank))
def test_every_urgent_statement_is_caught(report, level: Level) -> None:
    missed = [case.text for case, got in report.misses if case.level == level]
    assert report.recall(level) == 1.0, missed


@pytest.mark.parametrize("level", [Level.PASSIVE, Level.ACTIVE])
def test_ideation_recall_is_at_least_95_percent(report, level: Level) -> None:
    assert report.recall(level) >= 0.95, [case.text for case, _ in report.misses if case.level == level]


def test_false_alarms_on_idioms_and_third_party_talk_stay_under_5_percent(report) -> None:
    assert report.false_alarm_rate <= 0.05, [
        (case.text, got.value) for case, got in report.misses if case.level in NOT_AT_RISK]


def test_history_is_flagged_for_review_not_treated_as_an_emergency(report) -> None:
    assert report.recall(Level.HISTORY) >= 0.9
