"""Our price against the lowest and the median matched competitor, day by day.

An index of 100 means we charge what the lowest (or median) competitor charges; 110 means 10%
more. Only competitors in our currency count (converting would mix exchange-rate moves into
price moves), and a competitor counts on a day only if a state of its offer covers that day.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = [
    "sku",
    "day",
    "our_price",
    "competitors",
    "lowest",
    "median",
    "index_lowest",
    "index_median",
]


def competitor_daily(observations: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """For each matched offer and day: the price in effect at the end of that day."""
    obs = observations.dropna(subset=["sku", "price"])
    obs = obs[obs["currency"].fillna(obs["our_currency"]) == obs["our_currency"]]
    if obs.empty or days.empty:
        return pd.DataFrame(columns=["sku", "offer_id", "site", "day", "price"])
    ends = pd.DataFrame({"day": days, "at": days.tz_localize("UTC") + pd.Timedelta(days=1)})
    grid = obs[["offer_id"]].drop_duplicates().merge(ends, how="cross").sort_values("at")
    states = obs.sort_values("valid_from")
    merged = pd.merge_asof(
        grid, states, left_on="at", right_on="valid_from", by="offer_id", direction="backward"
    )
    alive = merged["valid_to"] >= merged["at"] - pd.Timedelta(days=1)
    return merged.loc[alive, ["sku", "offer_id", "site", "day", "price"]].reset_index(drop=True)


def price_index(clicks: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """One row per SKU and day with our price (from the click data) and the competitor index."""
    if clicks.empty:
        return pd.DataFrame(columns=COLUMNS)
    ours = clicks.groupby(["sku", "day"], as_index=False)["price"].last()
    ours = ours.rename(columns={"price": "our_price"})
    days = pd.DatetimeIndex(sorted(ours["day"].unique()))
    comp = competitor_daily(observations, days) if not observations.empty else None
    if comp is None or comp.empty:
        stats = pd.DataFrame(columns=["sku", "day", "competitors", "lowest", "median"])
    else:
        stats = (
            comp.groupby(["sku", "day"])["price"]
            .agg(competitors="count", lowest="min", median="median")
            .reset_index()
        )
    out = ours.merge(stats, on=["sku", "day"], how="left")
    out["competitors"] = out["competitors"].fillna(0).astype(int)
    out["index_lowest"] = 100 * out["our_price"] / out["lowest"]
    out["index_median"] = 100 * out["our_price"] / out["median"]
    return out[COLUMNS].sort_values(["sku", "day"], ignore_index=True)
