"""Which shop carries which product, and each offer's fixed traits, as columns.

Offers are sorted by shop, so a shop is a contiguous slice ``start[s]:end[s]``. Everything
that varies with time is derived from these traits by :mod:`shopsim.dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopsim.products import Products
from shopsim.shops import SiteSpec

NEVER = np.iinfo(np.int32).max
SHOPS_PER_PRODUCT = (1, 2, 3, 4, 5, 6)
SHOPS_P = (0.22, 0.25, 0.2, 0.15, 0.1, 0.08)

KIND_PLAIN, KIND_FROM, KIND_RANGE, KIND_CALL = 0, 1, 2, 3
KINDS = ("plain", "from", "range", "call")
HOSTILE_NONE, HOSTILE_SCRIPT, HOSTILE_LONG, HOSTILE_BIDI = 0, 1, 2, 3


@dataclass
class Offers:
    shop: np.ndarray  # int16
    product: np.ndarray  # int32
    code: np.ndarray  # int32, the id in the product URL, unique within a shop
    new_code: np.ndarray  # int32, the id after the product moved (redirect from code)
    moved_h: np.ndarray  # int32 hour it moved; NEVER
    from_h: np.ndarray  # int32 first hour listed
    until_h: np.ndarray  # int32 first hour delisted; NEVER
    factor: np.ndarray  # float64 this offer's price relative to the product's base
    period: np.ndarray  # int32 hours between list-price changes
    phase: np.ndarray  # int32
    kind: np.ndarray  # int8 KINDS
    spread: np.ndarray  # float64 high/low of "from" and range prices
    title_var: np.ndarray  # int64 seed of this shop's wording of the title
    hostile: np.ndarray  # int8
    review_base: np.ndarray  # int32
    review_rate: np.ndarray  # float32 per day
    sold_base: np.ndarray  # int32
    sold_rate: np.ndarray  # float32 per day
    rating: np.ndarray  # float32 one decimal
    start: np.ndarray  # int64 per shop: first offer index
    end: np.ndarray  # int64 per shop: one past the last

    def __len__(self) -> int:
        return len(self.shop)


def _pick_shops(n_products: int, weights: np.ndarray, rng: np.random.Generator, total: int):
    """Each product goes to 1-6 distinct shops (weighted by shop size), ``total`` offers in all."""
    n_sites = len(weights)
    k = rng.choice(SHOPS_PER_PRODUCT, size=n_products, p=SHOPS_P)
    k = np.minimum(k, n_sites)
    diff = total - int(k.sum())
    order = rng.permutation(n_products)
    # Nudge counts until the total is exact (within the 1..min(6, sites) bounds).
    for i in order:
        if diff == 0:
            break
        if diff > 0 and k[i] < min(6, n_sites):
            k[i] += 1
            diff -= 1
        elif diff < 0 and k[i] > 1:
            k[i] -= 1
            diff += 1
    # Gumbel top-k: sampling without replacement, weighted, in one vectorized step.
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n_products, n_sites))
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(n_sites)[None, :] < k[:, None]
    product = np.repeat(np.arange(n_products, dtype=np.int32), k)
    shop = ranked[take].astype(np.int16)
    return product, shop


def distinct_products_for(total_offers: int, n_sites: int) -> int:
    """How many distinct products make ``total_offers`` offers on average."""
    mean = float(np.dot(np.minimum(SHOPS_PER_PRODUCT, n_sites), SHOPS_P))
    return max(1, int(round(total_offers / mean)))


def generate_offers(
    products: Products,
    sites: list[SiteSpec],
    total: int,
    rng: np.random.Generator,
    *,
    hostile_share: np.ndarray,
    start_h: int,
) -> Offers:
    weights = np.array([s.weight for s in sites])
    product, shop = _pick_shops(len(products), weights, rng, total)
    if len(product) != total:
        raise ValueError(f"cannot spread {total} offers over {len(sites)} shops")
    order = np.lexsort((product, shop))
    product, shop = product[order], shop[order]
    n = len(product)
    bounds = np.searchsorted(shop, np.arange(len(sites) + 1))

    # URL ids: unique within each shop, not guessable from the product id.
    code = np.empty(n, dtype=np.int32)
    new_code = np.empty(n, dtype=np.int32)
    for s in range(len(sites)):
        a, b = bounds[s], bounds[s + 1]
        ids = rng.choice(900_000, size=2 * (b - a), replace=False).astype(np.int32) + 100_000
        code[a:b], new_code[a:b] = ids[: b - a], ids[b - a :]

    moved = rng.random(n) < 0.03
    moved_h = np.where(moved, start_h + rng.integers(-24 * 20, 24 * 20, n), NEVER).astype(np.int32)
    new = rng.random(n) < 0.05
    from_h = np.where(new, rng.integers(0, start_h + 24 * 30, n), 0).astype(np.int32)
    gone = rng.random(n) < 0.05
    until_h = np.where(gone, from_h + rng.integers(24, 24 * 90, n), NEVER).astype(np.int32)

    from_share = np.array([s.from_share for s in sites])[shop]
    range_share = np.array([s.range_share for s in sites])[shop]
    call_share = np.array([s.call_share for s in sites])[shop]
    r = rng.random(n)
    kind = np.select(
        [r < call_share, r < call_share + from_share, r < call_share + from_share + range_share],
        [KIND_CALL, KIND_FROM, KIND_RANGE],
        KIND_PLAIN,
    ).astype(np.int8)

    h = rng.random(n)
    hostile = np.where(h < hostile_share[shop], 1 + (h * 1e6).astype(np.int64) % 3, 0).astype(
        np.int8
    )
    level = np.array([s.price_level for s in sites])[shop]
    popular = rng.pareto(1.5, n)
    return Offers(
        shop=shop,
        product=product,
        code=code,
        new_code=new_code,
        moved_h=moved_h,
        from_h=from_h,
        until_h=until_h,
        factor=level * rng.uniform(0.95, 1.05, n),
        period=rng.integers(48, 24 * 21, n).astype(np.int32),
        phase=rng.integers(0, 24 * 21, n).astype(np.int32),
        kind=kind,
        spread=rng.uniform(1.2, 1.6, n),
        title_var=rng.integers(0, 2**62, n),
        hostile=hostile,
        review_base=(popular * 20).astype(np.int32),
        review_rate=(popular * rng.uniform(0.05, 0.5, n)).astype(np.float32),
        sold_base=(popular * 300).astype(np.int32),
        sold_rate=(popular * rng.uniform(1, 20, n)).astype(np.float32),
        rating=np.round(rng.uniform(2.8, 5.0, n), 1).astype(np.float32),
        start=bounds[:-1].astype(np.int64),
        end=bounds[1:].astype(np.int64),
    )
