"""Per-site CSS/XPath selectors: what the shop shows, read the way the site config says.

Structured data is what the shop tells machines; selectors read what it shows people. They
complement it (fields structured data lacks) or override it (the site config author chose
them). The visible price is read apart from a struck-through regular price in the same box
(``<del>``, ``<s>``, ``<strike>``), and a price split over elements (``19<sup>99</sup>``) is
put back together.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from parsel.csstranslator import css2xpath

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
from crawler.urls import join_url

MAX_LISTING_ITEMS = 1000
_TEXT_FIELDS = ("title", "brand", "mpn", "sku")


Match = etree._Element | str  # an element, or the text/attribute an XPath selected


@lru_cache(maxsize=1024)
def _compiled(css: str | None, xpath: str | None) -> etree.XPath:
    """Selectors compiled once (parsel re-parses a selector on every call: 10x slower on
    listing pages, where each field is read once per item)."""
    return etree.XPath(xpath if xpath else css2xpath(css))


_SIMPLE = re.compile(r"^([a-zA-Z][\w-]*)?\.([\w-]+)$")


@lru_cache(maxsize=1024)
def _simple(css: str | None) -> tuple[str | None, str] | None:
    """``tag.class`` or ``.class``: the common case, answered from a class index."""
    m = _SIMPLE.match(css) if css else None
    return (m.group(1).lower() if m.group(1) else None, m.group(2)) if m else None


_WITH_CLASS = etree.XPath("descendant-or-self::*[@class]")


class ByIdentity:
    """``function(obj)`` remembered per object (held, so its id stays its own).

    For site-config models, asked once per page or listing item: an ``lru_cache`` hashes a
    frozen pydantic model field by field on every call (~30 µs a page for the selectors).
    """

    def __init__(self, function, limit: int = 512):
        self.function, self.limit = function, limit
        self.known: dict[int, tuple[object, object]] = {}

    def __call__(self, obj):
        hit = self.known.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self.known) >= self.limit:  # configs reloaded many times: start over
            self.known.clear()
        value = self.function(obj)
        self.known[id(obj)] = (obj, value)
        return value


def wanted_classes(selectors) -> frozenset[str]:
    """The classes a site's ``.class`` selectors look up (what a :class:`Scope` indexes)."""
    return _wanted_classes(selectors)


@ByIdentity
def _wanted_classes(selectors) -> frozenset[str]:
    return _classes_of(tuple(getattr(selectors, name) for name in type(selectors).model_fields))


@lru_cache(maxsize=256)
def _classes_of(selectors: tuple) -> frozenset[str]:
    simple = (_simple(s.css) for s in selectors if s is not None)
    return frozenset(found[1] for found in simple if found is not None)


_XPATH_NAME = re.compile(r"[a-z][a-z0-9_-]*")


class Scope:
    """An element to read fields in, with a class index built on first use: one pass over a
    listing card answers all its ``.class`` selectors (an XPath call each is ~10x slower).

    With ``classes`` (the site's, see :func:`wanted_classes`) only those are indexed; any
    other class is looked up with a pass of its own."""

    __slots__ = ("element", "_index", "_classes")

    def __init__(self, element: etree._Element, classes: frozenset[str] = frozenset()) -> None:
        self.element = element
        self._index: dict[str, list[etree._Element]] | None = None
        self._classes = classes

    def by_class(self, name: str) -> list[etree._Element]:
        classes = self._classes
        if classes and name not in classes:
            return [el for el in _WITH_CLASS(self.element) if name in el.get("class").split()]
        if self._index is None:
            index: dict[str, list[etree._Element]] = {}
            for el in _WITH_CLASS(self.element):
                for cls in el.get("class").split():
                    if not classes or cls in classes:
                        index.setdefault(cls, []).append(el)
            self._index = index
        return self._index.get(name, [])


def _items(page: etree._Element, selector: Selector) -> list[Match]:
    """A listing's items. ``tag.class`` lets libxml2 pick the few elements of that tag first,
    rather than indexing every class on the page: ``iter(tag)`` walks the tree in C, what
    ``descendant-or-self::tag[@class]`` finds without an XPath evaluation (~7 µs of a
    product page, which has none)."""
    simple = _simple(selector.css)
    if simple is not None and simple[0] is not None and _XPATH_NAME.fullmatch(simple[0]):
        tag, cls = simple
        return [el for el in page.iter(tag) if cls in (el.get("class") or "").split()]
    return select(Scope(page), selector)


def select(scope: Scope, selector: Selector) -> list[Match]:
    simple = _simple(selector.css)
    if simple is not None:
        tag, cls = simple
        found = scope.by_class(cls)
        return [el for el in found if el.tag == tag] if tag else found
    result = _compiled(selector.css, selector.xpath)(scope.element)
    return result if isinstance(result, list) else [str(result)]


def _first(scope: Scope, selector: Selector) -> Match | None:
    matches = select(scope, selector)
    return matches[0] if matches else None


