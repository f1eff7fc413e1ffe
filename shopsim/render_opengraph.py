"""Family "opengraph": product pages carry og: and product: meta tags (Facebook catalogue style).

Listings have no structured data (OpenGraph describes one object per page), so the site
config's selectors read them.
"""

from __future__ import annotations

from shopsim.market import OfferView
from shopsim.render_common import Ctx, esc, page, product_body
from shopsim.render_plain import listing

__all__ = ["listing", "product"]

OG_AVAILABILITY = {
    "in_stock": "in stock",
    "out_of_stock": "out of stock",
    "preorder": "preorder",
    "backorder": "available for order",
}


def _meta(prop: str, value: object) -> str:
    return f'<meta property="{prop}" content="{esc(str(value))}">'


def product(ctx: Ctx, v: OfferView) -> str:
    tags = [
        _meta("og:type", "product"),
        _meta("og:title", v.title),
        _meta("og:url", ctx.base_url + v.path),
        _meta("og:site_name", ctx.site.name),
    ]
    if v.price is not None:
        tags.append(_meta("product:price:amount", v.price))
        tags.append(_meta("product:price:currency", v.currency))
    if v.regular_price is not None:
        tags.append(_meta("product:sale_price:amount", v.price))
        tags.append(_meta("product:original_price:amount", v.regular_price))
    tags.append(_meta("product:availability", OG_AVAILABILITY[v.availability]))
    if v.brand is not None:
        tags.append(_meta("product:brand", v.brand))
    if v.gtin is not None:
        tags.append(_meta("product:ean", v.gtin))
    if v.mpn is not None:
        tags.append(_meta("product:mfr_part_no", v.mpn))
    return page(ctx, v.title, product_body(ctx, v), head="".join(tags))
