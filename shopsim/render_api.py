"""Family "api": a paginated JSON API (``/api/v1/products?page=N``) besides the HTML pages.

The HTML pages of an API shop use the JSON-LD templates; the crawler's config points at the
API, which returns every listed offer in pages of ``per_page`` items.
"""

from __future__ import annotations

import json

from shopsim.market import OfferView
from shopsim.render_common import SCHEMA_AVAILABILITY, Ctx
from shopsim.render_jsonld import listing, product

__all__ = ["API_PATH", "api_item", "api_page", "listing", "product"]

API_PATH = "/api/v1/products"


def api_item(ctx: Ctx, v: OfferView, position: int) -> dict:
    price: dict = {"amount": None if v.price is None else str(v.price), "currency": v.currency}
    if v.regular_price is not None:
        price["regular"] = str(v.regular_price)
    if v.high_price is not None:
        price["max"] = str(v.high_price)
    # Odd shops use schema.org URLs for availability in their API, the rest plain words.
    availability = v.availability
    if ctx.site.index % 4 == 0:
        availability = SCHEMA_AVAILABILITY[v.availability]
    item: dict = {
        "url": ctx.base_url + v.path,
        "name": v.title,
        "brand": v.brand,
        "gtin": v.gtin,
        "mpn": v.mpn,
        "category": v.category,
        "position": position,
        "price": price,
        "availability": availability,
        "stock": {"quantity": v.stock_quantity},
        "reviews": {"count": v.review_count, "rating": v.rating},
        "sold": v.sold_count,
        "rank": v.rank,
    }
    return item


def api_page(ctx: Ctx, views: list[OfferView], page_no: int, pages: int, per_page: int) -> str:
    items = [api_item(ctx, v, (page_no - 1) * per_page + k + 1) for k, v in enumerate(views)]
    nxt = f"{ctx.base_url}{API_PATH}?page={page_no + 1}" if page_no < pages else None
    data = {"page": page_no, "pages": pages, "per_page": per_page, "items": items, "next": nxt}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
