"""The sentence a pricing manager reads under each suggestion.

Built from the evaluation's step columns, one text piece per step, joined with "; ", e.g.
``lowest in-stock competitor ShopB 19.49; undercut 1% → 19.30; ending .99 → 18.99; floor
17.60 not reached``. When rules conflict it names the winner: ``floor 17.60 wins over 16.80``,
``MAP 25.00 above ceiling 24.00: MAP and ceiling cannot both hold, nothing proposed``.

Pieces are computed column-wise; each amount column is formatted once per strategy.
Competitor names are scraped text: they are cut to 60 characters here, and the review app
escapes them like everything else.
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


class _Amounts:
    """Formats an amount column ('19.49'; '' for NaN) the first time it is asked for.

    ``at(name)`` is for :func:`_pick`: only the rows it picks are formatted (a bound or a
    target shows in few explanations; formatting whole columns was a quarter of explain).
    """

    def __init__(self, r: pd.DataFrame, extra: dict[str, pd.Series]):
        self.r, self.extra, self.cache = r, extra, {}

    def _source(self, name: str) -> np.ndarray:
        source = self.extra[name] if name in self.extra else self.r[name]
        return np.asarray(source, dtype="float64")

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            self.cache[name] = money(self._source(name))
        return self.cache[name]

    def at(self, name: str) -> _Some:
        return _Some(self, name)


class _Some:
    """An amount column of which :func:`_pick` formats only the rows it needs."""

    __slots__ = ("amounts", "name")

    def __init__(self, amounts: _Amounts, name: str):
        self.amounts, self.name = amounts, name

    def where(self, mask: np.ndarray) -> np.ndarray:
        if self.name in self.amounts.cache:
            return self.amounts.cache[self.name][mask]
        return money(self.amounts._source(self.name)[mask])


def money(values) -> np.ndarray:
    """'19.49' per value ('' for NaN).

    Each distinct value is formatted once: amounts repeat (prices with endings, bounds),
    and formatting was most of this (0.03 s against 0.006-0.017 per 145k-row column).
    Distinct by bit pattern, so -0.0 keeps its own text ('-0.00').
    """
    arr = np.asarray(values, dtype="float64")
    ok = ~np.isnan(arr)
    out = np.full(len(arr), "", dtype=object)
    codes, uniques = pd.factorize(arr[ok].view("int64"))
    texts = [f"{v:.2f}" for v in uniques.view("float64").tolist()]
    out[ok] = np.array(texts, dtype=object)[codes]
    return out


def cut_names(values: pd.Series, width: int, missing: object) -> np.ndarray:
    """Names (scraped competitor names) cut to ``width`` characters, ``missing`` for NA.

    Each distinct name is cut once: there are few (sites) in a long column (pandas' .str
    per row was 0.07 s of a run).
    """
    codes, uniques = pd.factorize(values)
    return np.array([str(u)[:width] for u in uniques] + [missing], dtype=object)[codes]


_SMALL = np.array([str(i) for i in range(256)], dtype=object)


def _counts(values) -> np.ndarray:
    """'3' per count; counts are small, so mostly a table lookup (10x faster than astype)."""
    n = np.asarray(values).astype("int64")
    if len(n) and n.min() >= 0 and n.max() < len(_SMALL):
        return _SMALL[n]
    return n.astype(str).astype(object)


def _pick(mask: np.ndarray, *parts) -> np.ndarray:
    """Concatenate parts (strings or arrays) where mask holds; '' elsewhere."""
    out = np.full(len(mask), "", dtype=object)
    if not mask.any():
        return out
    acc = ""
    for p in parts:
        if isinstance(p, np.ndarray):
            p = p[mask]
        elif isinstance(p, _Some):
            p = p.where(mask)
        acc = acc + p
    out[mask] = acc
    return out


def join(*pieces: np.ndarray, sep: str = "; ") -> np.ndarray:
    """Non-empty pieces per row joined with ``sep`` (one pass over the rows)."""
    joined = [sep.join(filter(None, row)) for row in zip(*pieces, strict=True)]
    return np.array(joined, dtype=object) if joined else np.array([], dtype=object)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _reference(r: pd.DataFrame, m: _Amounts, s: Strategy) -> np.ndarray:
    ref = s.reference
    has = r["ref"].notna().to_numpy()
    site = cut_names(r["ref_site"], 60, "")
    amount = m.at("ref")
    kinds = {  # only the strategy's kind is built
        "lowest": lambda: ("lowest competitor ", site, " ", amount),
        "lowest_in_stock": lambda: ("lowest in-stock competitor ", site, " ", amount),
        "competitor": lambda: ("competitor ", site, " ", amount),
        "nth_lowest": lambda: (f"{_ordinal(ref.n or 1)}-lowest competitor ", site, " ", amount),
        "median": lambda: ("median of ", _counts(r["n_used"]), " competitor prices ", amount),
        "average": lambda: ("average of ", _counts(r["n_used"]), " competitor prices ", amount),
        "cost_plus": lambda: ("cost ", m.at("cost"), f" + {ref.margin_pct:g}% = ", amount),
        "current": lambda: ("our current price ", amount),
    }
    missing = {
        "lowest_in_stock": "no competitor in stock",
        "competitor": f"competitor {ref.competitor} has no valid price",
        "nth_lowest": f"fewer than {ref.n} valid competitor prices",
        "cost_plus": "no cost known for cost-plus",
        "current": "no current price",
    }.get(ref.kind, "no valid competitor price")
    out = _pick(has, *kinds[ref.kind]())
    out[~has] = "no reference: " + missing
    return out


def _ignored(r: pd.DataFrame, stale_hours: float) -> np.ndarray:
    """'ignored 2 stale (>48 h), 1 suspect' where any offer was excluded."""
    counts = r[[f"x_{key}" for key in EXCLUSION_LABELS]].to_numpy()
    out = np.full(len(r), "", dtype=object)
    rows = counts.any(axis=1)
    if not rows.any():
        return out
    counts = counts[rows]
    pieces = []
    for j, (key, label) in enumerate(EXCLUSION_LABELS.items()):
        n = counts[:, j]
        if n.any():
            extra = f" (>{stale_hours:g} h)" if key == "stale" else ""
            pieces.append(_pick(n > 0, _counts(n), f" {label}{extra}"))
    out[rows] = "ignored " + join(*pieces, sep=", ")
    return out


def _adjustment(r: pd.DataFrame, m: _Amounts, s: Strategy) -> np.ndarray:
    adj = s.adjustment
    has = r["adjusted"].notna().to_numpy() & ~r["stock_hit"].to_numpy(dtype=bool)
    if adj.kind == "match":
        return _pick(has, "match → ", m["adjusted"])
    if adj.kind == "rank":
        return _pick(has, f"rank {adj.rank}: under ", m["anchor"], " → ", m["adjusted"])
    size = f"{adj.pct:g}%" if adj.pct is not None else f"{adj.amount:.2f}"
    return _pick(has, f"{adj.kind} {size} → ", m["adjusted"])


def _limits(r: pd.DataFrame, m: _Amounts, s: Strategy) -> tuple[np.ndarray, np.ndarray]:
    """(what bound the target before the ending, reassurance notes after it)."""
    gd = s.guards
    binding = r["binding"].to_numpy()
    override = r["override"].to_numpy(dtype=bool)
    limit = []
    if gd.max_change_pct is not None:
        limit.append(f"{gd.max_change_pct:g}%")
    if gd.max_change_amount is not None:
        limit.append(f"{gd.max_change_amount:.2f}")
    mc = f"max change {' / '.join(limit)}"
    first = np.full(len(r), "", dtype=object)
    for code, name, col in ((1, "floor", "floor"), (2, "MAP", "map"), (3, "ceiling", "ceiling")):
        hit = binding == code
        first = np.where(
            hit & override,
            _pick(hit & override, f"{name} ", m.at(col), f" wins over {mc} → ", m.at("clipped")),
            first,
        )
        first = np.where(
            hit & ~override,
            _pick(hit & ~override, f"{name} ", m.at(col), " wins over ", m.at("target")),
            first,
        )
    caps = (binding >= 4) & ~override
    first = np.where(
        caps, _pick(caps, f"{mc} caps ", m.at("target"), " → ", m.at("clipped")), first
    )
    floor_ok = r["floor"].notna().to_numpy() & (binding != 1)
    map_ok = r["map"].notna().to_numpy() & (binding != 2)
    return first, join(
        _pick(floor_ok, "floor ", m.at("floor"), " not reached"),
        _pick(map_ok, "MAP ", m.at("map"), " respected"),
    )


def _reason(
    key: str, r: pd.DataFrame, prods: pd.DataFrame, s: Strategy, stale_h: float
) -> np.ndarray:
    """Why nothing is proposed, for the rows ``r`` whose outcome is ``key``."""
    gd = s.guards
    m = _Amounts(r, {"cost": prods["cost"], "current": prods["price"]})
    n = len(r)
    if key in ("no_current_price", "we_out_of_stock"):
        text = "no current price" if key == "no_current_price" else "we are out of stock"
        return np.full(n, text + ": nothing proposed", dtype=object)
    if key == "cooldown":
        age = np.char.mod("%.0f", np.nan_to_num(r["cooldown_age_h"].to_numpy())).astype(object)
        return (
            "cooldown: last change "
            + age
            + f" h ago, {gd.cooldown_hours:g} h required: nothing proposed"
        )
    ignored = _ignored(r, stale_h)
    if key == "too_few_competitors":
        needs = int(r["needs"].iloc[0])
        text = (
            _counts(r["n_used"]) + f" valid competitor prices, {needs} required: nothing proposed"
        )
        return join(text, ignored)
    if key == "no_reference":
        text = _reference(r, m, s)
        if s.adjustment.kind == "rank":
            has = r["ref"].notna().to_numpy()
            rank = s.adjustment.rank
            need = _pick(
                has,
                f"rank {rank} needs {rank} valid competitor prices, have ",
                _counts(r["n_used"]),
            )
            text = np.where(has, need, text)
        return join(text + ": nothing proposed", ignored)
    if key == "bounds_conflict":
        return np.where(
            r["conflict"].to_numpy() == 1,
            "MAP "
            + m["map"]
            + " above ceiling "
            + m["ceiling"]
            + ": MAP and ceiling cannot both hold, nothing proposed",
            "floor " + m["floor"] + " above ceiling " + m["ceiling"] + ": nothing proposed",
        )
    # no_price_fits
    lower = money(np.fmax(r["floor"].to_numpy(), r["map"].to_numpy()))
    lower = np.where(lower == "", "0.01", lower)
    upper = np.where(m["ceiling"] == "", "no ceiling", m["ceiling"])
    text = (
        f"no price ending {gd.ending or 'cent'} fits between "
        + lower
        + " and "
        + upper
        + " within the max change of "
        + m["current"]
        + ": nothing proposed"
    )
    return join(_reference(r, m, s), text)


def _chain(r: pd.DataFrame, prods: pd.DataFrame, s: Strategy, stale_h: float) -> np.ndarray:
    """Step by step, for rows where a price was decided (a suggestion or 'no change')."""
    gd = s.guards
    m = _Amounts(r, {"cost": prods["cost"], "current": prods["price"]})
    pieces = [_reference(r, m, s), _ignored(r, stale_h), _adjustment(r, m, s)]
    if s.stock is not None:
        stock = r["stock_hit"].to_numpy(dtype=bool)
        pieces.append(
            _pick(
                stock,
                "all ",
                _counts(r["n_used"]),
                f" competitors out of stock → raise {s.stock.raise_pct:g}% toward ceiling → ",
                m.at("target"),
            )
        )
    if s.demand is not None:
        demand = r["demand_hit"].to_numpy(dtype=bool)
        e = np.full(len(r), "", dtype=object)  # formatted where the demand step applied
        e[demand] = [f"{v:.2f}" for v in r["elasticity_used"].fillna(0).to_numpy()[demand]]
        pieces.append(
            _pick(demand, "elasticity ", e, f" → {s.demand.objective}-maximizing ", m.at("target"))
        )
    first, notes = _limits(r, m, s)
    pieces.append(first)
    if gd.ending:
        up = np.where(r["ending_up"].to_numpy(dtype=bool), " (upward, within limits)", "")
        pieces.append(
            _pick(np.ones(len(r), dtype=bool), f"ending {gd.ending}", up, " → ", m["final"])
        )
    pieces += [notes, _pick(r["outcome"].to_numpy() == "unchanged", "= current price: no change")]
    return join(*pieces)


def explain(r: pd.DataFrame, prods: pd.DataFrame, s: Strategy, stale_hours: float) -> np.ndarray:
    """One explanation per product row of the evaluation frame ``r``.

    ``stale_hours``: the staleness limit in force (the strategy's, else the settings').
    """
    outcome = r["outcome"].to_numpy()
    out = np.full(len(r), "", dtype=object)
    prods = prods[["cost", "price"]]  # all that is shown of them: fewer columns to subset
    decided = np.isin(outcome, ["suggest", "unchanged"])
    if decided.any():
        out[decided] = _chain(r[decided], prods[decided], s, stale_hours)
    for key in np.unique(outcome[~decided]):
        hit = outcome == key
        out[hit] = _reason(str(key), r[hit], prods[hit], s, stale_hours)
    return out
