"""Offline matching: our catalog CSV and a competitor offers CSV in, a matches CSV out.

For evaluation and for people trying Pricewatch on their own data: no store, no crawl. The
columns are fixed (see ``pricewatch match --help``); any may be empty except the key and the
title. Bad input is refused whole, every bad line named, before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pricing.matching.attributes import profile
from pricing.matching.matcher import Matcher
from pricing.matching.pairwise import Thresholds
from pricing.matching.siblings import SiblingGuard

OURS_COLUMNS = ("sku", "title", "brand", "gtin", "mpn", "category", "price")
THEIRS_COLUMNS = ("offer_id", "site", "title", "brand", "gtin", "mpn", "price", "currency", "url")
MATCHES_COLUMNS = ("sku", "offer_id", "confidence", "method", "status")
MAX_FIELD = 2000  # scraped titles are untrusted: bound what we hold


class OfflineInputError(ValueError):
    """A CSV that cannot be matched; ``problems`` lists "file:line: reason" strings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def read_table(path: Path, columns: tuple[str, ...], key: str) -> pd.DataFrame:
    """Read a CSV with the given columns (extra ones ignored), all as text.

    Line numbers in errors are file lines: the header is line 1.
    """
    problems: list[str] = []
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise OfflineInputError([f"{path}: cannot read CSV: {exc}"]) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in (key, "title") if c not in frame.columns]
    if missing:
        raise OfflineInputError([f"{path}:1: missing column(s) {', '.join(missing)}"])
    for c in columns:
        if c not in frame.columns:
            frame[c] = ""
    frame = frame[list(columns)].apply(lambda s: s.str.strip())
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        for c in (key, "title"):
            if not getattr(row, c):
                problems.append(f"{path}:{i}: {c} is empty")
        for c in columns:
            if len(getattr(row, c)) > MAX_FIELD:
                problems.append(f"{path}:{i}: {c} is longer than {MAX_FIELD} characters")
    dupes = frame[key][frame[key].duplicated() & (frame[key] != "")]
    for i in dupes.index:
        problems.append(f"{path}:{i + 2}: duplicate {key} {frame[key][i]!r}")
    if problems:
        raise OfflineInputError(problems)
    return frame


def match_frames(
    ours: pd.DataFrame, theirs: pd.DataFrame, thresholds: Thresholds | None = None
) -> pd.DataFrame:
    """The matches of ``theirs`` to ``ours``: one row per offer that reached the review band.

    ``theirs`` is taken as one shop's file, so its house-style words are learnt from it; it is
    also the market in which unknown sibling models are looked for."""
    catalog = [profile(r.title, r.brand, r.gtin, r.mpn) for r in ours.itertuples(index=False)]
    offers = [profile(r.title, r.brand, r.gtin, r.mpn) for r in theirs.itertuples(index=False)]
    matcher = Matcher(catalog, thresholds)
    proposals = matcher.propose(offers, idf=matcher.house_style(offers))
    market = list(zip(theirs["title"], theirs["brand"], theirs["gtin"], theirs["mpn"], strict=True))
    proposals = SiblingGuard.of(matcher).review(proposals, offers, lambda words: market)
    rows = [
        {
            "sku": ours["sku"].iat[p.product],
            "offer_id": theirs["offer_id"].iat[p.offer],
            "confidence": p.decision.confidence,
            "method": p.decision.method,
            "status": "accepted" if p.decision.is_match else "review",
        }
        for p in proposals
    ]
    return pd.DataFrame(rows, columns=list(MATCHES_COLUMNS))


def match_files(
    ours_path: Path, theirs_path: Path, out_path: Path, thresholds: Thresholds | None = None
) -> pd.DataFrame:
    """Validate both inputs fully, match, then write ``out_path`` (nothing written on error)."""
    problems: list[str] = []
    frames = []
    for path, columns, key in (
        (ours_path, OURS_COLUMNS, "sku"),
        (theirs_path, THEIRS_COLUMNS, "offer_id"),
    ):
        try:
            frames.append(read_table(path, columns, key))
        except OfflineInputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise OfflineInputError(problems)
    result = match_frames(frames[0], frames[1], thresholds)
    result.to_csv(out_path, index=False)
    return result
