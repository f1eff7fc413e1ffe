"""What the history writer takes and returns, and how it makes scraped values storable.

Scraped values are unbounded: a title of 10,000 characters, a sold count of 2**40, a price
of 10**15. None of them may abort a batch of thousands on a column's size, so they are cut
or dropped (and a price that does not fit is flagged suspect) before any statement runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

MONEY_MAX = 10**10  # NUMERIC(14, 4) holds ten integer digits
INT_MAX = 2**31 - 1


@dataclass(slots=True)
class ObservationRecord:
    """One sighting of an offer, as the crawler pipeline hands it to the store."""

    url: str
    observed_at: datetime
    title: str | None = None
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    site_sku: str | None = None
    price: Decimal | None = None
    regular_price: Decimal | None = None
    shipping: Decimal | None = None
    currency: str | None = None
    availability: str = "unknown"
    stock_quantity: int | None = None
    review_count: int | None = None
    sold_count: int | None = None
    rank: int | None = None
    rating: float | None = None
    suspect: bool = False
    price_source: str | None = None
    confidence: float | None = None


@dataclass(slots=True)
class WriteResult:
    offers_created: int = 0
    # New states (each replaces the offer's current one, or is its first).
    rows_inserted: int = 0
    # Sightings of an unchanged state: only its last-seen time moved.
    rows_extended: int = 0
    suspect: int = 0
    # Records older than what the store already knows of their offer: ignored.
    stale: int = 0


def identity(rec: ObservationRecord) -> tuple:
    """The offer's identity columns, cut to the column sizes."""
    t, b, g, m, k = rec.title, rec.brand, rec.gtin, rec.mpn, rec.site_sku
    return (
        t if t is None or len(t) <= 500 else t[:500],
        b if b is None or len(b) <= 200 else b[:200],
        g if g is None or len(g) <= 14 else g[:14],
        m if m is None or len(m) <= 100 else m[:100],
        k if k is None or len(k) <= 100 else k[:100],
    )


def int32(value: int | None) -> int | None:
    """Counts outside a 32-bit INTEGER are scraping noise: stored as unknown."""
    return value if value is None or -INT_MAX <= value <= INT_MAX else None


def as_decimal(value) -> Decimal | None:
    """A storage-form amount (Decimal, or float on SQLite) as the Decimal callers expect."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))
