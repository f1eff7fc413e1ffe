"""The sentence a pricing manager reads under each suggestion.

Built column-wise from the evaluation's step columns (one string array per step, joined with
"; "), e.g. ``lowest in-stock competitor ShopB 19.49; undercut 1% → 19.30; ending .99 → 18.99;
floor 17.60 not reached``. When rules conflict it names the winner: ``floor 17.60 wins over
16.80``, ``MAP 25.00 above ceiling 24.00: MAP and ceiling cannot both hold, nothing
proposed``. Competitor names are scraped text: they are cut to 60 characters here, and the
review app escapes them like everything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pricing.rules.config import Strategy

EXCLUSION_LABELS = {
    "no_price": "without a price",
    "broken": "from broken crawl runs",
    "suspect": "suspect",
    "currency": "in an unconvertible currency",
    "stale": "stale",
    "listed": "from excluded competitors",
    "confidence": "below match confidence",
    "substitute": "substitutes",
    "outlier": "outliers",
}
_BINDING = {1: "floor", 2: "MAP", 3: "ceiling"}


def money(values, mask: np.ndarray | None = None) -> np.ndarray:
    """'19.49' per value ('' where masked out or NaN)."""
    arr = np.asarray(values, dtype="float64")
    mask = ~np.isnan(arr) if mask is None else mask & ~np.isnan(arr)
    out = np.full(len(arr), "", dtype=object)
    out[mask] = [f"{v:.2f}" for v in arr[mask].tolist()]
    return out


def _text(values, mask: np.ndarray) -> np.ndarray:
    out = np.full(len(mask), "", dtype=object)
    vals = np.asarray(values, dtype=object)[mask]
    out[mask] = [str(v)[:60] for v in vals]
    return out


def _pick(mask: np.ndarray, *parts) -> np.ndarray:
    """Concatenate parts (strings or arrays) where mask holds; '' elsewhere."""
    acc = np.full(len(mask), "", dtype=object)
    for p in parts:
        acc = acc + p
    return np.where(mask, acc, "")


def join(*pieces: np.ndarray) -> np.ndarray:
    acc = pieces[0]
    for p in pieces[1:]:
        acc = acc + np.where((acc != "") & (p != ""), "; ", "") + p
    return acc


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _reference(r: pd.DataFrame, prods: pd.DataFrame, s: Strategy) -> np.ndarray:
    ref = s.reference
    has = r["ref"].notna().to_numpy()
    value = money(r["ref"])
    site = _text(r["ref_site"], has & r["ref_site"].notna().to_numpy())
    n_used = r["n_used"].astype(str).to_numpy(dtype=object)
    kinds = {
        "lowest": ("lowest competitor ", site, " ", value),
        "lowest_in_stock": ("lowest in-stock competitor ", site, " ", value),
        "competitor": ("competitor ", site, " ", value),
        "nth_lowest": (f"{_ordinal(ref.n or 1)}-lowest competitor ", site, " ", value),
        "median": ("median of ", n_used, " competitor prices ", value),
        "average": ("average of ", n_used, " competitor prices ", value),
        "cost_plus": ("cost ", money(prods["cost"]), f" + {ref.margin_pct:g}% = ", value),
        "current": ("our current price ", value),
    }
    missing = {
        "lowest_in_stock": "no competitor in stock",
        "competitor": f"competitor {ref.competitor} has no valid price",
        "nth_lowest": f"fewer than {ref.n} valid competitor prices",
        "cost_plus": "no cost known for cost-plus",
        "current": "no current price",
    }.get(ref.kind, "no valid competitor price")
    return np.where(has, _pick(has, *kinds[ref.kind]), "no reference: " + missing)


def _ignored(r: pd.DataFrame, stale_hours: float) -> np.ndarray:
    acc = np.full(len(r), "", dtype=object)
    for key, label in EXCLUSION_LABELS.items():
        n = r[f"x_{key}"].to_numpy()
        if not n.any():
            continue
        extra = f" (>{stale_hours:g} h)" if key == "stale" else ""
        part = _pick(n > 0, n.astype(str).astype(object), f" {label}{extra}")
        acc = acc + np.where((acc != "") & (part != ""), ", ", "") + part
    return np.where(acc != "", "ignored " + acc, "")


def _adjustment(r: pd.DataFrame, s: Strategy) -> np.ndarray:
    adj = s.adjustment
    has = r["adjusted"].notna().to_numpy()
    after = money(r["adjusted"])
    if adj.kind == "match":
        label = "match"
    elif adj.kind == "rank":
        label = f"rank {adj.rank}: under " + money(r["anchor"])
    else:
        size = f"{adj.pct:g}%" if adj.pct is not None else f"{adj.amount:.2f}"
        label = f"{adj.kind} {size}"
    return _pick(has, label, " → ", after)


def _limits(r: pd.DataFrame, s: Strategy) -> tuple[np.ndarray, np.ndarray]:
    """(what bound the target before the ending, reassurance notes after it)."""
    gd = s.guards
    binding = r["binding"].to_numpy()
    override = r["override"].to_numpy(dtype=bool)
    target, clipped = money(r["target"]), money(r["clipped"])
    bound = np.select(
        [binding == 1, binding == 2, binding == 3], [r["floor"], r["map"], r["ceiling"]], np.nan
    )
    names = np.select([binding == 1, binding == 2, binding == 3], ["floor ", "MAP ", "ceiling "], "")
    names = names.astype(object)
    wins = binding > 0
    wins &= binding <= 3
    caps = (binding >= 4) & ~override
    limit = []
    if gd.max_change_pct is not None:
        limit.append(f"{gd.max_change_pct:g}%")
    if gd.max_change_amount is not None:
        limit.append(f"{gd.max_change_amount:.2f}")
    mc = f"max change {' / '.join(limit)}"
    first = np.where(
        override,
        _pick(override, names, money(bound), f" wins over {mc} → ", clipped),
        np.where(
            wins,
            _pick(wins, names, money(bound), " wins over ", target),
            _pick(caps, f"{mc} caps ", target, " → ", clipped),
        ),
    )
    floor_ok = r["floor"].notna().to_numpy() & (binding != 1)
    map_ok = r["map"].notna().to_numpy() & (binding != 2)
    notes = join(
        _pick(floor_ok, "floor ", money(r["floor"]), " not reached"),
        _pick(map_ok, "MAP ", money(r["map"]), " respected"),
    )
    return first, notes


def explain(r: pd.DataFrame, prods: pd.DataFrame, s: Strategy) -> np.ndarray:
    """One explanation per product row of the evaluation frame ``r``."""
    outcome = r["outcome"].to_numpy()
    gd = s.guards
    decided = np.isin(outcome, ["suggest", "unchanged"])
    stock = r["stock_hit"].to_numpy(dtype=bool)
    demand = r["demand_hit"].to_numpy(dtype=bool)
    ref = _reference(r, prods, s)
    ignored = _ignored(r, gd.stale_hours or 48)
    adj = np.where(stock, "", _adjustment(r, s))
    stock_txt = (
        _pick(stock, "all ", r["n_used"].astype(str).to_numpy(dtype=object),
              f" competitors out of stock → raise {s.stock.raise_pct:g}% toward ceiling → ",
              money(r["target"]))
        if s.stock is not None
        else np.full(len(r), "", dtype=object)
    )
    demand_txt = np.full(len(r), "", dtype=object)
    if s.demand is not None:
        e = np.char.mod("%.2f", r["elasticity_used"].fillna(0).to_numpy()).astype(object)
        demand_txt = _pick(
            demand, "elasticity ", e, f" → {s.demand.objective}-maximizing ", money(r["target"])
        )
    first, notes = _limits(r, s)
    ending = gd.ending or "cent"
    upward = r["ending_up"].to_numpy(dtype=bool)
    final = money(r["final"])
    end_txt = np.full(len(r), "", dtype=object)
    if gd.ending:
        up_txt = np.where(upward, " (upward, within limits)", "")
        end_txt = _pick(decided, f"ending {ending}", up_txt, " → ", final)
    same = _pick(outcome == "unchanged", "= current price: no change")
    chain = join(ref, ignored, adj, stock_txt, demand_txt, first, end_txt, notes, same)

    cur = money(prods["price"])
    age = np.char.mod("%.0f", np.nan_to_num(r["cooldown_age_h"].to_numpy(), nan=0)).astype(object)
    conflict = r["conflict"].to_numpy()
    lower, upper = money(np.fmax(r["floor"], r["map"])), money(r["ceiling"])
    reasons = {
        "no_current_price": np.full(len(r), "no current price: nothing proposed", dtype=object),
        "we_out_of_stock": np.full(len(r), "we are out of stock: nothing proposed", dtype=object),
        "cooldown": "cooldown: last change " + age + f" h ago, {gd.cooldown_hours:g} h required: nothing proposed",
        "too_few_competitors": join(
            r["n_used"].astype(str).to_numpy(dtype=object)
            + f" valid competitor prices, {r['needs'].iloc[0] if len(r) else 0} required: nothing proposed",
            ignored,
        ),
        "no_reference": join(ref + ": nothing proposed", ignored),
        "bounds_conflict": np.where(
            conflict == 1,
            "MAP " + money(r["map"]) + " above ceiling " + upper + ": MAP and ceiling cannot both hold, nothing proposed",
            "floor " + money(r["floor"]) + " above ceiling " + upper + ": nothing proposed",
        ),
        "no_price_fits": join(
            ref,
            f"no price ending {ending} fits between " + lower + " and " + upper + " within max change of " + cur + ": nothing proposed",
        ),
    }
    out = chain.copy()
    for key, text in reasons.items():
        hit = outcome == key
        if hit.any():
            out[hit] = np.asarray(text, dtype=object)[hit]
    return out
