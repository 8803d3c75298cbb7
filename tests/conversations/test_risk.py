from __future__ import annotations

from bench.ws_ttfc import CLASSIFIER_MARKER as BENCH_MARKER
from conversations.risk import CLASSIFIER_MARKER, RISK_PROMPT


def test_the_benchmarks_upstream_recognises_the_classifiers_requests() -> None:
    # The load benchmarks answer the classifier as a classifier, and leave its requests
    # out of the reply's timing, by this marker.
    assert BENCH_MARKER == CLASSIFIER_MARKER
    assert RISK_PROMPT.startswith(CLASSIFIER_MARKER)
