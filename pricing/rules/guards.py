"""Hard limits and price endings, applied last so no suggestion can break them.

Order (documented in default_strategies.yaml too):

1. Hard bounds: ``lower = max(floor, MAP)``, ``upper = ceiling``. Floor is the largest of the
   product's floor, the strategy's absolute floor and cost + minimum margin; ceiling the
   smallest of the product's ceiling, the strategy's and cost + maximum margin. If
   ``lower > upper`` the limits contradict each other: **nothing is proposed** and the
   explanation says which pair (MAP above ceiling, or floor above ceiling).
2. Maximum change: the window ``[current - d, current + d]`` (the tighter of percent and
   amount). The target is clipped to ``bounds ∩ window``.
   If that intersection is empty, our current price is itself outside the hard bounds and
   too far to reach in one step: **the hard bound wins over the maximum change** (a price
   below the floor or MAP must not stay), the target becomes that bound, and the explanation
   says the maximum change was overridden. Such suggestions are never auto-approved.
3. Ending (.99, .95, whole; none means whole cents): applied downward; if that falls below the
   lower limit, the nearest ending upward is used instead; if no price with that ending fits
   between the limits, nothing is proposed (the ending is never broken silently).

Everything is computed in integer cents so that rounding cannot cross a bound.
"""

from __future__ import annotations

import numpy as np

ENDINGS: dict[str | None, tuple[int, int]] = {  # (step, offset) in cents
    None: (1, 0),
    "whole": (100, 0),
    ".99": (100, 99),
    ".95": (100, 95),
}
_EPS = 1e-6


def to_cents_up(x: np.ndarray) -> np.ndarray:
    return np.ceil(np.asarray(x, dtype="float64") * 100 - _EPS)


def to_cents_down(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype="float64") * 100 + _EPS)


def ending_down(cents: np.ndarray, ending: str | None) -> np.ndarray:
    """The largest price with this ending at or below ``cents``."""
    step, off = ENDINGS[ending]
    return np.floor((cents - off) / step) * step + off


def ending_up(cents: np.ndarray, ending: str | None) -> np.ndarray:
    """The smallest price with this ending at or above ``cents``."""
    step, off = ENDINGS[ending]
    return np.ceil((cents - off) / step) * step + off


def has_ending(price: np.ndarray, ending: str | None) -> np.ndarray:
    cents = np.round(np.asarray(price, dtype="float64") * 100)
    step, off = ENDINGS[ending]
    return (cents - off) % step == 0


def fmax(*arrays: np.ndarray) -> np.ndarray:
    """Elementwise max ignoring NaN (NaN only where all are NaN)."""
    out = arrays[0]
    for a in arrays[1:]:
        out = np.fmax(out, a)
    return out


def fmin(*arrays: np.ndarray) -> np.ndarray:
    out = arrays[0]
    for a in arrays[1:]:
        out = np.fmin(out, a)
    return out


def change_window(
    current: np.ndarray, max_pct: float | None, max_amount: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """``[lo, hi]`` reachable from the current price in one suggestion (±inf: no limit)."""
    lo = np.full_like(current, -np.inf)
    hi = np.full_like(current, np.inf)
    if max_pct is not None:
        lo = np.maximum(lo, current * (1 - max_pct / 100))
        hi = np.minimum(hi, current * (1 + max_pct / 100))
    if max_amount is not None:
        lo = np.maximum(lo, current - max_amount)
        hi = np.minimum(hi, current + max_amount)
    return lo, hi


def constrain(
    target: np.ndarray,
    current: np.ndarray,
    floor: np.ndarray,
    map_price: np.ndarray,
    ceiling: np.ndarray,
    max_pct: float | None,
    max_amount: float | None,
    ending: str | None,
) -> dict[str, np.ndarray]:
    """Apply max change, hard bounds and ending; return the final price and what bound it.

    Returns arrays: ``final`` (NaN where nothing can be proposed), ``conflict`` (0 none,
    1 MAP above ceiling, 2 floor above ceiling), ``no_fit`` (no price with the ending fits),
    ``clipped`` (the target before the ending, after limits), ``binding`` (0 none, 1 floor,
    2 MAP, 3 ceiling, 4 max change down, 5 max change up), ``override`` (a hard bound
    overrode the maximum change), ``ending_up`` (the ending had to go upward).
    """
    n = len(target)
    lower = fmax(floor, map_price, np.full(n, 0.01))
    upper = np.where(np.isnan(ceiling), np.inf, ceiling)
    map_conflict = ~np.isnan(map_price) & (map_price > upper)
    conflict = np.where(map_conflict, 1, np.where(lower > upper, 2, 0))

    lo_mc, hi_mc = change_window(current, max_pct, max_amount)
    lo = np.maximum(lower, lo_mc)
    hi = np.minimum(upper, hi_mc)
    override = (lo > hi) & (conflict == 0)
    # The hard bound wins over the maximum change: go to the bound nearest the current price.
    forced = np.where(hi_mc < lower, lower, upper)
    lo = np.where(override, lower, lo)
    hi = np.where(override, upper, hi)
    clipped = np.where(override, forced, np.clip(target, lo, hi))

    floor_binds = ~np.isnan(floor) & (lo == floor) & (target < lo)
    map_binds = ~np.isnan(map_price) & (lo == map_price) & (target < lo) & ~floor_binds
    binding = np.select(
        [
            override & (hi_mc < lower) & (lower == map_price),
            override & (hi_mc < lower),
            override,
            map_binds,
            floor_binds,
            (target < lo) & (lo == lo_mc),
            (target > hi) & (hi == upper),
            (target > hi) & (hi == hi_mc),
        ],
        [2, 1, 3, 2, 1, 4, 3, 5],
        default=0,
    )

    lo_c, hi_c = to_cents_up(lo), to_cents_down(hi)
    t_c = np.clip(np.round(clipped * 100), lo_c, hi_c)
    down = ending_down(t_c, ending)
    up = ending_up(t_c, ending)
    went_up = down < lo_c
    chosen = np.where(went_up, up, down)
    no_fit = (conflict == 0) & ((chosen > hi_c) | (chosen < lo_c) | np.isnan(chosen))
    final = np.where((conflict == 0) & ~no_fit, chosen / 100.0, np.nan)
    return {
        "final": final,
        "conflict": conflict,
        "no_fit": no_fit,
        "clipped": clipped,
        "binding": binding,
        "override": override,
        "ending_up": went_up & ~no_fit,
        "lower": lower,
        "upper": upper,
    }
