"""Family "microdata": schema.org itemprops in the visible markup, on listings too."""

from __future__ import annotations

from shopsim.market import OfferView
from shopsim.render_common import (
    SCHEMA_AVAILABILITY,
    Ctx,
    card,
    esc,
    listing_body,
    page,
    product_body,
)

PRODUCT = ' itemscope itemtype="https://schema.org/Product"'


def _props(ctx: Ctx, v: OfferView) -> str:
    """Hidden itemprops: the machine-readable twin of what the page shows."""
    parts = [f'<link itemprop="url" href="{ctx.base_url}{v.path}">']
    if v.brand is not None:
        parts.append(
            '<span itemprop="brand" itemscope itemtype="https://schema.org/Brand">'
            f'<meta itemprop="name" content="{esc(v.brand)}"></span>'
        )
    if v.gtin is not None:
        parts.append(f'<meta itemprop="gtin13" content="{v.gtin}">')
    if v.mpn is not None:
        parts.append(f'<meta itemprop="mpn" content="{esc(v.mpn)}">')
    if v.rating is not None or v.review_count is not None:
        rating = '<span itemprop="aggregateRating" itemscope itemtype="https://schema.org/AggregateRating">'
        if v.rating is not None:
            rating += f'<meta itemprop="ratingValue" content="{v.rating}">'
        if v.review_count is not None:
            rating += f'<meta itemprop="reviewCount" content="{v.review_count}">'
        parts.append(rating + "</span>")
    if v.kind in ("from", "range"):
        offer = (
            '<span itemprop="offers" itemscope itemtype="https://schema.org/AggregateOffer">'
            f'<meta itemprop="lowPrice" content="{v.price}">'
            f'<meta itemprop="highPrice" content="{v.high_price}">'
        )
    else:
        offer = '<span itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        if v.price is not None:
            offer += f'<meta itemprop="price" content="{v.price}">'
    offer += f'<meta itemprop="priceCurrency" content="{v.currency}">'
    offer += f'<link itemprop="availability" href="{SCHEMA_AVAILABILITY[v.availability]}">'
    if v.stock_quantity is not None:
        offer += f'<meta itemprop="inventoryLevel" content="{v.stock_quantity}">'
    parts.append(offer + "</span>")
    return "".join(parts)


def product(ctx: Ctx, v: OfferView) -> str:
    body = product_body(ctx, v, {"root": PRODUCT, "title": ' itemprop="name"'})
    body = body.replace("</article>", _props(ctx, v) + "</article>", 1)
    return page(ctx, v.title, body)


def _card(ctx: Ctx, v: OfferView) -> str:
    html = card(ctx, v, extra=_props(ctx, v), root_attrs=PRODUCT)
    # On an <a>, an itemprop's value is its href: the name goes on an inner span.
    title = esc(v.title)
    return html.replace(f">{title}</a>", f'><span itemprop="name">{title}</span></a>', 1)


def listing(
    ctx: Ctx, views: list[OfferView], name: str, category: str, page_no: int, pages: int
) -> str:
    body = listing_body(ctx, name, [_card(ctx, v) for v in views], category, page_no, pages)
    return page(ctx, name, body)
