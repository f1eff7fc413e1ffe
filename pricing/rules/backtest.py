"""Backtest: replay stored history day by day and see what a strategy would have done.

For each of the last N days (at midnight UTC) every matched offer's state is taken
point-in-time from the change-only history (the state valid at that moment, from the view
offer_states; its age is counted from when it was last confirmed). A state first seen by a
broken crawl run is ignored, as in live runs. Our price starts at what it was on the first
day (product_price_changes, else today's price) and then follows the strategy: each day's
proposals are assumed approved, so the replay shows the dynamics, not one day in isolation.

Effects use constant-elasticity demand, units = q0 * (price / start price) ** e, with e from
analytics (SKU, else category, else settings.default_elasticity; products without one are
left out of the effect figures and counted) and q0 the product's average daily orders in
clicks_daily (1 where there is no click data: figures are then an index). The baseline keeps
the starting price.

Flags: *oscillation*, a price that changed direction at least twice; *price war*, at least
three cuts in a row whose last one was stopped only by the floor (or MAP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Float, cast, func, select

from pricing.rules.config import StrategyFile
from pricing.rules.cursor_columns import epoch, object_rows
from pricing.rules.evaluate import evaluate
from pricing.rules.inputs import (
    from_epoch,
    load_products,
    load_sites,
    offer_frame,
    prepare_offers,
    usable_offer_select,
)
from pricing.store.models import (
    ClickDaily,
    Match,
    ProductPriceChange,
)
from pricing.store.views import OfferState

OSCILLATION_REVERSALS = 2
WAR_CUTS = 3


@dataclass
class BacktestResult:
    strategy_file: str
    days: pd.DataFrame  # one row per day
    flags: pd.DataFrame  # product_id, sku, flag, detail
    totals: dict[str, float] = field(default_factory=dict)


def _history(
    engine: Engine, start: datetime, end: datetime, max_stale_h: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """States of usable matches that may be valid between start and end."""
    stmt = (
        usable_offer_select(
            price=OfferState.price,
            currency=OfferState.currency,
            suspect=OfferState.suspect,
            availability=OfferState.availability,
            run_id=OfferState.run_id,
            seen=OfferState.valid_to,
        )
        .add_columns(epoch(OfferState.valid_from))
        .join(OfferState, OfferState.offer_id == Match.offer_id)
        .where(
            OfferState.valid_from <= end,
            OfferState.valid_to >= start - timedelta(hours=max_stale_h),
        )
        .order_by(Match.offer_id, OfferState.valid_from)
    )
    with engine.connect() as conn:
        a = object_rows(conn, stmt)
        sites = load_sites(conn)
    return (
        offer_frame(a[:, :8], sites).assign(valid_from=from_epoch(a[:, 8])) if len(a) else None
    ), sites


def _state_at(history: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """Each offer's state valid at ``at``; its data time is when it was last confirmed."""
    seen = history[history["valid_from"] <= pd.Timestamp(at)]
    latest = seen.groupby("offer_id", sort=False).tail(1)
    confirmed = latest["data_at"].where(latest["data_at"] < pd.Timestamp(at), pd.Timestamp(at))
    return latest.assign(data_at=confirmed).drop(columns="valid_from")


def _start_prices(engine: Engine, products: pd.DataFrame, start: datetime) -> pd.Series:
    stmt = (
        select(ProductPriceChange.product_id, cast(ProductPriceChange.new_price, Float))
        .where(ProductPriceChange.changed_at <= start)
        .order_by(ProductPriceChange.product_id, ProductPriceChange.changed_at)
    )
    with engine.connect() as conn:
        a = object_rows(conn, stmt)
    known = (
        pd.Series(a[:, 1], index=a[:, 0]).groupby(level=0).last()
        if len(a)
        else pd.Series(dtype=float)
    )
    return known.astype("float64").reindex(products.index).fillna(products["price"])


