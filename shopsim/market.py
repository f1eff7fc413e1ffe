"""The simulated market: shops, products, offers, clock, truth.

A :class:`Market` is columns (numpy) plus a clock. Pages and the truth are both built from
:class:`OfferView` objects made by :meth:`Market.view`, so what a page shows and what the truth
says cannot drift apart.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

from shopsim.clock import SimClock, hour_to_datetime
from shopsim.dynamics import AVAILABILITY, IN_STOCK, State, Tables, compute_state
from shopsim.faults import FaultPlan, hostile_share, make_fault_plans
from shopsim.offers import KIND_CALL, KINDS, Offers, distinct_products_for, generate_offers
from shopsim.products import Products, catalog_frame, generate_products
from shopsim.shops import SiteSpec, make_sites
from shopsim.titles import shop_title
from shopsim.vocab import CATEGORIES

_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:80]


@dataclass(slots=True)
class OfferView:
    """One offer as its shop shows it right now. Fields a shop does not show are None."""

    index: int
    path: str
    title: str
    brand: str | None
    gtin: str | None
    mpn: str | None
    price: Decimal | None
    high_price: Decimal | None
    regular_price: Decimal | None
    list_price: Decimal | None
    currency: str
    availability: str
    stock_quantity: int | None
    quantity: int  # the real quantity, shown or not (wording depends on it)
    review_count: int | None
    rating: float | None
    sold_count: int | None
    rank: int | None
    listing_position: int
    category: str
    category_name: str
    kind: str  # plain, sale, from, range, call
    true_sku: str | None
    last_modified: int  # hour


class Market:
    def __init__(
        self,
        seed: int,
        sites: list[SiteSpec],
        products: Products,
        offers: Offers,
        fault_plans: list[FaultPlan],
        clock: SimClock,
        profile: str = "none",
    ):
        self.seed, self.sites, self.products, self.offers = seed, sites, products, offers
        self.fault_plans, self.clock, self.profile = fault_plans, clock, profile
        self.tables = Tables(sites, products, offers)
        self._by_name = {s.name: s for s in sites}
        self._state: State | None = None
        self._lock = threading.Lock()
        self.base_urls: dict[str, str] = {}  # filled while a server serves this market
        # Strings are derived on demand; a bounded cache keeps hot pages cheap to re-render.
        self._slug = lru_cache(maxsize=65536)(lambda pid: slugify(products.title(pid)))
        self._title = lru_cache(maxsize=65536)(
            lambda i: shop_title(
                products,
                int(offers.product[i]),
                int(offers.title_var[i]),
                sites[int(offers.shop[i])].title_noise,
                int(offers.hostile[i]),
            )  # fmt: skip
        )
        # Per shop: every URL id (current and pre-move) sorted, for O(log n) lookups.
        self._ids: list[tuple[np.ndarray, np.ndarray]] = []
        for s in sites:
            a, b = offers.start[s.index], offers.end[s.index]
            ids = np.concatenate([offers.code[a:b], offers.new_code[a:b]])
            idx = np.concatenate([np.arange(a, b), np.arange(a, b)])
            order = np.argsort(ids)
            self._ids.append((ids[order], idx[order]))

    @classmethod
    def generate(
        cls,
        sites: int = 72,
        products: int = 170_000,
        seed: int = 1,
        faults: str = "none",
        *,
        time_scale: float = 0.0,
        start: datetime | None = None,
    ) -> Market:
        """A market of ``sites`` shops holding ``products`` competitor offers in all."""
        if not 1 <= sites <= 253:
            raise ValueError(f"sites must be 1..253 (one loopback address each), not {sites}")
        if products < 1:
            raise ValueError(f"products must be at least 1, not {products}")
        rng = np.random.default_rng(seed)
        specs = make_sites(sites, rng)
        plans = make_fault_plans(faults, sites, seed, [s.family for s in specs])
        clock = SimClock(start, time_scale) if start else SimClock(scale=time_scale)
        prods = generate_products(distinct_products_for(products, sites), rng)
        shares = np.array([hostile_share(p, faults) for p in plans])
        offers = generate_offers(
            prods, specs, products, rng, hostile_share=shares, start_h=clock.hour()
        )
        return cls(seed, specs, prods, offers, plans, clock, faults)

    # -- shops -------------------------------------------------------------------------
    def site(self, name: str) -> SiteSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"no shop named {name!r}; shops are shop-01..shop-{len(self.sites):02d}"
            ) from None

    def fault_plan(self, name: str) -> FaultPlan:
        return self.fault_plans[self.site(name).index]

    def categories(self, site: SiteSpec, state: State) -> list[int]:
        """Categories with at least one listed offer in this shop."""
        n_cat = self.tables.n_cat
        b = state.listing_bounds[site.index * n_cat : (site.index + 1) * n_cat + 1]
        return [c for c in range(n_cat) if b[c + 1] > b[c]]

    def listing(self, site: SiteSpec, cat: int, state: State) -> np.ndarray:
        """Listed offers of a shop category in bestseller order."""
        g = site.index * self.tables.n_cat + cat
        return state.listing_order[state.listing_bounds[g] : state.listing_bounds[g + 1]]

    def lookup(self, site: SiteSpec, code: int) -> int | None:
        ids, idx = self._ids[site.index]
        k = int(np.searchsorted(ids, code))
        return int(idx[k]) if k < len(ids) and ids[k] == code else None

    # -- time --------------------------------------------------------------------------
    def state(self, at: datetime | None = None) -> State:
        """The market at ``at`` (default: now), cached for the current hour."""
        hour = self.clock.hour(at)
        state = self._state
        if state is not None and state.hour == hour:
            return state
        new = compute_state(self.seed, hour, self.offers, self.tables, len(self.sites))
        if at is None:
            with self._lock:
                self._state = new
        return new

    # -- one offer ---------------------------------------------------------------------
    def slug(self, i: int) -> str:
        return self._slug(int(self.offers.product[i]))

    def title(self, site: SiteSpec, i: int) -> str:
        """The offer's title as its shop words it (fixed for the offer's life)."""
        return self._title(int(i))

    def path(self, site: SiteSpec, i: int, state: State) -> str:
        return site.product_path(self.slug(i), int(state.code[i]))

    def view(self, site: SiteSpec, i: int, state: State) -> OfferView:
        o, p = self.offers, self.products
        pid = int(o.product[i])
        dec = site.locale.decimals

        def money(minor) -> Decimal | None:
            return None if minor < 0 else Decimal(int(minor)).scaleb(-dec)

        kind_code = int(o.kind[i])
        kind = KINDS[kind_code]
        if kind == "plain" and state.regular[i] >= 0:
            kind = "sale"
        avail = int(state.availability[i])
        qty = int(state.quantity[i])
        shown_qty = None
        if avail == IN_STOCK and (
            site.stock_style == "quantity" or (site.stock_style == "low" and qty <= 5)
        ):
            shown_qty = qty
        pop = site.popularity
        cat = CATEGORIES[int(p.category[pid])]
        return OfferView(
            index=i,
            path=self.path(site, i, state),
            title=self._title(i),
            brand=p.brand_name(pid) if site.show_brand else None,
            gtin=str(p.gtin[pid]) if site.show_ids else None,
            mpn=p.mpn(pid) if site.show_ids else None,
            price=money(state.price[i]),
            high_price=money(state.high[i]),
            regular_price=money(state.regular[i]),
            list_price=money(state.list_price[i]),
            currency=site.currency,
            availability=AVAILABILITY[avail],
            stock_quantity=shown_qty,
            quantity=qty,
            review_count=int(state.reviews[i]) if "reviews" in pop else None,
            rating=round(float(o.rating[i]), 1) if "rating" in pop else None,
            sold_count=int(state.sold[i]) if "sold" in pop else None,
            rank=int(state.rank[i]) if "rank" in pop else None,
            listing_position=int(state.rank[i]),
            category=cat.slug,
            category_name=cat.name,
            kind=kind if kind_code != KIND_CALL else "call",
            true_sku=p.sku(pid),
            last_modified=int(state.last_modified[i]),
        )

    # -- truth -------------------------------------------------------------------------
    def truth(self, site_name: str, at: datetime | None = None) -> pd.DataFrame:
        """One row per offer currently listed on the shop: exactly what its pages show."""
        site = self.site(site_name)
        state = self.state(at)
        a, b = self.offers.start[site.index], self.offers.end[site.index]
        idx = a + np.flatnonzero(state.listed[a:b])
        base = self.base_urls.get(site.name, "")
        plan = self.fault_plans[site.index]
        rows = []
        for i in idx:
            v = self.view(site, int(i), state)
            rows.append(
                {
                    "url": base + v.path,
                    "path": v.path,
                    "title": v.title,
                    "brand": v.brand,
                    "gtin": v.gtin,
                    "mpn": v.mpn,
                    "price": v.price,
                    "regular_price": v.regular_price,
                    "high_price": v.high_price,
                    "currency": v.currency,
                    "availability": v.availability,
                    "stock_quantity": v.stock_quantity,
                    "review_count": v.review_count,
                    "rating": v.rating,
                    "sold_count": v.sold_count,
                    "rank": v.rank,
                    "listing_position": v.listing_position,
                    "category": v.category,
                    "true_sku": v.true_sku,
                    "shown_price_kind": v.kind,
                    "last_modified": hour_to_datetime(v.last_modified),
                    "fault": plan.page_fault(v.path),
                    "hostile": int(self.offers.hostile[i]) > 0,
                }
            )
        frame = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
        for col in ("stock_quantity", "review_count", "sold_count", "rank"):
            frame[col] = frame[col].astype("Int64")
        return frame

    def truth_all(self, at: datetime | None = None) -> pd.DataFrame:
        """Every shop's truth in one frame, with a ``site`` column (e.g. the true matches)."""
        frames = [self.truth(s.name, at).assign(site=s.name) for s in self.sites]
        return pd.concat(frames, ignore_index=True)

    def catalog_frame(self) -> pd.DataFrame:
        return catalog_frame(self.products)

    def clicks_frame(self, days: int = 90) -> pd.DataFrame:
        from shopsim.demand import clicks_frame

        return clicks_frame(self, days)

    @property
    def true_elasticity(self) -> dict[str, float]:
        return {c.slug: c.elasticity for c in CATEGORIES}


TRUTH_COLUMNS = [
    "url",
    "path",
    "title",
    "brand",
    "gtin",
    "mpn",
    "price",
    "regular_price",
    "high_price",
    "currency",
    "availability",
    "stock_quantity",
    "review_count",
    "rating",
    "sold_count",
    "rank",
    "listing_position",
    "category",
    "true_sku",
    "shown_price_kind",
    "last_modified",
    "fault",
    "hostile",
]
