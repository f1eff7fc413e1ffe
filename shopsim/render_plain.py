"""Family "plain": classes only, no structured data; the site config's selectors read it."""

from __future__ import annotations

from shopsim.market import OfferView
from shopsim.render_common import Ctx, card, listing_body, page, product_body


def product(ctx: Ctx, v: OfferView) -> str:
    return page(ctx, v.title, product_body(ctx, v))


def listing(
    ctx: Ctx, views: list[OfferView], name: str, category: str, page_no: int, pages: int
) -> str:
    body = listing_body(ctx, name, [card(ctx, v) for v in views], category, page_no, pages)
    return page(ctx, name, body)
