"""Conversion per SKU or category over a window: how many views became clicks, carts, orders."""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMS = ["views", "clicks", "add_to_cart", "orders", "revenue"]


def conversion(clicks: pd.DataFrame, by: str = "sku") -> pd.DataFrame:
    """Totals and rates per ``by`` ("sku" or "category"), best-selling first.

    Rates are ratios of sums (not means of daily ratios), so a day with 3 views weighs what it
    should. A rate with no views under it is NaN, not 0: nothing was measured.
    """
    if by not in {"sku", "category"}:
        raise ValueError(f"by must be 'sku' or 'category', not {by!r}")
    keys = ["sku", "category"] if by == "sku" else ["category"]
    if clicks.empty:
        return pd.DataFrame(columns=[*keys, "days", *SUMS, "ctr", "cart_rate", "conversion"])
    g = clicks.groupby(keys, dropna=False)
    out = g[SUMS].sum()
    out.insert(0, "days", g["day"].nunique())
    views = out["views"].replace(0, np.nan)
    out["ctr"] = out["clicks"] / views
    out["cart_rate"] = out["add_to_cart"] / out["clicks"].replace(0, np.nan)
    out["conversion"] = out["orders"] / views
    return out.reset_index().sort_values(
        ["orders", keys[0]], ascending=[False, True], ignore_index=True
    )
