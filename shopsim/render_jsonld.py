"""Family "jsonld": schema.org Product/Offer in JSON-LD; listings carry an ItemList."""

from __future__ import annotations

from shopsim.market import OfferView
from shopsim.render_common import (
    SCHEMA_AVAILABILITY,
    Ctx,
    card,
    json_script,
    listing_body,
    page,
    product_body,
)


def ld_offer(ctx: Ctx, v: OfferView, *, list_price: bool = False) -> dict:
    """The Offer part; ``list_price`` puts the pre-sale price in (what the mismatch family does)."""
    offer: dict = {"priceCurrency": v.currency, "availability": SCHEMA_AVAILABILITY[v.availability]}
    if v.kind in ("from", "range"):
        offer = {
            "@type": "AggregateOffer",
            "lowPrice": str(v.price),
            "highPrice": str(v.high_price),
            **offer,
        }
    elif v.kind == "call":
        offer = {"@type": "Offer", **offer}
    else:
        shown = v.list_price if list_price else v.price
        offer = {"@type": "Offer", "price": str(shown), **offer}
    if v.stock_quantity is not None:
        offer["inventoryLevel"] = {"@type": "QuantitativeValue", "value": v.stock_quantity}
    offer["url"] = ctx.base_url + v.path
    return offer


def ld_product(ctx: Ctx, v: OfferView, *, list_price: bool = False) -> dict:
    data: dict = {"@type": "Product", "name": v.title, "url": ctx.base_url + v.path}
    if v.brand is not None:
        data["brand"] = {"@type": "Brand", "name": v.brand}
    if v.gtin is not None:
        data["gtin13"] = v.gtin
    if v.mpn is not None:
        data["mpn"] = v.mpn
    if v.rating is not None or v.review_count is not None:
        rating: dict = {"@type": "AggregateRating"}
        if v.rating is not None:
            rating["ratingValue"] = v.rating
        if v.review_count is not None:
            rating["reviewCount"] = v.review_count
        data["aggregateRating"] = rating
    data["offers"] = ld_offer(ctx, v, list_price=list_price)
    return data


def product(ctx: Ctx, v: OfferView) -> str:
    ld = json_script({"@context": "https://schema.org", **ld_product(ctx, v)})
    return page(ctx, v.title, product_body(ctx, v), head=ld)


def listing(
    ctx: Ctx, views: list[OfferView], name: str, category: str, page_no: int, pages: int
) -> str:
    items = [
        {"@type": "ListItem", "position": v.listing_position, "item": ld_product(ctx, v)}
        for v in views
    ]
    ld = json_script(
        {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": items}
    )
    body = listing_body(ctx, name, [card(ctx, v) for v in views], category, page_no, pages)
    return page(ctx, name, body, head=ld)
