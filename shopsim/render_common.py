"""Pieces every HTML family shares: page frame, visible price, stock wording, popularity.

Pages are built with plain string concatenation (no template engine): the server must render
thousands of pages a second on one core. Every piece of shop data goes through ``esc``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from shopsim.market import OfferView
from shopsim.shops import CHANGED_PRICE_CLASS, SiteSpec

SCHEMA_AVAILABILITY = {
    "in_stock": "https://schema.org/InStock",
    "out_of_stock": "https://schema.org/OutOfStock",
    "preorder": "https://schema.org/PreOrder",
    "backorder": "https://schema.org/BackOrder",
}
CAPTCHA_ID = "captcha-challenge"


def esc(text: str) -> str:
    return escape(text, quote=True)


def json_script(data: dict) -> str:
    """JSON for a <script> element: '<' escaped so no title can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return '<script type="application/ld+json">' + text.replace("<", "\\u003c") + "</script>"


@dataclass(slots=True)
class Ctx:
    """What a renderer needs besides the offer: the shop, its URL, its layout state."""

    site: SiteSpec
    base_url: str
    nav: str  # category links, the same on every page of the shop
    layout_changed: bool = False

    @property
    def price_class(self) -> str:
        return CHANGED_PRICE_CLASS if self.layout_changed else self.site.theme.price


def money_text(site: SiteSpec, amount: Decimal) -> str:
    return site.locale.format(amount)


def money_html(site: SiteSpec, amount: Decimal) -> str:
    """A price as HTML; split shops put the fraction in <sup> (text still reads 12.99)."""
    loc = site.locale
    if not site.split_price:
        return esc(loc.format(amount))
    whole, frac = loc.parts(amount)
    if not frac:
        return _wrap_split(loc, f'<span class="whole">{esc(whole)}</span>')
    number = (
        f'<span class="whole">{esc(whole)}<span class="dec">{loc.decimal}</span></span>'
        f'<sup class="frac">{frac}</sup>'
    )
    return _wrap_split(loc, number)


def _wrap_split(loc, number: str) -> str:
    sym = f'<span class="cur">{esc(loc.symbol)}</span>'
    space = "\u00a0" if loc.symbol_space else ""
    return f"{sym}{space}{number}" if loc.symbol_first else f"{number}{space}{sym}"


def price_block(ctx: Ctx, v: OfferView) -> str:
    site, cls = ctx.site, ctx.price_class
    if v.kind == "call":
        return f'<span class="{cls} call-for-price">Call for price</span>'
    if v.kind == "from":
        return f'<span class="{cls}">From {money_html(site, v.price)}</span>'
    if v.kind == "range":
        low, high = money_html(site, v.price), money_html(site, v.high_price)
        return f'<span class="{cls}">{low} – {high}</span>'
    html = f'<span class="{cls}">{money_html(site, v.price)}</span>'
    if v.regular_price is not None:
        regular = money_html(site, v.regular_price)
        html = f'<del class="{site.theme.regular}">{regular}</del> {html}'
    return html


def stock_text(site: SiteSpec, v: OfferView) -> str:
    if v.availability == "in_stock":
        if site.stock_style == "quantity":
            return f"{v.quantity} in stock"
        if site.stock_style == "low" and v.quantity <= 5:
            return f"Only {v.quantity} left"
        return "In stock"
    if v.availability == "out_of_stock":
        return "Sold out" if site.stock_style == "low" else "Out of stock"
    if v.availability == "preorder":
        return "Pre-order"
    return "Ships in 2-3 weeks"


def stock_block(site: SiteSpec, v: OfferView) -> str:
    return f'<span class="{site.theme.stock}">{stock_text(site, v)}</span>'


def sold_text(site: SiteSpec, sold: int) -> str:
    if site.sold_k and sold >= 1000:
        return f"{sold / 1000:.1f}k sold"
    return f"{sold:,} sold"


