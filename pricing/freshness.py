"""Freshness-aware crawling: spend each site's request budget where a stale price costs most.

A flat schedule re-reads every product page equally often. But a price that never moves does not
need re-reading, and a stale price on an item nobody buys costs nothing. Here each competitor
offer gets

* a **change rate** (state changes per day seen in its history, smoothed towards the rate of
  the other offers of the same product, so a new offer of a volatile product starts volatile),
* an **importance**: offers matched to our products count, more so when the product sells well
  (our click data: orders over the last weeks) and most when a manager marked it a key item;
  unmatched offers keep a small weight so they are still looked at now and then,

and the budget is shared by the square-root rule: refreshes per day proportional to
``sqrt(importance * change_rate)``, clipped to [1/max_interval, 1/min_interval] and scaled so
the total equals the budget. (The square root is the classic compromise: proportional-to-rate
spends everything on pages that change faster than anyone can follow.)

Planning a cycle then takes the offers most overdue, weighted by their own rate, up to the
cycle's budget. ``pricewatch bench freshness`` measures the effect against the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

import pricing.tabular  # noqa: F401 - pandas' text storage
from pricing.store.models import ClickDaily, Match, MatchStatus, Offer, Product, Site
from pricing.store.views import OfferState


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    key_boost: float = 4.0  # a key item weighs this many times more
    demand_weight: float = 1.0  # how much sales add: weight 1 + demand_weight * orders / mean
    unmatched_weight: float = 0.1  # offers not (yet) matched to any of our products
    prior_days: float = 7.0  # how many days of "the product's rate" a new offer starts with
    min_interval: timedelta = timedelta(hours=1)  # never refresh one page more often
    max_interval: timedelta = timedelta(days=7)  # look at every page at least this often
    demand_days: int = 28  # window of click data that says what sells


def importance(
    matched: np.ndarray, demand: np.ndarray, key: np.ndarray, policy: FreshnessPolicy
) -> np.ndarray:
    """How much a stale price of each offer costs, relative to an average matched offer."""
    demand = np.asarray(demand, dtype=float)
    matched = np.asarray(matched, dtype=bool)
    mean = demand[matched].mean() if matched.any() and demand[matched].mean() > 0 else 1.0
    weight = 1.0 + policy.demand_weight * demand / mean
    weight = np.where(np.asarray(key, dtype=bool), weight * policy.key_boost, weight)
    return np.where(matched, weight, policy.unmatched_weight)


def smoothed_rates(
    changes: np.ndarray, days: np.ndarray, group: np.ndarray, policy: FreshnessPolicy
) -> np.ndarray:
    """Changes per day per offer, shrunk towards its group's rate (its product, or all)."""
    changes = np.asarray(changes, dtype=float)
    days = np.maximum(np.asarray(days, dtype=float), 1e-6)
    overall = changes.sum() / days.sum() if days.sum() else 0.0
    frame = pd.DataFrame({"g": group, "c": changes, "d": days})
    sums = frame.groupby("g", dropna=False)[["c", "d"]].transform("sum")
    group_rate = (
        (sums["c"] + policy.prior_days * overall) / (sums["d"] + policy.prior_days)
    ).to_numpy()
    k = policy.prior_days
    return (changes + k * group_rate) / (days + k)


def allocate(
    rates: np.ndarray, weights: np.ndarray, budget_per_day: float, policy: FreshnessPolicy
) -> np.ndarray:
    """Refreshes per day per offer: square-root rule, clipped, summing to the budget."""
    n = len(rates)
    if n == 0:
        return np.zeros(0)
    lo = 1.0 / (policy.max_interval / timedelta(days=1))
    hi = 1.0 / (policy.min_interval / timedelta(days=1))
    if budget_per_day <= n * lo:  # not even the floor fits: spread evenly
        return np.full(n, budget_per_day / n)
    if budget_per_day >= n * hi:
        return np.full(n, hi)
    score = np.sqrt(np.maximum(np.asarray(weights, float) * np.asarray(rates, float), 1e-12))
    low, high = 0.0, budget_per_day / score.min() + hi
    for _ in range(100):  # bisection on the scale: the clipped sum grows with it
        mid = (low + high) / 2
        if np.clip(mid * score, lo, hi).sum() > budget_per_day:
            high = mid
        else:
            low = mid
    return np.clip(low * score, lo, hi)


