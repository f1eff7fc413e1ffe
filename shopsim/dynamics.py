"""Prices, stock and popularity at a given hour, for every offer at once (numpy).

Nothing is stored between hours: each quantity is a pure function of (seed, offer, time
window) through a counter-based hash, so the market at any moment can be computed directly,
any number of times, in any order, and always gives the same answer. Windows:

- list price: a per-offer regime of 2-21 days, drifting +-6 % around the product's base;
- promotions: weekly windows, on with the shop's promo rate, 10-35 % off;
- price wars: a category-day event that cuts prices 8 % on the shops that fight them;
- stock: 3-day windows, out of stock or back-ordered at the shop's rates;
- popularity: reviews and units sold grow daily; bestseller rank follows units sold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopsim.offers import KIND_CALL, KIND_PLAIN, Offers
from shopsim.products import Products
from shopsim.shops import SiteSpec

AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")
IN_STOCK, OUT_OF_STOCK, PREORDER, BACKORDER = range(4)

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLD
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, tag: int, a, b=0) -> np.ndarray:
    """A deterministic uniform [0, 1) for each (seed, tag, a, b): the market's only randomness."""
    with np.errstate(over="ignore"):
        x = np.uint64((seed * 1_000_003 + tag) & 0xFFFFFFFFFFFFFFFF)
        x = _splitmix(np.asarray(a).astype(np.uint64) ^ _splitmix(x))
        x = _splitmix(x ^ np.asarray(b).astype(np.int64).astype(np.uint64))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def to_minor(value: np.ndarray, decimals: np.ndarray, ending: np.ndarray) -> np.ndarray:
    """Currency amounts -> integer minor units with the shop's price ending (.99, .95 ...)."""
    cents = np.floor(value).astype(np.int64) * 100 + np.round(ending * 100).astype(np.int64)
    yen = np.maximum(1, np.round(value / 10.0).astype(np.int64) * 10 - (ending > 0.5))
    return np.where(decimals == 0, yen, np.maximum(cents, 1))


@dataclass
class State:
    """Everything that varies with time, one entry per offer (global index)."""

    hour: int
    listed: np.ndarray  # bool
    price: np.ndarray  # int64 minor units; -1 for "call for price"
    high: np.ndarray  # int64 upper end of "from"/range prices, else -1
    regular: np.ndarray  # int64 struck-through list price when on sale, else -1
    list_price: np.ndarray  # int64 list price (always), what the mismatch family puts in JSON-LD
    availability: np.ndarray  # int8 AVAILABILITY
    quantity: np.ndarray  # int32
    reviews: np.ndarray  # int32
    sold: np.ndarray  # int64
    rank: np.ndarray  # int32 bestseller rank in its shop category (listed offers), else 0
    code: np.ndarray  # int32 current URL id
    last_modified: np.ndarray  # int32 hour of the last change of anything on its page
    listing_order: np.ndarray  # int64 listed offers by (shop, category, rank)
    listing_bounds: np.ndarray  # int64 [shop * n_cat + cat] -> start in listing_order


class Tables:
    """Per-offer shop and product attributes gathered once, so each hour is pure arithmetic."""

    def __init__(self, sites: list[SiteSpec], products: Products, offers: Offers):
        s = offers.shop
        self.cat = products.category[offers.product].astype(np.int64)
        self.n_cat = int(products.category.max()) + 1 if len(products) else 1
        self.base = products.base_usd[offers.product] * offers.factor
        self.rate = np.array([x.locale.usd_rate for x in sites])[s]
        self.decimals = np.array([x.locale.decimals for x in sites])[s]
        self.ending = np.array([x.ending for x in sites])[s]
        self.promo_rate = np.array([x.promo_rate for x in sites])[s]
        self.oos_rate = np.array([x.oos_rate for x in sites])[s]
        self.war = np.array([x.price_war for x in sites])[s]
        self.sold_k = np.array([x.sold_k for x in sites])[s]
        self.preorder_until = products.preorder_until_h[offers.product]
        self.index = np.arange(len(offers), dtype=np.int64)
        self.group = s.astype(np.int64) * self.n_cat + self.cat