def _daily_units(engine: Engine, products: pd.DataFrame) -> pd.Series:
    stmt = select(ClickDaily.product_id, func.avg(ClickDaily.orders)).group_by(
        ClickDaily.product_id
    )
    with engine.connect() as conn:
        a = object_rows(conn, stmt)
    q0 = pd.Series(a[:, 1], index=a[:, 0]).astype("float64") if len(a) else pd.Series(dtype=float)
    return q0.reindex(products.index).fillna(1.0)


def run_backtest(
    engine: Engine, sf: StrategyFile, *, days: int = 30, now: datetime | None = None
) -> BacktestResult:
    """Replay the last ``days`` days under ``sf``; nothing is written."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days - 1)
    max_stale = max([sf.settings.stale_hours] + [s.guards.stale_hours or 0 for s in sf.strategies])
    with engine.connect() as conn:
        products = load_products(conn, with_tags=any(s.applies_to.tags for s in sf.strategies))
    history, _ = _history(engine, start, end, max_stale)
    p0 = _start_prices(engine, products, start)
    q0 = _daily_units(engine, products)
    e = products["elasticity"].fillna(
        sf.settings.default_elasticity if sf.settings.default_elasticity else np.nan
    )
    cost = products["cost"]

    price = p0.copy()
    changed_at = products["price_changed_at"].where(
        products["price_changed_at"] <= pd.Timestamp(start)
    )
    moves = []  # per day: product_id, before, after, binding
    day_rows = []
    for d in range(days):
        at = start + timedelta(days=d)
        state = products.assign(price=price, price_changed_at=changed_at)
        offers = (
            prepare_offers(_state_at(history, at), state, sf.settings.currency_rates)
            if history is not None else prepare_offers(offer_frame(np.empty((0, 8), dtype=object), np.empty((0, 3), dtype=object)), state, sf.settings.currency_rates)
        )  # fmt: skip
        ev = evaluate(state, offers, sf, at).products
        sugg = ev[ev["outcome"] == "suggest"]
        before = price.loc[sugg.index]
        price = price.copy()
        price.loc[sugg.index] = sugg["final"].astype("float64")
        changed_at = changed_at.copy()
        changed_at.loc[sugg.index] = pd.Timestamp(at)
        moves.append(pd.DataFrame({
            "day": d, "product_id": sugg.index, "before": before.to_numpy(),
            "after": sugg["final"].to_numpy(dtype="float64"), "binding": sugg["binding"].to_numpy(),
            "floor": sugg["floor"].to_numpy(dtype="float64"),
        }))  # fmt: skip
        day_rows.append(_effects(at, price, p0, q0, e, cost, sugg, before))
    days_frame = pd.DataFrame(day_rows)
    flags = _flags(pd.concat(moves, ignore_index=True), products)
    return BacktestResult(sf.path, days_frame, flags, _totals(days_frame, e))


def _effects(at, price, p0, q0, e, cost, sugg, before) -> dict:
    """Units, revenue and margin today, under the strategy and under the unchanged price."""
    ok = e.notna().to_numpy()
    units = (q0 * (price / p0) ** e)[ok]
    base_units = q0[ok]
    margin_ok = ok & cost.notna().to_numpy()
    change = ((sugg["final"] - before) / before * 100) if len(sugg) else pd.Series(dtype=float)
    return {
        "date": at.date().isoformat(),
        "proposals": len(sugg),
        "avg_change_pct": float(change.mean()) if len(change) else 0.0,
        "units": float(units.sum()),
        "revenue": float((units * price[ok]).sum()),
        "margin": float((q0 * (price / p0) ** e * (price - cost))[margin_ok].sum()),
        "base_units": float(base_units.sum()),
        "base_revenue": float((base_units * p0[ok]).sum()),
        "base_margin": float((q0 * (p0 - cost))[margin_ok].sum()),
    }


def _totals(days: pd.DataFrame, e: pd.Series) -> dict[str, float]:
    sums = days[
        ["proposals", "units", "revenue", "margin", "base_units", "base_revenue", "base_margin"]
    ].sum()
    pct = lambda a, b: float((a - b) / b * 100) if b else 0.0  # noqa: E731
    return {
        "proposals": int(sums["proposals"]),
        "units": float(sums["units"]), "units_vs_baseline_pct": pct(sums["units"], sums["base_units"]),
        "revenue": float(sums["revenue"]), "revenue_vs_baseline_pct": pct(sums["revenue"], sums["base_revenue"]),
        "margin": float(sums["margin"]), "margin_vs_baseline_pct": pct(sums["margin"], sums["base_margin"]),
        "products_without_elasticity": int(e.isna().sum()),
    }  # fmt: skip


def _flags(moves: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Oscillation and price-war spirals, from each product's sequence of applied changes."""
    out = []
    if not len(moves):
        return pd.DataFrame(columns=["product_id", "sku", "flag", "detail"])
    moves = moves.sort_values(["product_id", "day"])
    moves["sign"] = np.sign(moves["after"] - moves["before"])
    g = moves.groupby("product_id", sort=False)
    prev = g["sign"].shift()
    moves["reversal"] = (prev.notna() & (moves["sign"] != prev) & (moves["sign"] != 0)).astype(int)
    reversals = moves.groupby("product_id")["reversal"].sum()
    for pid, n in reversals[reversals >= OSCILLATION_REVERSALS].items():
        path = " → ".join(
            f"{v:.2f}" for v in [g.get_group(pid)["before"].iloc[0], *g.get_group(pid)["after"]]
        )
        out.append((pid, "oscillation", f"changed direction {n} times: {path}"))
    # Price war: consecutive-day cuts; the run ends at a floor/MAP-bound proposal.
    cut = moves["sign"] < 0
    run_id = (~cut | (moves["day"].diff() != 1) | (moves["product_id"].diff() != 0)).cumsum()
    cuts = moves[cut].groupby(run_id[cut])
    for _, run in cuts:
        last = run.iloc[-1]
        if len(run) >= WAR_CUTS and int(last["binding"]) in (1, 2):
            bound = "floor" if int(last["binding"]) == 1 else "MAP"
            out.append((int(last["product_id"]), "price_war",
                        f"{len(run)} cuts in a row {run['before'].iloc[0]:.2f} → {last['after']:.2f}, "
                        f"stopped only by the {bound}"))  # fmt: skip
    frame = pd.DataFrame(out, columns=["product_id", "flag", "detail"])
    frame.insert(1, "sku", frame["product_id"].map(products["sku"]))
    return frame


