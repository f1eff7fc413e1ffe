"""The records a crawl produces: an :class:`Offer`, carried page by page in an :class:`OfferBatch`.

``crawler.extract.extract_offers`` returns offers, the spider adds crawl context and yields one
batch per page, and the pipelines validate and store its offers one by one. Scrapy handles
dataclass items natively (itemadapter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

AVAILABILITY_VALUES = ("in_stock", "out_of_stock", "preorder", "backorder", "unknown")


@dataclass(slots=True)
class PriceCandidate:
    """One way a page stated a price, kept so disagreements can be explained."""

    source: str  # jsonld, microdata, opengraph, selector, visible, api
    amount: Decimal | None
    currency: str | None
    raw: str | None = None


@dataclass(slots=True)
class Offer:
    url: str
    title: str | None = None
    price: Decimal | None = None  # what a buyer pays now (the sale price when on sale)
    regular_price: Decimal | None = None  # list / struck-through price, when shown
    currency: str | None = None  # ISO 4217
    availability: str = "unknown"  # one of AVAILABILITY_VALUES
    stock_quantity: int | None = None
    gtin: str | None = None
    mpn: str | None = None
    sku: str | None = None
    brand: str | None = None
    review_count: int | None = None
    rating: float | None = None
    sold_count: int | None = None
    rank: int | None = None
    shipping: Decimal | None = None
    variant: str | None = None  # e.g. "size=XL; colour=red" for one variant of a product page
    # How the price was found, and how sure we are (1.0: every source agreed).
    price_source: str | None = None
    confidence: float | None = None
    candidates: list[PriceCandidate] = field(default_factory=list)
    disagreement: str | None = None  # set when sources disagree: what each said
    # Crawl context, filled by the spider.
    site: str | None = None
    observed_at: datetime | None = None
    page_kind: str | None = None  # product, listing, api
    suspect: bool = False
    suspect_reason: str | None = None


@dataclass(slots=True)
class OfferBatch:
    """Every offer one page yielded, as one Scrapy item.

    Scrapy's per-item machinery (a task, the pipeline chain, a log record, signals, stats) cost
    more than reading an offer off a listing page, and a listing page shows dozens. So a page's
    offers travel together, and each stays an offer where it matters: the pipelines validate and
    drop them one by one (each drop logged, signalled and counted as Scrapy would), and
    ``item_scraped_count`` counts offers (crawler/extensions/offerstats.py counts a batch as
    its offers), so run records and health read the same numbers as before.
    """

    url: str  # the page the offers were read from
    offers: list[Offer] = field(default_factory=list)