def compute_state(seed: int, hour: int, offers: Offers, t: Tables, n_sites: int) -> State:
    o, i = offers, t.index
    day = hour // 24
    regime = (hour + o.phase) // o.period
    regime_start = regime * o.period - o.phase
    drift = 1.0 + (uniform(seed, 1, i, regime) - 0.5) * 0.12
    list_value = t.base * drift * t.rate
    list_price = to_minor(list_value, t.decimals, t.ending)

    week = (hour + o.phase * 7) // 168
    week_start = week * 168 - o.phase * 7
    promo = uniform(seed, 2, i, week) < t.promo_rate
    discount = np.where(promo, 0.10 + 0.25 * uniform(seed, 3, i, week), 0.0)
    war = t.war & (uniform(seed, 4, t.cat, day) < 0.06)
    sale_value = list_value * (1 - discount) * np.where(war, 0.92, 1.0)
    price = np.where(promo | war, to_minor(sale_value, t.decimals, t.ending), list_price)
    on_sale = (price < list_price) & (o.kind == KIND_PLAIN)
    price = np.where(on_sale | (o.kind != KIND_PLAIN), price, list_price)
    regular = np.where(on_sale, list_price, -1)
    high = np.where(
        (o.kind != KIND_PLAIN) & (o.kind != KIND_CALL),
        to_minor(list_value * o.spread, t.decimals, t.ending),
        -1,
    )
    price = np.where(o.kind == KIND_CALL, -1, price)

    stock_win = (hour + o.phase) // 72
    stock_start = stock_win * 72 - o.phase
    r = uniform(seed, 5, i, stock_win)
    availability = np.select(
        [t.preorder_until > hour, r < t.oos_rate, r < t.oos_rate + 0.03],
        [PREORDER, OUT_OF_STOCK, BACKORDER],
        IN_STOCK,
    ).astype(np.int8)
    q = uniform(seed, 6, i, stock_win)
    quantity = np.where(q < 0.25, 1 + (q * 20).astype(np.int32), 6 + (q * 60).astype(np.int32))
    quantity = np.where(availability == IN_STOCK, quantity, 0).astype(np.int32)

    reviews = (o.review_base + o.review_rate * day).astype(np.int32)
    sold = (o.sold_base + o.sold_rate * day).astype(np.int64)
    # "1.2k sold": the page can only say hundreds, so the truth is what it says.
    sold = np.where(t.sold_k & (sold >= 1000), np.round(sold / 100.0).astype(np.int64) * 100, sold)

    listed = (o.from_h <= hour) & (hour < o.until_h)
    moved = hour >= o.moved_h
    code = np.where(moved, o.new_code, o.code)

    keys = np.where(listed, t.group, np.iinfo(np.int64).max)
    order = np.lexsort((i, -sold, keys))
    order = order[: int(listed.sum())]
    bounds = np.searchsorted(t.group[order], np.arange(n_sites * t.n_cat + 1))
    rank = np.zeros(len(o), dtype=np.int32)
    pos = np.arange(len(order)) - bounds[t.group[order]]
    rank[order] = (pos + 1).astype(np.int32)

    changes = np.stack(
        [
            regime_start,
            np.where(promo | (o.kind != KIND_PLAIN), week_start, 0),
            np.full(len(o), day * 24),  # popularity and war windows are daily
            stock_start,
            o.from_h,
            np.where(moved, o.moved_h, 0),
        ]
    )
    last_modified = np.minimum(changes.max(axis=0), hour).astype(np.int32)
    return State(
        hour=hour,
        listed=listed,
        price=price,
        high=high,
        regular=regular,
        list_price=np.where(o.kind == KIND_CALL, -1, list_price),
        availability=availability,
        quantity=quantity,
        reviews=reviews,
        sold=sold,
        rank=rank,
        code=code,
        last_modified=last_modified,
        listing_order=order,
        listing_bounds=bounds,
    )
