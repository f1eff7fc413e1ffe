"""``pricewatch bench freshness``: freshness-aware vs flat crawling, same request budget.

This is a simulation over the simulator's price paths, not a live crawl: the market's true
state is computed hour by hour (exactly what its pages would show), and two crawl policies are
replayed against it with the same number of page fetches per site per hour:

* flat: every product page in turn, each once per ``--flat-every`` hours;
* freshness-aware (pricing/freshness.py): rates learned from what the flat crawl saw in a
  training week, importance from our catalog (matched offers), click data (orders) and key
  items (the top 5% sellers, as a manager would mark them).

Measured over the following evaluation week: the share of time a stored price differs from the
truth, weighted by importance ("prices that matter"), for key items, for matched offers, and
for all offers (the price paid: pages nobody needs get staler).
"""

from __future__ import annotations

import time

import click
import numpy as np

from pricing.bench.report import emit, json_option, peak_rss_mb
from pricing.freshness import FreshnessPolicy, allocate, importance, smoothed_rates


def _market_paths(sites: int, products: int, seed: int, hours: int):
    from shopsim.dynamics import compute_state
    from shopsim.market import Market

    market = Market.generate(sites=sites, products=products, seed=seed)
    h0 = market.clock.hour()
    states = [
        compute_state(market.seed, h0 + h, market.offers, market.tables, len(market.sites))
        for h in range(hours)
    ]
    prices = np.stack([s.price for s in states])
    return market, prices, states


def _demand(market, states, product: np.ndarray) -> tuple[np.ndarray, str]:
    """Orders per product from our click data; the simulator's sales counters as a fallback."""
    n_products = int(product.max()) + 1
    try:
        clicks = market.clicks_frame(days=28)
        orders = clicks.groupby("sku")["orders"].sum()
        by_product = np.zeros(n_products)
        for sku, value in orders.items():
            by_product[int(str(sku).removeprefix("PW-"))] = value
        return by_product, "clicks"
    except (ImportError, AttributeError, KeyError, ValueError):
        sold = states[-1].sold.astype(float) - states[0].sold.astype(float)
        return np.bincount(product, weights=sold, minlength=n_products), "sold_count"


def _simulate(
    prices, shop_bounds, per_day, start_hour, stored, last, budgets, weights, key, matched
):
    """Replay a policy from ``start_hour``; return stale shares and the fetches made."""
    stored, last = stored.copy(), last.copy()
    hours = prices.shape[0]
    stale_w = stale_key = stale_matched = stale_all = 0.0
    fetched = 0
    for h in range(start_hour, hours):
        score = (h - last) * per_day
        for (a, b), budget in zip(shop_bounds, budgets, strict=True):
            top = a + np.argpartition(-score[a:b], budget - 1)[:budget]
            stored[top] = prices[h, top]
            last[top] = h
            fetched += budget
        stale = stored != prices[h]
        stale_w += (weights * stale).sum() / weights.sum()
        stale_key += stale[key].mean() if key.any() else 0.0
        stale_matched += stale[matched].mean()
        stale_all += stale.mean()
    n = hours - start_hour
    return {
        "weighted": stale_w / n,
        "key": stale_key / n,
        "matched": stale_matched / n,
        "all": stale_all / n,
        "fetches": fetched,
    }


@click.command("freshness")
@click.option("--sites", default=8, show_default=True, help="Simulated shops.")
@click.option("--products", default=16_000, show_default=True, help="Competitor offers in all.")
@click.option("--seed", default=1, show_default=True)
@click.option("--train-days", default=7, show_default=True, help="Days the rates are learned on.")
@click.option("--days", default=7, show_default=True, help="Days measured.")
@click.option(
    "--flat-every",
    default=24,
    show_default=True,
    help="Hours between two reads of a page on the flat schedule; sets the budget.",
)
@json_option
def bench_freshness(sites, products, seed, train_days, days, flat_every, as_json) -> None:
    """Freshness-aware vs flat crawling with the same request budget (simulated week).

    A simulation over the simulator's hourly price paths (no HTTP): both policies fetch the
    same number of pages per site per hour; reports how often the prices that matter were
    stale under each, and the ratio.
    """
    t0 = time.perf_counter()
    train_h, hours = train_days * 24, (train_days + days) * 24
    market, prices, states = _market_paths(sites, products, seed, hours)
    offers = market.offers
    n = prices.shape[1]
    product = offers.product.astype(np.int64)
    matched = market.products.in_catalog[product].astype(bool)
    by_product, demand_source = _demand(market, states, product)
    catalog_demand = np.where(market.products.in_catalog, by_product, -1)
    n_key = max(1, int(0.05 * market.products.in_catalog.sum()))
    key_products = np.argsort(-catalog_demand)[:n_key]
    key = np.isin(product, key_products) & matched
    policy = FreshnessPolicy()
    weights = importance(matched, by_product[product], key, policy)

    bounds = [(int(offers.start[i]), int(offers.end[i])) for i in range(len(market.sites))]
    budgets = [max(1, round((b - a) / flat_every)) for a, b in bounds]
    flat = np.ones(n)

    # Training week: the flat crawl, counting the changes it sees.
    stored, last = np.full(n, -2, dtype=np.int64), np.full(n, -10_000.0)
    seen = np.zeros(n)
    for h in range(train_h):
        score = h - last
        for (a, b), budget in zip(bounds, budgets, strict=True):
            top = a + np.argpartition(-score[a:b], budget - 1)[:budget]
            known = last[top] >= 0
            seen[top] += known & (stored[top] != prices[h, top])
            stored[top], last[top] = prices[h, top], h
    rates = smoothed_rates(seen, np.full(n, float(train_days)), product, policy)
    per_day = np.zeros(n)
    for (a, b), budget in zip(bounds, budgets, strict=True):
        per_day[a:b] = allocate(rates[a:b], weights[a:b], budget * 24, policy)

    args = (prices, bounds)
    tail = (train_h, stored, last, budgets, weights, key, matched)
    flat_r = _simulate(*args, flat, *tail)
    fresh_r = _simulate(*args, per_day, *tail)
    emit(
        "freshness",
        {
            "simulated": "hourly_price_paths",
            "offers": n,
            "sites": sites,
            "days": days,
            "requests_per_day": int(sum(budgets) * 24),
            "requests_flat": flat_r["fetches"],
            "requests_fresh": fresh_r["fetches"],
            "stale_weighted_flat": round(flat_r["weighted"], 4),
            "stale_weighted_fresh": round(fresh_r["weighted"], 4),
            "ratio": round(flat_r["weighted"] / max(fresh_r["weighted"], 1e-9), 2),
            "stale_key_flat": round(flat_r["key"], 4),
            "stale_key_fresh": round(fresh_r["key"], 4),
            "stale_matched_flat": round(flat_r["matched"], 4),
            "stale_matched_fresh": round(fresh_r["matched"], 4),
            "stale_all_flat": round(flat_r["all"], 4),
            "stale_all_fresh": round(fresh_r["all"], 4),
            "key_items": int(key.sum()),
            "demand_source": demand_source,
            "total_s": round(time.perf_counter() - t0, 2),
            "peak_rss_mb": peak_rss_mb(),
        },
        as_json,
    )