def due_order(
    last_seen_days_ago: np.ndarray, refreshes_per_day: np.ndarray, budget: int
) -> np.ndarray:
    """Indices of the ``budget`` most overdue offers (overdue = age x own refresh rate)."""
    overdue = np.asarray(last_seen_days_ago, float) * np.asarray(refreshes_per_day, float)
    budget = min(budget, len(overdue))
    if budget <= 0:
        return np.zeros(0, dtype=int)
    top = np.argpartition(-overdue, budget - 1)[:budget]
    return top[np.argsort(-overdue[top])]


def offer_signals(
    engine: Engine, site: str, now: datetime, window: timedelta, demand_days: int = 28
) -> pd.DataFrame:
    """Per offer of ``site``: url, age, state changes in the window, match, key item, demand."""
    since = now - window
    matched = (
        select(Match.offer_id, func.min(Match.product_id).label("product_id"))
        .where(Match.status.in_([MatchStatus.accepted.value, MatchStatus.confirmed.value]))
        .group_by(Match.offer_id)
        .subquery()
    )
    changes = (
        select(OfferState.offer_id, (func.count() - 1).label("changes"))
        .where(OfferState.valid_to >= since)
        .group_by(OfferState.offer_id)
        .subquery()
    )
    query = (
        select(
            Offer.id.label("offer_id"),
            Offer.url,
            Offer.first_seen,
            Offer.last_seen,
            func.coalesce(changes.c.changes, 0).label("changes"),
            matched.c.product_id,
            Product.key_item,
        )
        .join(Site, Site.id == Offer.site_id)
        .outerjoin(changes, changes.c.offer_id == Offer.id)
        .outerjoin(matched, matched.c.offer_id == Offer.id)
        .outerjoin(Product, Product.id == matched.c.product_id)
        .where(Site.name == site)
    )
    demand_since = (now - timedelta(days=demand_days)).date()
    demand_q = (
        select(ClickDaily.product_id, func.sum(ClickDaily.orders).label("orders"))
        .where(ClickDaily.day >= demand_since)
        .group_by(ClickDaily.product_id)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all())
        demand = {pid: orders for pid, orders in conn.execute(demand_q)}
    if frame.empty:
        return frame
    for col in ("first_seen", "last_seen"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    start = np.maximum(frame["first_seen"], pd.Timestamp(since).tz_convert("UTC"))
    frame["days"] = ((now_ts - start).dt.total_seconds() / 86400).clip(lower=1 / 24)
    frame["age_days"] = ((now_ts - frame["last_seen"]).dt.total_seconds() / 86400).clip(lower=0)
    frame["matched"] = frame["product_id"].notna()
    frame["key"] = frame["key_item"].fillna(False).astype(bool)
    frame["demand"] = frame["product_id"].map(demand).fillna(0).astype(float)
    return frame


@dataclass(slots=True)
class RefreshPlan:
    site: str
    urls: list[str]
    offers: int  # offers known for the site
    budget: int  # pages this cycle may fetch


def plan_refresh(
    engine: Engine,
    site: str,
    *,
    budget: int,
    cycles_per_day: float,
    now: datetime,
    policy: FreshnessPolicy | None = None,
    window: timedelta = timedelta(days=30),
) -> RefreshPlan:
    """The product URLs one cycle of ``site`` should re-read, most valuable first."""
    policy = policy or FreshnessPolicy()
    frame = offer_signals(engine, site, now, window, policy.demand_days)
    if frame.empty:
        return RefreshPlan(site, [], 0, budget)
    group = frame["product_id"].fillna(-1).to_numpy()
    rates = smoothed_rates(frame["changes"].to_numpy(), frame["days"].to_numpy(), group, policy)
    weights = importance(
        frame["matched"].to_numpy(), frame["demand"].to_numpy(), frame["key"].to_numpy(), policy
    )
    per_day = allocate(rates, weights, budget * cycles_per_day, policy)
    order = due_order(frame["age_days"].to_numpy(), per_day, budget)
    return RefreshPlan(site, frame["url"].to_numpy()[order].tolist(), len(frame), budget)