def popularity_block(site: SiteSpec, v: OfferView) -> str:
    parts = []
    if v.rating is not None:
        parts.append(f'<span class="rating" title="{v.rating} out of 5">{v.rating} out of 5</span>')
    if v.review_count is not None:
        noun = "review" if v.review_count == 1 else "reviews"
        parts.append(f'<span class="reviews">({v.review_count:,} {noun})</span>')
    if v.sold_count is not None:
        parts.append(f'<span class="sold">{sold_text(site, v.sold_count)}</span>')
    if v.rank is not None:
        parts.append(f'<span class="rank">#{v.rank} in {esc(v.category_name)}</span>')
    return '<div class="popularity">' + " ".join(parts) + "</div>" if parts else ""


def ids_block(v: OfferView) -> str:
    rows = []
    if v.brand is not None:
        rows.append(f'<dt>Brand</dt><dd class="brand">{esc(v.brand)}</dd>')
    if v.gtin is not None:
        rows.append(f'<dt>EAN</dt><dd class="gtin">{v.gtin}</dd>')
    if v.mpn is not None:
        rows.append(f'<dt>Part number</dt><dd class="mpn">{esc(v.mpn)}</dd>')
    return '<dl class="specs">' + "".join(rows) + "</dl>" if rows else ""


def page(ctx: Ctx, title: str, body: str, head: str = "") -> str:
    site = ctx.site
    return (
        f'<!DOCTYPE html><html lang="{site.locale.code[:2]}"><head><meta charset="utf-8">'
        f"<title>{esc(title)} | {site.name}</title>{head}</head><body>"
        f'<header><a class="logo" href="/">{site.name}</a><nav>{ctx.nav}</nav>'
        '<a href="/cart">Cart</a> <a href="/account/login">Sign in</a>'
        '<form action="/search"><input name="q"></form></header>'
        f"<main>{body}</main><footer>&copy; 2026 {site.name} &middot; "
        '<a href="/terms">Terms</a></footer></body></html>'
    )


def product_body(ctx: Ctx, v: OfferView, attrs: dict[str, str] | None = None) -> str:
    """The visible product page; ``attrs`` lets the microdata family add itemprops."""
    a = attrs or {}
    t = ctx.site.theme
    return (
        f'<article class="product"{a.get("root", "")}>'
        f'<h1 class="{t.title}"{a.get("title", "")}>{esc(v.title)}</h1>'
        f'<div class="buy-box">{price_block(ctx, v)} {stock_block(ctx.site, v)}'
        f'<button class="add-to-cart" formaction="/cart/add">Add to cart</button></div>'
        f"{popularity_block(ctx.site, v)}{ids_block(v)}"
        f'<p class="crumbs"><a href="{ctx.site.listing_path(v.category, 1)}">'
        f"{esc(v.category_name)}</a></p></article>"
    )


def card(ctx: Ctx, v: OfferView, extra: str = "", root_attrs: str = "") -> str:
    t = ctx.site.theme
    return (
        f'<li class="{t.card}"{root_attrs}>'
        f'<a class="{t.title}" href="{v.path}">{esc(v.title)}</a>'
        f"{price_block(ctx, v)} {stock_block(ctx.site, v)}"
        f"{popularity_block(ctx.site, v)}{ids_block(v)}{extra}</li>"
    )


def pagination(ctx: Ctx, category: str, page_no: int, pages: int) -> str:
    links = []
    if page_no > 1:
        links.append(
            f'<a class="prev" href="{ctx.site.listing_path(category, page_no - 1)}">Previous</a>'
        )
    links.append(f'<span class="page-info">Page {page_no} of {pages}</span>')
    if page_no < pages:
        nxt = ctx.site.listing_path(category, page_no + 1)
        links.append(f'<a class="{ctx.site.theme.next}" rel="next" href="{nxt}">Next</a>')
    return '<div class="pagination">' + " ".join(links) + "</div>"


def listing_body(
    ctx: Ctx, name: str, cards: list[str], category: str, page_no: int, pages: int
) -> str:
    return (
        f'<h1 class="category-title">{esc(name)}</h1><ul class="products">'
        + "".join(cards)
        + "</ul>"
        + pagination(ctx, category, page_no, pages)
    )


def captcha_page(ctx: Ctx) -> str:
    body = (
        f'<div id="{CAPTCHA_ID}" class="captcha"><h1>Please verify you are a human</h1>'
        "<p>Our systems have detected unusual traffic. Complete the captcha to continue.</p>"
        '<form action="/captcha"><input name="answer"></form></div>'
    )
    return page(ctx, "Access denied", body)
