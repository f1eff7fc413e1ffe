"""Family "mismatch": JSON-LD says the list price while the page shows the sale price.

Real shops do this when the structured data comes from the catalogue feed and the sale from
the front end. The buyer pays what the page shows, so the truth is the visible price; the site
config says ``price_rule: visible``.
"""

from __future__ import annotations

from shopsim.market import OfferView
from shopsim.render_common import Ctx, card, json_script, listing_body, page, product_body
from shopsim.render_jsonld import ld_product


def product(ctx: Ctx, v: OfferView) -> str:
    ld = json_script({"@context": "https://schema.org", **ld_product(ctx, v, list_price=True)})
    return page(ctx, v.title, product_body(ctx, v), head=ld)


def listing(
    ctx: Ctx, views: list[OfferView], name: str, category: str, page_no: int, pages: int
) -> str:
    body = listing_body(ctx, name, [card(ctx, v) for v in views], category, page_no, pages)
    return page(ctx, name, body)
