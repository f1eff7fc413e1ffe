"""JSON APIs: a site's paginated JSON read row by row into offers, by JMESPath paths.

The site config names, per offer field, a JMESPath into each row (``crawler/sites/example.yaml``).
Plain dotted paths (nearly all of them) are read without jmespath (:class:`FieldPath`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath

from crawler.extract import (
    normalize_gtin,
    parse_availability,
    parse_count,
    parse_price,
    parse_rank,
    parse_rating,
)
from crawler.items import Offer
from crawler.siteconfig import JsonApi, SiteConfig
from crawler.urls import join_url

PARSERS = {
    "stock_quantity": parse_count,
    "review_count": parse_count,
    "sold_count": parse_count,
    "rank": parse_rank,
    "rating": parse_rating,
    "gtin": normalize_gtin,
}
MONEY_FIELDS = {"price", "regular_price", "shipping"}
_PLAIN_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _money(value: Any, site: SiteConfig) -> Decimal | None:
    """An API amount: a JSON number or a machine-written "205.49" is taken as is (whatever the
    site's display locale); anything else is text a person would read, so price-parser."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _PLAIN_NUMBER.match(value)):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    amount, _currency = parse_price(
        str(value), currency_hint=site.currency, decimal_separator=site.decimal_separator
    )
    return amount


_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class FieldPath:
    """A JMESPath of plain field names (``price.amount``), read without jmespath.

    jmespath builds an interpreter on every ``search``: that was most of the cost of an API row
    (a dozen fields each). Same answers: a missing key or a step into a non-object gives None.
    """

    __slots__ = ("keys",)

    def __init__(self, path: str):
        self.keys = tuple(path.split("."))

    def search(self, value: Any) -> Any:
        for key in self.keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def compile_path(path: str) -> Any:
    """A JMESPath expression, compiled; plain field paths as a :class:`FieldPath`."""
    return FieldPath(path) if _FIELD_PATH.fullmatch(path) else jmespath.compile(path)


def compile_api(api: JsonApi) -> dict[str, Any]:
    return {
        "items": compile_path(api.items),
        "next": compile_path(api.next) if api.next else None,
        "fields": {name: compile_path(path) for name, path in api.fields.items()},
    }


def offer_from_api_row(
    row: Any, fields: dict[str, Any], site: SiteConfig, page_url: str
) -> Offer | None:
    """An API row mapped field by field with the config's (compiled) JMESPath expressions."""
    if not isinstance(row, dict):
        return None
    values: dict[str, Any] = {}
    for name, expression in fields.items():
        value = expression.search(row)
        if value is not None and not isinstance(value, dict | list):
            values[name] = value
    url = values.pop("url", None)
    if not isinstance(url, str) or not url:
        return None
    offer = Offer(url=join_url(page_url, url), price_source="api", confidence=1.0)
    for name, value in values.items():
        if name in MONEY_FIELDS:
            value = _money(value, site)
        elif name in PARSERS:
            value = PARSERS[name](value)
        elif name == "availability":
            value, quantity = parse_availability(value)
            if quantity is not None and "stock_quantity" not in values:
                offer.stock_quantity = quantity
        elif name == "currency":
            value = str(value).strip().upper()[:3] or None
        else:
            value = str(value).strip()[:500] or None
        if value is not None:
            setattr(offer, name, value)
    if offer.currency is None:
        offer.currency = site.currency
    return offer
