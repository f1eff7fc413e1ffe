"""The pairwise decision on public labelled benchmarks (DeepMatcher/Magellan test pairs).

Thresholds are the library defaults (fixed without these labels); the labels only score.
"""

from __future__ import annotations

import pytest

from pricing.matching.benchmarks import BENCHMARKS, evaluate, realdata_dir


@pytest.fixture(scope="module")
def results():
    base = realdata_dir()
    if not base.is_dir():
        pytest.fail(f"real-data benchmarks missing at {base}")
    return {k: evaluate(base / f) for k, (f, _) in BENCHMARKS.items()}


def test_walmart_amazon_beats_deepmatcher(results):
    assert results["wa"]["pairwise"].f1 * 100 > BENCHMARKS["wa"][1]


def test_both_beat_the_plain_fuzzy_baseline_by_far(results):
    for r in results.values():
        assert r["pairwise"].f1 > r["baseline"].f1 + 0.1
        assert r["pairwise"].recall > 0.75