def format_backtest(results: list[BacktestResult]) -> str:
    """Per-day figures (side by side for several strategy files), totals and flags."""
    lines = []
    header = "date        " + "".join(f"| {r.strategy_file[-30:]:<42}" for r in results)
    lines += [header, "            " + "| proposals  avg_chg%   revenue vs base    " * len(results)]
    for i in range(len(results[0].days)):
        cells = []
        for r in results:
            d = r.days.iloc[i]
            delta = (
                (d["revenue"] - d["base_revenue"]) / d["base_revenue"] * 100
                if d["base_revenue"]
                else 0.0
            )
            cells.append(
                f"| {int(d['proposals']):>9} {d['avg_change_pct']:>9.2f} {d['revenue']:>10.2f} {delta:>+7.2f}%  "
            )
        lines.append(f"{results[0].days.iloc[i]['date']:<12}" + "".join(cells))
    for r in results:
        t = r.totals
        lines.append(
            f"{r.strategy_file}: {t['proposals']} proposals; units {t['units']:.1f} "
            f"({t['units_vs_baseline_pct']:+.2f}%), revenue {t['revenue']:.2f} "
            f"({t['revenue_vs_baseline_pct']:+.2f}%), margin {t['margin']:.2f} "
            f"({t['margin_vs_baseline_pct']:+.2f}%) vs keeping today's prices; "
            f"{t['products_without_elasticity']} products without elasticity left out"
        )
        counts = r.flags["flag"].value_counts().to_dict() if len(r.flags) else {}
        lines.append(
            f"  flags: oscillation={counts.get('oscillation', 0)} price_war={counts.get('price_war', 0)}"
        )
        for f in r.flags.head(10).itertuples():
            lines.append(f"    {f.sku} {f.flag}: {f.detail}")
    return "\n".join(lines)
