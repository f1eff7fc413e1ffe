"""Builders for rules tests: hand-written products and offers, as frames or in a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from pricing.rules.config import Rates, parse_strategies
from pricing.rules.inputs import prepare_offers
from pricing.store.models import CrawlRun, Match, Offer, Product, Site
from tests.history_states import new_state_id

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday

PRODUCT_DEFAULTS = dict(
    sku=None,
    category="Misc",
    brand="Acme",
    tags=None,
    cost=None,
    price=20.0,
    floor=None,
    ceiling=None,
    map_price=None,
    currency="USD",
    in_stock=True,
    price_changed_at=None,
    elasticity=None,
)
OFFER_DEFAULTS = dict(
    price=20.0,
    currency="USD",
    availability="in_stock",
    suspect=False,
    broken=False,
    age_h=1.0,
    confidence=0.95,
    substitute=False,
    match_status="accepted",
)


def strategy_file(*strategies: dict, **settings) -> object:
    """A StrategyFile from plain dicts (defaults: reference lowest, adjustment match)."""
    items = [
        {"name": f"s{i}", "reference": {"kind": "lowest"}, **s} for i, s in enumerate(strategies)
    ]
    return parse_strategies({"settings": settings, "strategies": items}, "test.yaml")


def frames(
    products: list[dict], offers: list[dict], rates: Rates | None = None, now: datetime = NOW
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products and offers frames shaped exactly as the store loader shapes them."""
    prows = []
    for i, p in enumerate(products, start=1):
        row = {**PRODUCT_DEFAULTS, **p, "product_id": p.get("product_id", i)}
        row["sku"] = row["sku"] or f"SKU{row['product_id']}"
        row["tags"] = row["tags"] or []
        row["elasticity_scope"] = "sku" if row["elasticity"] is not None else ""
        prows.append(row)
    prod = pd.DataFrame(prows).set_index("product_id")
    for col in ("cost", "price", "floor", "ceiling", "map_price", "elasticity"):
        prod[col] = prod[col].astype("float64")
    prod["price_changed_at"] = pd.to_datetime(prod["price_changed_at"], utc=True)
    orows = []
    for j, o in enumerate(offers, start=1):
        row = {**OFFER_DEFAULTS, **o}
        orows.append(
            {
                "product_id": row.get("product_id", 1),
                "offer_id": j,
                "site": row.get("site", f"shop{j}"),
                "orig_price": row["price"],
                "orig_currency": row["currency"],
                "confidence": row["confidence"],
                "substitute": row["substitute"],
                "suspect": row["suspect"],
                "confirmed": row["match_status"] == "confirmed",
                "in_stock": row["availability"] == "in_stock",
                "broken": row["broken"],
                "data_at": now - timedelta(hours=row["age_h"]),
            }
        )
    raw = pd.DataFrame(orows, columns=RAW_OFFER_COLUMNS)
    raw["orig_price"] = raw["orig_price"].astype("float64")
    raw["confidence"] = raw["confidence"].astype("float64")
    for col in ("substitute", "suspect", "confirmed", "in_stock", "broken"):
        raw[col] = raw[col].astype(bool)
    raw["data_at"] = pd.to_datetime(raw["data_at"], utc=True)
    return prod, prepare_offers(raw, prod, rates or Rates())


RAW_OFFER_COLUMNS = [
    "product_id",
    "offer_id",
    "site",
    "orig_price",
    "orig_currency",
    "confidence",
    "substitute",
    "suspect",
    "confirmed",
    "in_stock",
    "broken",
    "data_at",
]


def evaluate_one(strategy: dict, offers: list[dict], product: dict | None = None, **settings):
    """Evaluate one product (id 1) under one strategy; the row of its evaluation."""
    from pricing.rules.evaluate import evaluate

    sf = strategy_file(strategy, **settings)
    products, offer_frame = frames([product or {}], offers, sf.settings.currency_rates)
    return evaluate(products, offer_frame, sf, NOW).products.loc[1]


class StoreBuilder:
    """Writes hand-made sites, runs, products, offers and matches into a real store."""

    def __init__(self, engine: Engine, now: datetime = NOW):
        self.engine, self.now, self._sites = engine, now, {}

    def site(self, name: str, currency: str | None = "USD") -> int:
        if name not in self._sites:
            with self.engine.begin() as c:
                self._sites[name] = c.execute(
                    insert(Site).values(
                        name=name, base_url=f"http://{name}.test", currency=currency
                    )
                ).inserted_primary_key[0]
        return self._sites[name]

    def run(self, site: str, health: str = "healthy") -> int:
        with self.engine.begin() as c:
            return c.execute(
                insert(CrawlRun).values(
                    site_id=self.site(site), status="finished", health=health, started_at=self.now
                )
            ).inserted_primary_key[0]

    def product(self, sku: str, **kw) -> int:
        values = {"title": sku, "sku": sku, "price": 20, "currency": "USD", **kw}
        with self.engine.begin() as c:
            return c.execute(insert(Product).values(**values)).inserted_primary_key[0]

    def offer(
        self,
        product_id: int,
        site: str,
        price: float | None,
        *,
        currency: str | None = "USD",
        availability: str = "in_stock",
        suspect: bool = False,
        health: str = "healthy",
        age_h: float = 1.0,
        confidence: float = 0.95,
        status: str = "accepted",
        substitute: bool = False,
    ) -> int:
        site_id, run_id = self.site(site), self.run(site, health)
        seen = self.now - timedelta(hours=age_h)
        with self.engine.begin() as c:
            offer_id = c.execute(
                insert(Offer).values(
                    site_id=site_id,
                    url=f"http://{site}.test/p{product_id}-{price}-{age_h}",
                    first_seen=seen,
                    last_seen=seen,
                    # One state, current: it lives in the offers row (no observations row).
                    current_observation_id=new_state_id(c),
                    cur_valid_from=seen,
                    cur_price=price,
                    cur_currency=currency,
                    cur_availability=availability,
                    cur_suspect=suspect,
                    cur_first_run_id=run_id,
                    cur_run_id=run_id,
                )
            ).inserted_primary_key[0]
            c.execute(
                insert(Match).values(
                    product_id=product_id,
                    offer_id=offer_id,
                    confidence=confidence,
                    method="gtin",
                    status=status,
                    substitute=substitute,
                )
            )
        return offer_id


@pytest.fixture
def store(db_engine) -> StoreBuilder:
    return StoreBuilder(db_engine)


@pytest.fixture
def sqlite_store(sqlite_engine) -> StoreBuilder:
    return StoreBuilder(sqlite_engine)
