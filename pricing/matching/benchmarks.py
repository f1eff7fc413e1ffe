"""Scoring the pairwise decision on public labelled pairs (DeepMatcher/Magellan benchmarks).

The files hold the benchmark's own pre-processed text (see ../shared/realdata/matching/README.md).
The IDF comes from the unlabelled records of the file itself; the thresholds are
:class:`~pricing.matching.pairwise.Thresholds` defaults. Labels are read only to count hits.
Prices are loaded by nobody here: they must not decide a match.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz

from pricing.matching.attributes import Profile, profile
from pricing.matching.pairwise import Idf, Thresholds, decide

REALDATA_ENV = "PRICEWATCH_REALDATA"
BENCHMARKS = {
    "ag": ("amazon_google_test.tsv", 69.3),  # file, DeepMatcher's published F1
    "wa": ("walmart_amazon_test.tsv", 67.6),
}


def realdata_dir() -> Path:
    """Where the matching benchmarks live: $PRICEWATCH_REALDATA/matching or ../shared/realdata."""
    base = os.environ.get(REALDATA_ENV)
    if base:
        return Path(base) / "matching"
    here = Path(__file__).resolve().parents[2]
    return here.parent / "shared" / "realdata" / "matching"


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    pairs: int

    @classmethod
    def of(cls, labels: pd.Series, predicted: pd.Series) -> Scores:
        y, p = labels.astype(bool), predicted.astype(bool)
        tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1, len(y))


def load_pairs(path: Path) -> tuple[pd.DataFrame, list[Profile], list[Profile]]:
    """The labelled pairs and a profile per side (title, brand/manufacturer, model number)."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)

    def side(prefix: str) -> list[Profile]:
        brand = frame.get(f"{prefix}_brand", frame.get(f"{prefix}_manufacturer"))
        mpn = frame.get(f"{prefix}_modelno", pd.Series([""] * len(frame)))
        return [
            profile(t, b or None, mpn=m or None)
            for t, b, m in zip(frame[f"{prefix}_title"], brand, mpn, strict=True)
        ]

    return frame, side("left"), side("right")


def evaluate(path: Path, thresholds: Thresholds | None = None) -> dict[str, Scores]:
    """Precision/recall/F1 of the pairwise decision and of the rapidfuzz baseline."""
    frame, left, right = load_pairs(path)
    idf = Idf.from_profiles(left + right)
    decisions = [decide(a, b, idf, thresholds) for a, b in zip(left, right, strict=True)]
    labels = frame["label"].astype(int) == 1
    ours = pd.Series([d.is_match for d in decisions])
    baseline = pd.Series(
        [
            fuzz.token_set_ratio(a, b) >= 80
            for a, b in zip(frame["left_title"], frame["right_title"], strict=True)
        ]
    )
    return {"pairwise": Scores.of(labels, ours), "baseline": Scores.of(labels, baseline)}
