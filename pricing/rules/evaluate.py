"""Evaluate strategies over every product at once (pandas/numpy, one pass per strategy).

Per strategy, for all its products together:

    offer filters → reference → adjustment → stock step → demand step → guards (guards.py)

Offer filters, in this order, each counted per product for the explanation: no price,
broken crawl run, suspect, unconvertible currency, stale, competitor include/exclude list,
match confidence, substitute, outlier (far from the median of the remaining prices).
The outcome for a product is the first that applies of: no strategy, no current price, we are
out of stock, cooldown, too few competitors, no reference, bounds conflict, no price fits the
ending, unchanged, suggest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from pricing.rules import guards as g
from pricing.rules.config import Settings, Strategy, StrategyFile
from pricing.rules.explain import explain
from pricing.rules.inputs import hours_since

BATCH = 20_000  # products evaluated (and handed to the writer) at a time; see evaluate()
EXCLUSIONS = (
    "no_price",
    "broken",
    "suspect",
    "currency",
    "stale",
    "listed",
    "confidence",
    "substitute",
    "outlier",
)


@dataclass
class Evaluation:
    """One row per product (``products``), and which offer rows counted (``used``)."""

    products: pd.DataFrame
    used: pd.Series  # bool, aligned with the offers frame given to evaluate()

    @property
    def suggestions(self) -> pd.DataFrame:
        return self.products[self.products["outcome"] == "suggest"]


def assign_strategies(products: pd.DataFrame, sf: StrategyFile, now: datetime) -> pd.Series:
    """The winning strategy's name per product (NaN: none applies)."""
    assigned = pd.Series(pd.NA, index=products.index, dtype=object)
    free = np.ones(len(products), dtype=bool)
    order = sorted(enumerate(sf.strategies), key=lambda p: (-p[1].priority, p[0]))
    exploded = None
    columns: dict[str, tuple[np.ndarray, pd.Index]] = {}

    def member(column: str, values: list[str]) -> np.ndarray:
        # Each column factorized once; membership then tested on its few distinct values
        # (isin over 170k strings per strategy was half of this function).
        if column not in columns:
            codes, uniques = pd.factorize(products[column])
            columns[column] = (codes, pd.Index(uniques))
        codes, uniques = columns[column]
        return np.append(uniques.isin(values), False)[codes]  # code -1 (NaN): no

    for _, s in order:
        if not s.active(now):
            continue
        sel = s.applies_to
        mask = free.copy()
        if sel.categories:
            mask &= member("category", sel.categories)
        if sel.brands:
            mask &= member("brand", sel.brands)
        if sel.skus:
            mask &= products["sku"].isin(sel.skus).to_numpy()
        if sel.tags:
            if exploded is None:
                exploded = products["tags"].explode()
            hit = exploded[exploded.isin(sel.tags)].index.unique()
            mask &= products.index.isin(hit)
        assigned[mask] = s.name
        free &= ~mask
    return assigned


def _filter_offers(
    offers: pd.DataFrame, s: Strategy, settings: Settings, now: datetime
) -> np.ndarray:
    """The first exclusion reason per offer row, as a code: 0 counts, i is EXCLUSIONS[i-1]."""
    guards = s.guards
    stale_h = guards.stale_hours or settings.stale_hours
    price = offers["price"].to_numpy()
    listed = np.ones(len(offers), dtype=bool)
    if guards.include_competitors:
        listed &= offers["site"].isin(guards.include_competitors).to_numpy()
    if guards.exclude_competitors:
        listed &= ~offers["site"].isin(guards.exclude_competitors).to_numpy()
    conditions = [
        ~(offers["orig_price"].to_numpy() > 0),
        offers["broken"].to_numpy(),
        offers["suspect"].to_numpy(),
        ~offers["convertible"].to_numpy() | np.isnan(price),
        ~(hours_since(offers["data_at"], now) <= stale_h),
        ~listed,
        offers["confidence"].to_numpy() < guards.min_confidence,
        offers["substitute"].to_numpy() & (not guards.use_substitutes),
    ]
    reason = np.select(conditions, list(range(1, len(conditions) + 1)), default=0)
    if guards.outlier_pct is not None:
        ok = reason == 0
        med = pd.Series(price[ok]).groupby(offers["product_id"].to_numpy()[ok]).transform("median")
        far = np.abs(price[ok] - med.to_numpy()) > med.to_numpy() * guards.outlier_pct / 100
        reason[np.flatnonzero(ok)[far]] = EXCLUSIONS.index("outlier") + 1
    return reason


