"""The record every syntax is read into before the quality gate, and shared value readers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from crawler.extraction.currency import ISO_CODES
from crawler.extraction.prices import parse_price_details


@dataclass(slots=True)
class RawOffer:
    """One sellable thing as one syntax on the page states it (before the quality gate)."""

    source: str  # jsonld, microdata, opengraph, selector
    url: str | None = None
    title: str | None = None
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    price_raw: str | None = None
    price_note: str | None = None  # e.g. "lowPrice" for an AggregateOffer range
    currency: str | None = None
    regular_price: Decimal | None = None
    availability: object = None  # as written; normalized later
    stock_quantity: int | None = None
    shipping: Decimal | None = None
    rating: float | None = None
    review_count: int | None = None
    sold_count: int | None = None
    rank: int | None = None
    variant: str | None = None
    extras: dict = field(default_factory=dict)


_PLAIN_AMOUNT = re.compile(r"\d+(?:\.\d+)?")


def money(value: object, currency: str | None, hint: str | None = None) -> Decimal | None:
    """A machine-readable amount: a JSON number, "19.99", or (written by hand) "1.299,00 €"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        value = value.get("@value", value.get("value"))
        if value is None:
            return None
    if isinstance(value, int | float):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    text = str(value).strip()
    if _PLAIN_AMOUNT.fullmatch(text):  # schema.org's own format: "." decimal, no groups
        return Decimal(text)
    return parse_price_details(text, currency_hint=currency or hint).amount


def iso_code(value: object) -> str | None:
    """A priceCurrency value, if it is an ISO 4217 code."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in ISO_CODES else None


_EMPTY = (None, "", [], {})


def first(*values: object) -> object:
    """The first value that says something (not None, "", [] or {})."""
    for value in values:  # a loop, not next(genexpr): called a dozen times per offer
        if value not in _EMPTY:
            return value
    return None
