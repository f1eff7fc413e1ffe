"""One suggest run: read the store, evaluate every product, write suggestions, in that order.

Writing is one transaction: pending suggestions of every product this run decided (a new
proposal, or "the current price is right") are superseded; new suggestions are inserted;
those below ``settings.auto_approve_below_pct`` are stored as ``auto_approved`` with a
decisions row and an audit_log row each (set-based INSERT … SELECT, not a loop). A suggestion
where a floor or MAP overrode the maximum change is never auto-approved.

Margins are stored in percent of the price: ``(price - cost) / price * 100``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, String, cast, insert, literal, select

from pricing.rules.config import StrategyFile, load_strategies
from pricing.rules.evaluate import Evaluation, evaluate
from pricing.rules.inputs import load_inputs
from pricing.store.bulk import sink_for
from pricing.store.models import AuditLog, Decision, Suggestion, SuggestionStatus

ACTOR = "rules"


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


def suggestion_rows(ev: Evaluation, run_id: str, now: datetime, sf: StrategyFile) -> pd.DataFrame:
    """The suggestions table's columns, for the products whose outcome is 'suggest'."""
    s = ev.suggestions
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
    rows = pd.DataFrame(
        {
            "product_id": s.index.to_numpy(),
            "created_at": now,
            "suggest_run": run_id,
            "strategy": s["strategy"].to_numpy(dtype=object),
            "current_price": np.round(cur, 2),
            "proposed_price": np.round(new, 2),
            "currency": s["currency"].to_numpy(dtype=object),
            "change_pct": np.round(change, 3),
            "margin_before": np.round(before, 3),
            "margin_after": np.round(after, 3),
            "competitor_count": s["n_used"].to_numpy(dtype="int64"),
            "lowest_competitor": s["lowest_site"].astype(object).str.slice(0, 100).to_numpy(),
            "oldest_data_at": s["oldest_data_at"].array,
            "explanation": s["explanation"].to_numpy(dtype=object),
            "status": np.where(
                auto, SuggestionStatus.auto_approved.value, SuggestionStatus.pending.value
            ),
            "decided_at": np.where(auto, now, None),
        }
    )
    return rows


COLUMNS = (
    "product_id", "created_at", "suggest_run", "strategy", "current_price", "proposed_price",
    "currency", "change_pct", "margin_before", "margin_after", "competitor_count",
    "lowest_competitor", "oldest_data_at", "explanation", "status", "decided_at",
)


def _py(values) -> list:
    """Python values with None for NaN/NA (what drivers expect)."""
    return [None if v is None or v != v else v for v in np.asarray(values, dtype=object).tolist()]


def _stamps(sink, times: pd.Series) -> list:
    """Storage forms of a datetime column; vectorized when the sink stores ISO text."""
    present = times.notna().to_numpy()
    if not present.any():
        return [None] * len(times)
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ").astype(object)
    first = int(np.flatnonzero(present)[0])
    if sink.ts(times.iloc[first].to_pydatetime()) != text[first]:  # not a text-storing sink
        return [sink.ts(t.to_pydatetime()) if ok else None for t, ok in zip(times, present, strict=True)]
    return np.where(present, text, None).tolist()


def records(rows: pd.DataFrame) -> list[dict]:
    """The rows as dicts of Python values (for ORM or Core inserts)."""
    cols = {c: _py(rows[c]) for c in COLUMNS if c != "oldest_data_at"}
    cols["oldest_data_at"] = [
        t.to_pydatetime() if ok else None
        for t, ok in zip(rows["oldest_data_at"], rows["oldest_data_at"].notna(), strict=True)
    ]
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def _insert_rows(conn: Connection, rows: pd.DataFrame, now: datetime) -> None:
    """Bulk insert through the store's sink (driver executemany on SQLite, COPY on PostgreSQL)."""
    sink = sink_for(conn)
    stamp = sink.ts(now)
    auto = (rows["status"] == SuggestionStatus.auto_approved.value).to_numpy()
    cols = {c: _py(rows[c]) for c in COLUMNS if c not in ("created_at", "oldest_data_at", "decided_at")}
    cols["created_at"] = [stamp] * len(rows)
    cols["oldest_data_at"] = _stamps(sink, rows["oldest_data_at"])
    cols["decided_at"] = np.where(auto, stamp, None).tolist()
    for c in ("current_price", "proposed_price"):
        cols[c] = [None if v is None else sink.money(v) for v in cols[c]]
    data = list(zip(*(cols[c] for c in COLUMNS), strict=True))
    sink.insert(Suggestion.__table__, COLUMNS, data)


