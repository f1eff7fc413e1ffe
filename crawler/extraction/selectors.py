"""Per-site CSS/XPath selectors: what the shop shows, read the way the site config says.

Structured data is what the shop tells machines; selectors read what it shows people. They
complement it (fields structured data lacks) or override it (the site config author chose
them). The visible price is read apart from a struck-through regular price in the same box
(``<del>``, ``<s>``, ``<strike>``), and a price split over elements (``19<sup>99</sup>``) is
put back together.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from parsel import Selector as Page

from crawler.extraction.currency import resolve_hint
from crawler.extraction.normalize import (
    normalize_gtin,
    parse_availability,
    parse_count,
    parse_rank,
    parse_rating,
)
from crawler.extraction.prices import parse_price_parts
from crawler.extraction.records import RawOffer
from crawler.extraction.text import clean_optional, clean_text
from crawler.siteconfig import Selector, SiteConfig

MAX_LISTING_ITEMS = 1000
_TEXT_FIELDS = ("title", "brand", "mpn", "sku")


def select(scope: Page, selector: Selector) -> list[Page]:
    return scope.xpath(selector.xpath) if selector.xpath else scope.css(selector.css)


def _value(scope: Page, selector: Selector) -> str | None:
    """The first match's attribute (``attr``) or its visible text."""
    for match in select(scope, selector)[:1]:
        if selector.attr:
            return match.attrib.get(selector.attr)
        if isinstance(match.root, str):  # an XPath that selected text or an attribute
            return match.root
        return " ".join(t.strip() for t in match.xpath(".//text()").getall() if t.strip())
    return None


_STRUCK_TAGS = frozenset({"del", "s", "strike"})
_STRUCK_CLASS = re.compile(
    r"\b(?:was|old|regular|list|strike|compare)[-_]?price\b|\bprice[-_](?:was|old)\b", re.I
)


def _is_struck(element) -> bool:
    if not isinstance(element.tag, str):
        return False
    return (
        element.tag.lower() in _STRUCK_TAGS
        or bool(_STRUCK_CLASS.search(element.get("class") or ""))
        or "line-through" in (element.get("style") or "")
    )


def _texts(element, *, struck: bool) -> list[str]:
    """Text pieces of an element in order: without (``struck=False``) or only (``True``) the
    struck-through parts."""
    out: list[str] = []

    def walk(node, inside: bool) -> None:
        inside = inside or _is_struck(node)
        if node.text and inside == struck:
            out.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag.lower() in ("script", "style"):
                pass
            else:
                walk(child, inside)
            if child.tail and inside == struck:
                out.append(child.tail)

    walk(element, False)
    return out


def _price_parts(match: Page, exclude_struck: bool) -> list[str]:
    if isinstance(match.root, str):
        return [match.root]
    return _texts(match.root, struck=False) if exclude_struck else list(match.root.itertext())


def _read_price(
    scope: Page, selector: Selector, site: SiteConfig, hint: str | None, regular: bool = False
):
    matches = select(scope, selector)[:1]
    if not matches:
        return None
    match = matches[0]
    if selector.attr:
        parts = [match.attrib.get(selector.attr) or ""]
    else:
        parts = _price_parts(match, exclude_struck=not regular)
    return parse_price_parts(parts, currency_hint=hint, decimal_separator=site.decimal_separator)


def _struck_in(scope: Page, selector: Selector, site: SiteConfig, hint: str | None):
    """A regular price struck through inside the price box itself."""
    for match in select(scope, selector)[:1]:
        if isinstance(match.root, str):
            return None
        parts = _texts(match.root, struck=True)
        if parts:
            return parse_price_parts(
                parts, currency_hint=hint, decimal_separator=site.decimal_separator
            )
    return None


def read_fields(scope: Page, site: SiteConfig, page_url: str) -> RawOffer | None:
    """Every configured field within ``scope`` (the page, or one listing item)."""
    sel = site.selectors
    offer = RawOffer(source="selector")
    found = False
    for name in _TEXT_FIELDS:
        selector = getattr(sel, name)
        if selector is not None:
            value = clean_optional(_value(scope, selector), 500 if name == "title" else 100)
            if value is not None:
                setattr(offer, name, value)
                found = True
    hint = site.currency
    if sel.currency is not None:
        shown = _value(scope, sel.currency)
        shown_iso = resolve_hint(clean_optional(shown, 50))[0]
        if shown_iso:
            offer.currency = hint = shown_iso
    if sel.price is not None:
        parsed = _read_price(scope, sel.price, site, hint)
        if parsed is not None:
            found = True
            offer.price, offer.currency = parsed.amount, parsed.currency or offer.currency
            shown = _price_parts(select(scope, sel.price)[0], True) if not sel.price.attr else []
            offer.price_raw = clean_text(" ".join(shown), 100) or None
            offer.price_note = (
                "from" if parsed.is_from else ("range-low" if parsed.is_range else None)
            )
            offer.extras["price_reason"] = parsed.reason
            struck = _struck_in(scope, sel.price, site, hint)
            if struck is not None and struck.amount is not None:
                offer.regular_price = struck.amount
    if sel.regular_price is not None:
        parsed = _read_price(scope, sel.regular_price, site, hint, regular=True)
        if parsed is not None and parsed.amount is not None:
            offer.regular_price = parsed.amount
            found = True
    if sel.shipping is not None:
        text = _value(scope, sel.shipping)
        if text:
            shipping = parse_price_parts(
                [text], currency_hint=hint, decimal_separator=site.decimal_separator
            )
            offer.shipping = shipping.amount
            found = True
    if sel.availability is not None:
        text = _value(scope, sel.availability)
        if text is not None:
            offer.availability = text
            found = True
    if sel.stock_quantity is not None:
        offer.stock_quantity = _stock_quantity(_value(scope, sel.stock_quantity))
    if sel.gtin is not None:
        offer.gtin = normalize_gtin(_value(scope, sel.gtin))
    for name, parse in (
        ("review_count", parse_count),
        ("sold_count", parse_count),
        ("rank", parse_rank),
        ("rating", parse_rating),
    ):
        selector = getattr(sel, name)
        if selector is not None:
            setattr(offer, name, parse(_value(scope, selector)))
            found = found or getattr(offer, name) is not None
    if sel.product_link is not None:
        link_selector = sel.product_link
        if link_selector.css and not link_selector.attr:
            link_selector = link_selector.model_copy(update={"attr": "href"})
        link = _value(scope, link_selector)
        if link:
            offer.url = urljoin(page_url, link.strip())
    if offer.stock_quantity is None and isinstance(offer.availability, str):
        offer.stock_quantity = parse_availability(offer.availability)[1]
    return offer if found else None


def _stock_quantity(text: str | None) -> int | None:
    """A bare number ("12"), or a quantity stated as stock ("Only 3 left"); never the "2" of
    "Ships in 2-3 weeks"."""
    if text is None:
        return None
    if re.fullmatch(r"\s*\d[\d,.\s]*\s*", text):
        return parse_count(text)
    return parse_availability(text)[1]


def selector_offers(page: Page, site: SiteConfig, page_url: str) -> tuple[list[RawOffer], bool]:
    """Offers the site's selectors read, and whether the page is a listing (``listing_item``)."""
    sel = site.selectors
    if sel.listing_item is not None:
        items = select(page, sel.listing_item)[:MAX_LISTING_ITEMS]
        if items:
            offers = [o for o in (read_fields(item, site, page_url) for item in items) if o]
            return offers, True
    offer = read_fields(page, site, page_url)
    return ([offer] if offer else []), False
