"""How competitors move their prices: how often, how far, and who moves first.

A "move" is a change of an offer's price between two consecutive states. For "who moves first",
moves on offers matched to the same SKU are compared: a move that no other shop made in the
``window`` before it, and that another shop followed within the window after it, is a lead; a
move with another shop's move on the same SKU in the window before it is a follow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = [
    "site",
    "offers",
    "moves",
    "moves_per_offer_week",
    "median_abs_change_pct",
    "share_down",
    "leads",
    "follows",
    "lead_share",
]


def price_moves(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per price change: offer, site, sku, at, old, new, change_pct."""
    obs = observations.dropna(subset=["price"]).sort_values(["offer_id", "valid_from"])
    prev = obs.groupby("offer_id")["price"].shift()
    moved = prev.notna() & (prev != obs["price"])
    out = obs.loc[moved, ["offer_id", "site", "sku", "valid_from", "price"]].copy()
    out = out.rename(columns={"valid_from": "at", "price": "new"})
    out["old"] = prev[moved]
    out["change_pct"] = 100 * (out["new"] / out["old"] - 1)
    return out.reset_index(drop=True)


def _leads(moves: pd.DataFrame, window: pd.Timedelta) -> pd.DataFrame:
    m = moves.dropna(subset=["sku"]).sort_values(["sku", "at"]).reset_index(drop=True)
    lead = np.zeros(len(m), bool)
    follow = np.zeros(len(m), bool)
    for _, idx in m.groupby("sku").indices.items():
        at = m["at"].to_numpy()[idx]
        site = m["site"].to_numpy()[idx]
        for j in range(len(idx)):
            before = (at >= at[j] - window) & (at < at[j]) & (site != site[j])
            after = (at > at[j]) & (at <= at[j] + window) & (site != site[j])
            if before.any():
                follow[idx[j]] = True
            elif after.any():
                lead[idx[j]] = True
    m["lead"], m["follow"] = lead, follow
    return m.groupby("site")[["lead", "follow"]].sum()


def competitor_behaviour(
    observations: pd.DataFrame, *, window: pd.Timedelta = pd.Timedelta(hours=48)
) -> pd.DataFrame:
    """Per site: offers watched, moves, moves per offer-week, typical size, direction, leads."""
    if observations.empty:
        return pd.DataFrame(columns=COLUMNS)
    obs = observations.dropna(subset=["price"])
    span = obs.groupby("site").agg(
        offers=("offer_id", "nunique"), start=("valid_from", "min"), end=("valid_to", "max")
    )
    weeks = ((span["end"] - span["start"]).dt.total_seconds() / (7 * 86400)).clip(lower=1 / 7)
    moves = price_moves(obs)
    per = moves.groupby("site").agg(
        moves=("new", "size"),
        median_abs_change_pct=("change_pct", lambda s: s.abs().median()),
        share_down=("change_pct", lambda s: (s < 0).mean()),
    )
    out = span[["offers"]].join(per, how="left").join(_leads(moves, window), how="left")
    out = out.rename(columns={"lead": "leads", "follow": "follows"})
    out[["moves", "leads", "follows"]] = out[["moves", "leads", "follows"]].fillna(0).astype(int)
    out["moves_per_offer_week"] = out["moves"] / out["offers"] / weeks
    led = out["leads"] + out["follows"]
    out["lead_share"] = out["leads"] / led.replace(0, np.nan)
    return out.reset_index()[COLUMNS].sort_values(
        ["moves", "site"], ascending=[False, True], ignore_index=True
    )