def _value(scope: Scope, selector: Selector) -> str | None:
    """The first match's attribute (``attr``) or its visible text."""
    match = _first(scope, selector)
    if match is None:
        return None
    if isinstance(match, str):  # an XPath that selected text or an attribute
        return str(match)
    if selector.attr:
        return match.get(selector.attr)
    if not len(match):  # a leaf, the usual case: its own text is all there is
        return (match.text or "").strip()
    return " ".join(t.strip() for t in match.itertext() if t.strip())


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


def _walk_texts(node, inside: bool, shown: list[str], struck: list[str]) -> None:
    inside = inside or _is_struck(node)
    out = struck if inside else shown
    if node.text:
        out.append(node.text)
    for child in node:
        if not (isinstance(child.tag, str) and child.tag.lower() in ("script", "style")):
            _walk_texts(child, inside, shown, struck)
        if child.tail:
            out.append(child.tail)


def split_texts(element) -> tuple[list[str], list[str]]:
    """Text pieces of an element in order: those outside and those inside the struck-through
    parts. One walk for both (a price box is read for its price and its struck regular price),
    and no closure: a nested recursive function is a reference cycle for the collector."""
    shown: list[str] = []
    struck: list[str] = []
    _walk_texts(element, False, shown, struck)
    return shown, struck


def _price_parts(match: Match, exclude_struck: bool, split=None) -> list[str]:
    if isinstance(match, str):
        return [str(match)]
    if not exclude_struck:
        return list(match.itertext())
    return (split or split_texts(match))[0]


def _read_price(
    match: Match,
    selector: Selector,
    site: SiteConfig,
    hint: str | None,
    regular: bool = False,
    split: tuple[list[str], list[str]] | None = None,
):
    if selector.attr and not isinstance(match, str):
        parts = [match.get(selector.attr) or ""]
    else:
        parts = _price_parts(match, exclude_struck=not regular, split=split)
    return parts, parse_price_parts(
        parts, currency_hint=hint, decimal_separator=site.decimal_separator
    )


def _struck_in(match: Match, site: SiteConfig, hint: str | None, split=None):
    """A regular price struck through inside the price box itself."""
    if isinstance(match, str):
        return None
    parts = (split or split_texts(match))[1]
    if not parts:
        return None
    return parse_price_parts(parts, currency_hint=hint, decimal_separator=site.decimal_separator)


def read_fields(scope: Scope, site: SiteConfig, page_url: str) -> RawOffer | None:
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
    box = _first(scope, sel.price) if sel.price is not None else None
    if box is not None:
        split = None if isinstance(box, str) else split_texts(box)
        shown, parsed = _read_price(box, sel.price, site, hint, split=split)
        found = True
        offer.price, offer.currency = parsed.amount, parsed.currency or offer.currency
        offer.price_raw = clean_text(" ".join(shown), 100) or None
        offer.price_note = "from" if parsed.is_from else ("range-low" if parsed.is_range else None)
        offer.extras["price_reason"] = parsed.reason
        struck = _struck_in(box, site, hint, split)
        if struck is not None and struck.amount is not None:
            offer.regular_price = struck.amount
    regular_box = _first(scope, sel.regular_price) if sel.regular_price is not None else None
    if regular_box is not None:
        _, parsed = _read_price(regular_box, sel.regular_price, site, hint, regular=True)
        if parsed.amount is not None:
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
        link = _value(scope, _link_selector(sel.product_link))
        if link:
            offer.url = join_url(page_url, link.strip())
    if offer.stock_quantity is None and isinstance(offer.availability, str):
        offer.stock_quantity = parse_availability(offer.availability)[1]
    return offer if found else None


@ByIdentity
def _link_selector(selector: Selector) -> Selector:
    """A CSS product link without ``attr`` means its ``href``."""
    if selector.css and not selector.attr:
        return selector.model_copy(update={"attr": "href"})
    return selector


_BARE_NUMBER = re.compile(r"\s*\d[\d,.\s]*\s*")


def _stock_quantity(text: str | None) -> int | None:
    """A bare number ("12"), or a quantity stated as stock ("Only 3 left"); never the "2" of
    "Ships in 2-3 weeks"."""
    if text is None:
        return None
    if _BARE_NUMBER.fullmatch(text):
        return parse_count(text)
    return parse_availability(text)[1]


def selector_offers(
    page: etree._Element, site: SiteConfig, page_url: str
) -> tuple[list[RawOffer], bool]:
    """Offers the site's selectors read, and whether the page is a listing (``listing_item``)."""
    sel = site.selectors
    classes = wanted_classes(sel)
    if sel.listing_item is not None:
        items = [el for el in _items(page, sel.listing_item) if not isinstance(el, str)]
        if items:
            scopes = (Scope(el, classes) for el in items[:MAX_LISTING_ITEMS])
            found = (read_fields(scope, site, page_url) for scope in scopes)
            return [o for o in found if o], True
    offer = read_fields(Scope(page, classes), site, page_url)
    return ([offer] if offer else []), False