def write_suggestions(
    conn: Connection, rows: pd.DataFrame, decided: np.ndarray, run_id: str, now: datetime
) -> tuple[int, int]:
    """Supersede, insert, record auto-approvals. Returns (superseded, auto_approved)."""
    pending = conn.execute(
        select(Suggestion.id, Suggestion.product_id).where(
            Suggestion.status == SuggestionStatus.pending.value
        )
    ).all()
    decided_set = set(decided.tolist())
    stale_ids = [sid for sid, pid in pending if pid in decided_set]
    if stale_ids:
        sink = sink_for(conn)
        values = (SuggestionStatus.superseded.value, sink.ts(now))
        sink.update(Suggestion.__table__, ("status", "decided_at"), [(i, *values) for i in stale_ids])
        conn.execute(
            insert(AuditLog).values(
                at=now, actor=ACTOR, action="supersede", entity="suggestion",
                entity_id=run_id, count=len(stale_ids),
                details={"reason": f"replaced by suggest run {run_id}"},
            )
        )
    if len(rows):
        _insert_rows(conn, rows, now)
    auto = int((rows["status"] == SuggestionStatus.auto_approved.value).sum()) if len(rows) else 0
    if auto:
        mine = (Suggestion.suggest_run == run_id) & (
            Suggestion.status == SuggestionStatus.auto_approved.value
        )
        conn.execute(
            insert(Decision).from_select(
                ["suggestion_id", "decided_at", "action", "old_price", "new_price", "note"],
                select(
                    Suggestion.id, literal(now, Decision.decided_at.type), literal("auto_approve"),
                    Suggestion.current_price, Suggestion.proposed_price,
                    literal("change below the auto-approval threshold"),
                ).where(mine),
            )
        )
        conn.execute(
            insert(AuditLog).from_select(
                ["at", "actor", "action", "entity", "entity_id", "old_value", "new_value", "count"],
                select(
                    literal(now, AuditLog.at.type), literal(ACTOR), literal("auto_approve"),
                    literal("suggestion"), cast(Suggestion.id, String),
                    cast(Suggestion.current_price, String), cast(Suggestion.proposed_price, String),
                    literal(1),
                ).where(mine),
            )
        )
    return len(stale_ids), auto


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

    t0 = time.perf_counter()
    with_tags = any(s.applies_to.tags for s in sf.strategies)
    products, offers = load_inputs(engine, sf.settings.currency_rates, with_tags=with_tags)
    t1 = time.perf_counter()
    ev = evaluate(products, offers, sf, now)
    rows = suggestion_rows(ev, run_id, now, sf)
    t2 = time.perf_counter()
    outcome = ev.products["outcome"]
    decided = ev.products.index[outcome.isin(["suggest", "unchanged"])].to_numpy()
    if not dry_run:
        with engine.begin() as conn:
            report.superseded, report.auto_approved = write_suggestions(
                conn, rows, decided, run_id, now
            )
            conn.execute(
                insert(AuditLog).values(
                    at=now, actor=ACTOR, action="suggest_run", entity="suggest_run",
                    entity_id=run_id, count=len(rows),
                    details={"outcomes": outcome.value_counts().to_dict()},
                )
            )
    else:
        report.auto_approved = int((rows["status"] == SuggestionStatus.auto_approved.value).sum())
    t3 = time.perf_counter()

    report.products = len(products)
    report.suggested = len(rows)
    report.outcomes = {str(k): int(v) for k, v in outcome.value_counts().items()}
    report.by_strategy = {str(k): int(v) for k, v in rows["strategy"].value_counts().items()}
    report.timings = {"read_s": t1 - t0, "evaluate_s": t2 - t1, "write_s": t3 - t2}
    report.suggestions = rows
    return report
