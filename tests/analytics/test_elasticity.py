"""Elasticity on synthetic demand with a known answer, and "not enough data" when it is true."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pricing.analytics.elasticity import elasticities


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
