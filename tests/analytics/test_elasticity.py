"""Elasticity on synthetic demand with a known answer, and "not enough data" when it is true."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pricing.analytics.elasticity import Z95, elasticities


def synthetic(rng, category, e, *, skus=80, days=90, move=True, popularity=2.0):
    rows = []
    for s in range(skus):
        base = rng.uniform(10, 500)
        steps = rng.uniform(0.85, 1.15, days // 14 + 1) if move else np.ones(days // 14 + 1)
        pop = rng.lognormal(np.log(popularity), 0.8)
        for d in range(days):
            price = round(base * steps[d // 14], 2)
            views = rng.poisson(pop * 10)
            rate = 0.03 * (price / base) ** e
            rows.append(
                {
                    "sku": f"{category}-{s}",
                    "category": category,
                    "day": pd.Timestamp("2026-01-01") + pd.Timedelta(days=d),
                    "views": views,
                    "orders": rng.binomial(views, min(rate, 0.9)),
                    "price": price,
                }
            )
    return pd.DataFrame(rows)


def test_recovers_known_elasticities_with_honest_intervals():
    rng = np.random.default_rng(7)
    truth = {"shoes": -2.6, "laptops": -1.2, "tees": -3.2}
    frame = pd.concat([synthetic(rng, c, e) for c, e in truth.items()], ignore_index=True)
    cats, skus = elasticities(frame)
    for row in cats.itertuples():
        true = truth[row.key]
        assert abs(row.elasticity / true - 1) < 0.2, row
        assert row.ci_low <= true <= row.ci_high, row
        assert row.stderr > 0
    assert set(skus["key"]) == set(frame["sku"])


def test_thin_sku_is_pooled_and_flat_category_has_not_enough_data():
    rng = np.random.default_rng(8)
    moving = synthetic(rng, "moving", -2.0)
    thin = synthetic(rng, "moving", -2.0, skus=1, days=10).assign(sku="thin-1")
    flat = synthetic(rng, "flat", -2.0, move=False, skus=20)
    cats, skus = elasticities(pd.concat([moving, thin, flat], ignore_index=True))
    cats = cats.set_index("key")
    assert cats.loc["flat", "elasticity"] is None or np.isnan(cats.loc["flat", "elasticity"])
    assert "not enough data" in cats.loc["flat", "note"]
    skus = skus.set_index("key")
    assert skus.loc["thin-1", "pooled"]
    assert skus.loc["thin-1", "elasticity"] == cats.loc["moving", "elasticity"]
    assert "pooled from category moving" in skus.loc["thin-1", "note"]
    flat_sku = skus.loc["flat-0"]
    assert not flat_sku["pooled"] and pd.isna(flat_sku["elasticity"])
    assert "not enough data" in flat_sku["note"]


def test_intervals_are_calibrated_over_many_draws():
    """The 95% interval must cover the truth about 95% of the time, not just on one lucky seed.

    Demand here is exactly the model (log-log, SKU effects, heavy-tailed popularity like the
    simulator's), so misses can only be sampling noise: z-scores should average ~0 with spread ~1.
    Errors that were too small (ignoring over-dispersion) or a biased fit would fail this.
    """
    from pricing.analytics.elasticity import estimate

    rng = np.random.default_rng(11)
    true, skus, days = -1.4, 40, 60
    z = []
    for _ in range(60):
        base = rng.uniform(10, 500, skus)
        steps = rng.uniform(0.85, 1.15, (skus, days // 14 + 1))
        price = np.round(base[:, None] * steps[:, np.arange(days) // 14], 2)
        views = rng.poisson(rng.lognormal(np.log(4.0), 1.2, skus)[:, None], (skus, days))
        orders = rng.binomial(views, np.clip(0.05 * (price / base[:, None]) ** true, 0, 0.95))
        frame = pd.DataFrame(
            {
                "sku": np.repeat(np.arange(skus), days),
                "day": np.tile(np.arange(days), skus),
                "views": views.ravel(),
                "orders": orders.ravel(),
                "price": price.ravel(),
            }
        )
        est = estimate(frame, cluster=True, min_days=28, min_orders=100, spread=0.02)
        z.append((est.elasticity - true) / est.stderr)
    z = np.array(z)
    assert abs(z.mean()) < 0.4, z.mean()
    assert 0.75 < z.std() < 1.3, z.std()
    assert np.mean(np.abs(z) < Z95) >= 0.85, np.mean(np.abs(z) < Z95)
