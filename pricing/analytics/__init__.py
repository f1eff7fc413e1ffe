"""How our buyers react to price, and how competitors move theirs (pandas over the store).

data (store -> DataFrames) feeds conversion (rates per SKU/category), price_index (us against
the lowest and median competitor), elasticity (log-log Poisson with SKU effects, pooled to the
category when a SKU is thin) and competitors (how often, how far, who first).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, insert

import pricing.tabular  # noqa: F401 - pandas' text storage
from pricing.analytics.data import load_clicks, load_observations
from pricing.analytics.elasticity import Requirements, elasticities
from pricing.analytics.price_index import price_index
from pricing.store.models import ElasticityEstimate, utcnow

__all__ = ["estimate_elasticities", "with_competitor_prices", "Requirements"]


def with_competitor_prices(engine: Engine, clicks: pd.DataFrame) -> pd.DataFrame:
    """``clicks`` plus a ``competitor`` column: the median matched competitor price that day."""
    if clicks.empty:
        return clicks.assign(competitor=pd.Series(dtype=float))
    start = dt.datetime.combine(clicks["day"].min().date(), dt.time(), dt.UTC)
    obs = load_observations(engine, since=start, matched_only=True)
    if obs.empty:
        return clicks.assign(competitor=float("nan"))
    index = price_index(clicks, obs)[["sku", "day", "median"]]
    return clicks.merge(
        index.rename(columns={"median": "competitor"}), on=["sku", "day"], how="left"
    )


def estimate_elasticities(
    engine: Engine,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    requirements: Requirements | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimate elasticities from the click data and replace ``elasticity_estimates`` with them.

    Returns (categories, skus). Every SKU with click data gets a row: its own estimate, its
    category's (``pooled``), or None with the note "not enough data".
    """
    clicks = with_competitor_prices(engine, load_clicks(engine, since, until))
    if clicks.empty:
        return pd.DataFrame(), pd.DataFrame()
    cats, skus = elasticities(clicks, requirements)
    now = utcnow()
    rows = [
        {
            "scope": r["scope"],
            "key": r["key"],
            "elasticity": r["elasticity"],
            "stderr": r["stderr"],
            "ci_low": r["ci_low"],
            "ci_high": r["ci_high"],
            "n_days": int(r["n_days"]),
            "pooled": bool(r["pooled"]),
            "note": (r["note"] or None) and str(r["note"])[:200],
            "computed_at": now,
        }
        for frame in (cats, skus)
        for r in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(delete(ElasticityEstimate))
        for i in range(0, len(rows), 5000):
            conn.execute(insert(ElasticityEstimate), rows[i : i + 5000])
    return cats, skus
