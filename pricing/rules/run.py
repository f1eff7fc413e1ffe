"""One suggest run: read the store, evaluate every product, write suggestions.

Writing is one transaction (writer.py), rolled back on any error. Pending
suggestions of every product this run decided (a new proposal, or "the current price is
right") are superseded. Those changing the price by less than
``settings.auto_approve_below_pct`` are stored as ``auto_approved`` with a decisions row and
an audit_log row each; a suggestion where a floor or MAP overrode the maximum change is never
auto-approved.

Margins are stored in percent of the price: ``(price - cost) / price * 100``.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from pricing.rules.config import StrategyFile, load_strategies
from pricing.rules.evaluate import evaluate
from pricing.rules.explain import cut_names
from pricing.rules.inputs import load_inputs
from pricing.rules.writer import ACTOR, COLUMNS, RunWriter
from pricing.store.bulk import write_transaction
from pricing.store.models import SuggestionStatus


@dataclass
class SuggestReport:
    run_id: str
    dry_run: bool
    products: int = 0
    suggested: int = 0
    auto_approved: int = 0
    superseded: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    by_strategy: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    suggestions: pd.DataFrame | None = None  # the rows written (or that would be)

    def summary(self) -> str:
        verb = "would suggest" if self.dry_run else "suggested"
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"run {self.run_id}: {self.products} products, {verb} {self.suggested} "
            f"({self.auto_approved} auto-approved), superseded {self.superseded}; {outcomes}"
        )


def _as_strategy_file(strategies: StrategyFile | str | Path | None) -> StrategyFile:
    if isinstance(strategies, StrategyFile):
        return strategies
    return load_strategies(strategies)


def cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the ADBC reader's)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def suggestion_rows(
    part: pd.DataFrame, run_id: str, now: datetime, sf: StrategyFile
) -> pd.DataFrame:
    """The suggestions table's columns, for the rows of ``part`` whose outcome is 'suggest'."""
    s = part[part["outcome"] == "suggest"]
    if not len(s):
        return pd.DataFrame(columns=list(COLUMNS))
    cur = s["current"].to_numpy(dtype="float64")
    new = s["final"].to_numpy(dtype="float64")
    cost = s["cost"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (new - cur) / cur * 100
        before = np.where(np.isnan(cost), np.nan, (cur - cost) / cur * 100)
        after = np.where(np.isnan(cost), np.nan, (new - cost) / new * 100)
    threshold = sf.settings.auto_approve_below_pct
    auto = np.zeros(len(s), dtype=bool)
    if threshold is not None:
        auto = (np.abs(change) < threshold) & ~s["override"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "product_id": s.index.to_numpy(),
            "suggest_run": run_id,
            "strategy": s["strategy"].to_numpy(dtype=object),
            "current_price": np.round(cur, 2),
            "proposed_price": np.round(new, 2),
            "currency": s["currency"].to_numpy(dtype=object),
            "change_pct": np.round(change, 3),
            "margin_before": np.round(before, 3),
            "margin_after": np.round(after, 3),
            "competitor_count": s["n_used"].to_numpy(dtype="int64"),
            "lowest_competitor": cut_names(s["lowest_site"], 100, np.nan),
            "oldest_data_at": s["oldest_data_at"].array,
            "explanation": s["explanation"].to_numpy(dtype=object),
            "status": np.where(
                auto, SuggestionStatus.auto_approved.value, SuggestionStatus.pending.value
            ),
            "created_at": now,
            # Typed even where no row is auto-approved, so batches concatenate to one dtype.
            "decided_at": pd.array(np.where(auto, now, None), dtype="datetime64[us, UTC]"),
        }
    )


def _counts(outcome: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in outcome.value_counts().items()}


def _in_product_order(batches: list[pd.DataFrame], order: pd.Index) -> pd.DataFrame:
    """The strategies' suggestion rows as one frame, in product order (as the products read)."""
    if not batches:
        return pd.DataFrame(columns=list(COLUMNS))
    rows = pd.concat(batches, ignore_index=True)
    pos = order.get_indexer(rows["product_id"].to_numpy())
    return rows.take(np.argsort(pos, kind="stable")).reset_index(drop=True)


def run_suggestions(
    engine: Engine,
    strategies: StrategyFile | str | Path | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> SuggestReport:
    """Evaluate every product and store suggestions (unless ``dry_run``).

    ``strategies``: a parsed file, a path, or None for the default file shipped here. A
    broken file raises :class:`~pricing.rules.config.StrategyError` before anything is read.
    """
    sf = _as_strategy_file(strategies)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    report = SuggestReport(run_id=run_id, dry_run=dry_run)

    # CPU seconds of the whole process (all threads, and the ADBC reader's child process) in
    # each phase too: wall times stretch when other work shares the machine, CPU times less.
    t0, c0 = time.perf_counter(), cpu_time()
    with_tags = any(s.applies_to.tags for s in sf.strategies)
    products, offers = load_inputs(engine, sf.settings.currency_rates, with_tags=with_tags)
    t1, c1 = time.perf_counter(), cpu_time()
    if dry_run:
        ev = evaluate(products, offers, sf, now)
        rows = suggestion_rows(ev.products, run_id, now, sf)
        t2 = t3 = time.perf_counter()
        c2 = c3 = cpu_time()
    else:
        # The write transaction opens now: each batch's rows are written while the next is
        # evaluated (writer.py); any error rolls all of it back.
        with write_transaction(engine) as sink:  # SQLite: FK checks off, writer checks once
            writer = RunWriter(sink, run_id, now)
            batches: list[pd.DataFrame] = []
            staging = 0.0  # this thread's share of the write, while evaluating

            def write(part: pd.DataFrame) -> None:
                nonlocal staging
                start = time.perf_counter()
                batch = suggestion_rows(part, run_id, now, sf)
                decided = part.index[part["outcome"].isin(["suggest", "unchanged"])]
                if len(batch):
                    batches.append(batch)
                writer.add(batch, decided.to_numpy())
                staging += time.perf_counter() - start

            failed = True
            try:
                ev = evaluate(products, offers, sf, now, on_batch=write, on_step=writer.poll)
                rows = _in_product_order(batches, products.index)
                t2, c2 = time.perf_counter(), cpu_time()
                counts = _counts(ev.products["outcome"])
                audit = dict(
                    at=now, actor=ACTOR, action="suggest_run", entity="suggest_run",
                    entity_id=run_id, count=len(rows), details={"outcomes": counts},
                )  # fmt: skip
                report.superseded, _ = writer.finish(audit)
                failed = False
            finally:
                writer.close(failed=failed)
        t3, c3 = time.perf_counter(), cpu_time()
        # evaluate_s is the evaluation alone; write_s the write's share of the run's time
        # (staging rows in this thread, then what was left after the evaluation);
        # write_overlapped_s the writer thread's time beside the evaluation.
        t2 -= staging
        report.timings["write_overlapped_s"] = writer.busy_s
    report.products = len(products)
    report.suggested = len(rows)
    report.auto_approved = int((rows["status"] == SuggestionStatus.auto_approved.value).sum())
    report.outcomes = _counts(ev.products["outcome"])
    report.by_strategy = {str(k): int(v) for k, v in rows["strategy"].value_counts().items()}
    report.timings.update(read_s=t1 - t0, evaluate_s=t2 - t1, write_s=t3 - t2)
    # evaluate_cpu_s: while evaluating, so with the staging and the writer thread's share.
    report.timings.update(read_cpu_s=c1 - c0, evaluate_cpu_s=c2 - c1, write_cpu_s=c3 - c2)
    report.suggestions = rows
    return report
