"""Reading the store into DataFrames for analytics: clicks, matched competitor observations.

Money arrives as floats: analytics is statistics, not bookkeeping. Observations from crawl runs
judged broken are left out, and so are suspect ones: a broken run's numbers must not shape a
price index or a competitor's behaviour.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, and_, or_, select

from pricing.store.models import (
    ClickDaily,
    CrawlRun,
    Match,
    MatchStatus,
    Offer,
    Product,
    RunHealth,
    Site,
)
from pricing.store.views import OfferState

GOOD_MATCH = (MatchStatus.accepted.value, MatchStatus.confirmed.value)
CLICK_COLUMNS = [
    "sku",
    "category",
    "day",
    "views",
    "clicks",
    "add_to_cart",
    "orders",
    "revenue",
    "price",
]


def _frame(engine: Engine, stmt) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def load_clicks(
    engine: Engine, since: dt.date | None = None, until: dt.date | None = None
) -> pd.DataFrame:
    """Daily clicks joined to SKU and category; ``price`` falls back to the catalog price."""
    stmt = select(
        Product.sku,
        Product.category,
        ClickDaily.day,
        ClickDaily.views,
        ClickDaily.clicks,
        ClickDaily.add_to_cart,
        ClickDaily.orders,
        ClickDaily.revenue,
        ClickDaily.price,
        Product.price.label("catalog_price"),
    ).join(Product, Product.id == ClickDaily.product_id)
    if since:
        stmt = stmt.where(ClickDaily.day >= since)
    if until:
        stmt = stmt.where(ClickDaily.day <= until)
    frame = _frame(engine, stmt)
    if frame.empty:
        return pd.DataFrame(columns=CLICK_COLUMNS)
    frame["day"] = pd.to_datetime(frame["day"])
    for col in ("revenue", "price", "catalog_price"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["price"] = frame["price"].fillna(frame.pop("catalog_price"))
    frame["category"] = frame["category"].fillna("(none)")
    return frame[CLICK_COLUMNS]


def load_observations(
    engine: Engine,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    *,
    matched_only: bool = False,
) -> pd.DataFrame:
    """Competitor price states overlapping [since, until], with site and (if matched) SKU.

    One row per distinct state (valid_from..valid_to); states of broken runs and suspect states
    are dropped.
    """
    obs = OfferState
    stmt = (
        select(
            obs.offer_id,
            Site.name.label("site"),
            obs.valid_from,
            obs.valid_to,
            obs.price,
            obs.currency,
            Product.sku,
            Product.currency.label("our_currency"),
        )
        .join(Offer, Offer.id == obs.offer_id)
        .join(Site, Site.id == Offer.site_id)
        .outerjoin(CrawlRun, CrawlRun.id == obs.run_id)
        .outerjoin(
            Match,
            and_(
                Match.offer_id == obs.offer_id,
                Match.status.in_(GOOD_MATCH),
                Match.substitute.is_(False),
            ),
        )
        .outerjoin(Product, Product.id == Match.product_id)
        .where(obs.suspect.is_(False))
        .where(or_(CrawlRun.health.is_(None), CrawlRun.health != RunHealth.broken.value))
    )
    if matched_only:
        stmt = stmt.where(Match.id.is_not(None))
    if since:
        stmt = stmt.where(obs.valid_to >= since)
    if until:
        stmt = stmt.where(obs.valid_from <= until)
    frame = _frame(engine, stmt)
    if frame.empty:
        return frame
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64")
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.sort_values(["offer_id", "valid_from"], ignore_index=True)