def _reference(
    s: Strategy, prods: pd.DataFrame, valid: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Reference value and the competitor it came from (when it is one competitor's)."""
    ref = s.reference
    by = valid.groupby("product_id", sort=False)
    site = pd.Series(pd.NA, index=prods.index, dtype=object)
    if ref.kind in ("lowest", "lowest_in_stock", "competitor"):
        pool = valid
        if ref.kind == "lowest_in_stock":
            pool = valid[valid["in_stock"]]
        elif ref.kind == "competitor":
            pool = valid[valid["site"] == ref.competitor]
        first = pool.drop_duplicates("product_id").set_index("product_id")  # sorted by price
        value, site = first["price"], first["site"]
    elif ref.kind == "median":
        value = by["price"].median()
    elif ref.kind == "average":
        value = by["price"].mean()
    elif ref.kind == "nth_lowest":
        value, site = _nth(valid, ref.n)
    elif ref.kind == "cost_plus":
        value = prods["cost"] * (1 + ref.margin_pct / 100)
    else:  # current
        value = prods["price"]
    return value.reindex(prods.index).astype("float64"), site.reindex(prods.index)


def _nth(valid: pd.DataFrame, n: int) -> tuple[pd.Series, pd.Series]:
    """The n-th lowest valid price per product (offers are sorted by product, price)."""
    pos = valid.groupby("product_id", sort=False).cumcount().to_numpy()
    nth = valid[pos == n - 1].set_index("product_id")
    return nth["price"], nth["site"]


def _adjust(s: Strategy, ref: pd.Series, valid: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Target after the adjustment, and for rank the competitor price we slot under."""
    adj = s.adjustment
    anchor = pd.Series(np.nan, index=ref.index)
    if adj.kind == "match":
        return ref, anchor
    if adj.kind == "rank":
        anchor, _ = _nth(valid, adj.rank)
        anchor = anchor.reindex(ref.index).astype("float64")
        # Cheaper than the competitor at that rank; never below the one just cheaper.
        below = anchor - adj.gap
        if adj.rank > 1:
            prev, _ = _nth(valid, adj.rank - 1)
            below = np.maximum(below, prev.reindex(ref.index).astype("float64"))
        return below, anchor
    sign = -1 if adj.kind == "undercut" else 1
    if adj.pct is not None:
        return ref * (1 + sign * adj.pct / 100), anchor
    return ref + sign * adj.amount, anchor


def _demand(
    s: Strategy,
    prods: pd.DataFrame,
    target: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    settings: Settings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The demand step: (new target, applied mask, elasticity used)."""
    e = prods["elasticity"].to_numpy(dtype="float64")
    if settings.default_elasticity is not None:
        e = np.where(np.isnan(e), settings.default_elasticity, e)
    cost = prods["cost"].to_numpy(dtype="float64")
    hi = np.where(np.isfinite(upper), upper, np.nan)
    lo = np.where(lower > 0.01, lower, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if s.demand.objective == "profit":
            interior = cost * e / (1 + e)
            opt = np.where(e < -1, interior, np.where(e >= -1, hi, np.nan))
        else:
            opt = np.where(e < -1, lo, np.where(e > -1, hi, np.nan))
    if s.demand.max_deviation_pct is not None:
        d = s.demand.max_deviation_pct / 100
        opt = np.clip(opt, target * (1 - d), target * (1 + d))
    applied = ~np.isnan(opt) & ~np.isnan(target)
    return np.where(applied, opt, target), applied, e


def _evaluate_strategy(
    s: Strategy, prods: pd.DataFrame, offers: pd.DataFrame, settings: Settings, now: datetime
) -> tuple[pd.DataFrame, np.ndarray]:
    reason = _filter_offers(offers, s, settings, now)
    ok = reason == 0
    valid = offers[ok]
    # Exclusions per product and reason: one bincount over (product position, reason code).
    pos = prods.index.get_indexer(offers["product_id"].to_numpy())
    k = len(EXCLUSIONS) + 1
    counts = np.bincount(pos * k + reason, minlength=len(prods) * k).reshape(len(prods), k)
    r = pd.DataFrame(index=prods.index)
    for code, name in enumerate(EXCLUSIONS, start=1):
        r[f"x_{name}"] = counts[:, code]

    by = valid.groupby("product_id", sort=False)
    r["n_used"] = by.size().reindex(prods.index, fill_value=0).astype("int64")
    r["n_in_stock"] = by["in_stock"].sum().reindex(prods.index, fill_value=0).astype("int64")
    r["oldest_data_at"] = by["data_at"].min().reindex(prods.index)
    first = valid.drop_duplicates("product_id").set_index("product_id")
    r["lowest_site"] = first["site"].reindex(prods.index)
    r["lowest_price"] = first["price"].reindex(prods.index)

    ref, ref_site = _reference(s, prods, valid)
    r["ref"], r["ref_site"] = ref, ref_site
    adjusted, anchor = _adjust(s, ref, valid)
    r["adjusted"], r["anchor"] = adjusted, anchor
    target = adjusted.to_numpy(dtype="float64").copy()

    cur = prods["price"].to_numpy(dtype="float64")
    cost = prods["cost"].to_numpy(dtype="float64")
    gd = s.guards
    nan = np.full(len(prods), np.nan)
    floor = g.fmax(
        prods["floor"].to_numpy(dtype="float64"),
        np.full(len(prods), gd.floor if gd.floor is not None else np.nan),
        cost * (1 + gd.min_margin_pct / 100) if gd.min_margin_pct is not None else nan,
    )
    ceiling = g.fmin(
        prods["ceiling"].to_numpy(dtype="float64"),
        np.full(len(prods), gd.ceiling if gd.ceiling is not None else np.nan),
        cost * (1 + gd.max_margin_pct / 100) if gd.max_margin_pct is not None else nan,
    )
    map_price = prods["map_price"].to_numpy(dtype="float64") if gd.respect_map else nan
    r["floor"], r["ceiling"], r["map"] = floor, ceiling, map_price

    stock_hit = np.zeros(len(prods), dtype=bool)
    if s.stock is not None:
        stock_hit = (r["n_used"].to_numpy() > 0) & (r["n_in_stock"].to_numpy() == 0)
        raised = np.fmin(cur * (1 + s.stock.raise_pct / 100), ceiling)
        target = np.where(stock_hit, raised, target)
    r["stock_hit"] = stock_hit

    r["demand_hit"], r["elasticity_used"] = False, np.nan
    if s.demand is not None:
        lower = g.fmax(floor, map_price, np.full(len(prods), 0.01))
        upper = np.where(np.isnan(ceiling), np.inf, ceiling)
        demanded, hit, e = _demand(s, prods, target, lower, upper, settings)
        hit &= ~stock_hit  # competitors all out of stock: the stock step stands
        target = np.where(hit, demanded, target)
        r["demand_hit"], r["elasticity_used"] = hit, e
    r["target"] = target

    out = g.constrain(
        target, cur, floor, map_price, ceiling, gd.max_change_pct, gd.max_change_amount, gd.ending
    )
    for key in ("final", "conflict", "no_fit", "clipped", "binding", "override", "ending_up"):
        r[key] = out[key]

    age_h = hours_since(prods["price_changed_at"], now)
    needs = gd.min_competitors
    if needs is None:
        needs = 1 if s.needs_competitors else 0
    final_c = np.round(out["final"] * 100)
    outcome = np.select(
        [
            ~(cur > 0),  # missing or not positive
            ~prods["in_stock"].to_numpy(),
            age_h < gd.cooldown_hours,
            r["n_used"].to_numpy() < needs,
            np.isnan(target),
            out["conflict"] > 0,
            out["no_fit"],
            final_c == np.round(cur * 100),
        ],
        [
            "no_current_price",
            "we_out_of_stock",
            "cooldown",
            "too_few_competitors",
            "no_reference",
            "bounds_conflict",
            "no_price_fits",
            "unchanged",
        ],
        default="suggest",
    )
    r["outcome"] = outcome
    r["cooldown_age_h"] = age_h
    r["needs"] = needs
    # Offers counted only where the product reached a price decision.
    decided = pd.Series(np.isin(outcome, ["suggest", "unchanged"]), index=prods.index)
    used = ok & offers["product_id"].map(decided).fillna(False).to_numpy(dtype=bool)
    return r, used


def _evaluate_batch(
    s: Strategy,
    prods: pd.DataFrame,
    offers: pd.DataFrame,
    sf: StrategyFile,
    now: datetime,
    on_step: Callable[[], None] | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One batch of a strategy's products: prices, then explanations."""
    r, used = _evaluate_strategy(s, prods, offers, sf.settings, now)
    if on_step is not None:
        on_step()
    r["strategy"] = s.name
    r["explanation"] = explain(r, prods, s, s.guards.stale_hours or sf.settings.stale_hours)
    r["current"], r["cost"], r["currency"] = prods["price"], prods["cost"], prods["currency"]
    return r, used


def evaluate(
    products: pd.DataFrame,
    offers: pd.DataFrame,
    sf: StrategyFile,
    now: datetime | None = None,
    on_batch: Callable[[pd.DataFrame], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> Evaluation:
    """Evaluate every product under its strategy; vectorized, strategy by strategy.

    A strategy's products go ``BATCH`` at a time, in their order, so the suggest run gets
    its first rows to write after one batch instead of one whole strategy; products are
    independent of each other, so batches change no result. ``on_batch`` receives each
    batch's result rows as soon as they are complete (the suggest run writes them while the
    rest is evaluated); ``on_step`` is called between a batch's prices and its explanations
    too (the writer hands work to its thread then). Strategies are evaluated largest first,
    so the last batch, the part of that write nothing overlaps, is small; the order changes
    nothing else, as each product has one strategy. Rows thus arrive strategy by strategy,
    each strategy's in product order.
    """
    now = now or datetime.now(UTC)
    assigned = assign_strategies(products, sf, now)
    frames, used = [], np.zeros(len(offers), dtype=bool)
    # Batch numbers (-1: no strategy) per product and per offer row: strategy code times
    # ``per`` plus the product's rank within its strategy over BATCH. Offer rows ordered by
    # batch (stable: each group keeps the (product, price) order), so each batch's offers
    # are one slice of that order, taken when the batch comes (not one copy of all offers
    # up front: that was 0.09 s before the first rows could go to the writer).
    names = [s.name for s in sf.strategies]
    code = pd.Categorical(assigned, categories=names).codes.astype("int64")
    sizes = np.bincount(code[code >= 0], minlength=len(names))
    per = max(1, -(-int(sizes.max(initial=0)) // BATCH))  # batches of the largest strategy
    by_code = np.argsort(code, kind="stable")
    rank = np.empty(len(code), dtype="int64")
    rank[by_code] = np.arange(len(code)) - np.searchsorted(code[by_code], code[by_code])
    batch = np.where(code >= 0, code * per + rank // BATCH, -1)
    prod_order = np.argsort(batch, kind="stable")
    prod_bounds = np.searchsorted(batch[prod_order], np.arange(len(names) * per + 1))
    pos = products.index.get_indexer(offers["product_id"].to_numpy())
    offer_batch = np.where(pos >= 0, batch[pos], -1)  # an offer of an unknown product: none
    order = np.argsort(offer_batch, kind="stable")
    bounds = np.searchsorted(offer_batch[order], np.arange(len(names) * per + 1))
    for k in sorted(np.flatnonzero(sizes), key=lambda k: (-sizes[k], k)):
        for b in range(k * per, k * per + -(-int(sizes[k]) // BATCH)):
            prods = products.take(prod_order[prod_bounds[b] : prod_bounds[b + 1]])
            rows = order[bounds[b] : bounds[b + 1]]
            r, u = _evaluate_batch(sf.strategies[k], prods, offers.take(rows), sf, now, on_step)
            frames.append(r)
            if on_batch is not None:
                on_batch(r)
            used[rows[u]] = True
    none = products[assigned.isna().to_numpy()]
    if len(none):
        frames.append(
            pd.DataFrame(
                {
                    "outcome": "no_strategy",
                    "strategy": pd.NA,
                    "explanation": "no strategy applies",
                    "current": none["price"],
                    "cost": none["cost"],
                    "currency": none["currency"],
                },
                index=none.index,
            )  # fmt: skip
        )
    result = pd.concat(frames) if frames else pd.DataFrame(columns=["outcome", "strategy"])
    return Evaluation(
        products=result.reindex(products.index), used=pd.Series(used, index=offers.index)
    )
