"""OpenGraph ``og:``/``product:`` meta tags (Facebook/Pinterest product pins) to a RawOffer."""

from __future__ import annotations

from crawler.extraction.normalize import normalize_gtin
from crawler.extraction.records import RawOffer, first, iso_code, money
from crawler.extraction.text import clean_optional
from crawler.urls import join_url

_OG_PRICE = (
    "product:sale_price:amount",
    "product:price:amount",
    "og:price:amount",
    "product:price",
)
_OG_CURRENCY = ("product:sale_price:currency", "product:price:currency", "og:price:currency")


def raw_offers_from_opengraph(items: list, page_url: str, hint: str | None) -> list[RawOffer]:
    """OpenGraph describes the page's one product (og:type product, product:* tags)."""
    result = []
    for item in items:
        if not isinstance(item, dict):
            continue
        price_key = next((k for k in _OG_PRICE if item.get(k)), None)
        if price_key is None and str(item.get("@type", "")).lower() not in (
            "product",
            "og:product",
            "product.item",
        ):
            continue
        currency = iso_code(first(*(item.get(k) for k in _OG_CURRENCY)))
        raw = item.get(price_key) if price_key else None
        regular = item.get("product:original_price:amount") or (
            item.get("product:price:amount") if price_key == "product:sale_price:amount" else None
        )
        url = item.get("og:url")
        result.append(
            RawOffer(
                source="opengraph",
                url=join_url(page_url, url) if isinstance(url, str) and url else None,
                title=clean_optional(item.get("og:title")),
                brand=clean_optional(item.get("product:brand") or item.get("og:brand"), 200),
                gtin=normalize_gtin(
                    first(
                        item.get("product:ean"),
                        item.get("product:upc"),
                        item.get("product:gtin"),
                        item.get("product:isbn"),
                    )
                ),
                sku=clean_optional(item.get("product:retailer_item_id"), 100),
                mpn=clean_optional(item.get("product:mfr_part_no"), 100),
                price=money(raw, currency, hint),
                price_raw=None if raw is None else str(raw)[:100],
                currency=currency,
                regular_price=money(regular, currency, hint),
                availability=first(item.get("product:availability"), item.get("og:availability")),
            )
        )
    return result[:1]
