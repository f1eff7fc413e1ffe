"""Offers from a page: structured data first, then the site's selectors, then the quality gate.

The public entry points of extraction. ``extract_offers`` returns every offer on a page: one
on a product page, many on a listing page, one per variant. The pieces live in
:mod:`crawler.extraction` (prices, currency, structured data, selectors, normalization, gate).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from urllib.parse import quote

import lxml.html
from lxml import etree

from crawler.extraction.currency import iso_for_symbol, resolve_hint
from crawler.extraction.normalize import (
    normalize_availability,
    normalize_gtin,
    parse_availability,
    parse_count,
    parse_rank,
    parse_rating,
)
from crawler.extraction.prices import (
    ParsedPrice,
    parse_price,
    parse_price_details,
    parse_price_parts,
)
from crawler.extraction.quality import decide
from crawler.extraction.records import RawOffer
from crawler.extraction.selectors import ByIdentity, selector_offers
from crawler.extraction.structured import structured_raw_offers, syntaxes_present
from crawler.items import Offer, PriceCandidate
from crawler.siteconfig import SiteConfig

__all__ = [
    "MAX_HTML_CHARS",
    "ParsedPrice",
    "extract_offers",
    "extract_page",
    "iso_for_symbol",
    "normalize_availability",
    "normalize_gtin",
    "parse_availability",
    "parse_count",
    "parse_price",
    "parse_price_details",
    "parse_price_parts",
    "parse_rank",
    "parse_rating",
    "resolve_hint",
]

logger = logging.getLogger(__name__)

#: Pages longer than this are cut here before parsing: a shop page is well under it, and an
#: endless page must not cost unbounded memory and time.
MAX_HTML_CHARS = 3_000_000
_SOURCE_ORDER = ("jsonld", "microdata", "opengraph", "selector")
_FIELDS = ("title", "brand", "gtin", "mpn", "sku", "shipping", "rating", "review_count",
           "sold_count", "rank")  # fmt: skip


@ByIdentity
def _any_selector(selectors) -> bool:
    """Does the (frozen) selectors config set any selector? Asked once per page: ~3 µs."""
    return any(getattr(selectors, name) is not None for name in type(selectors).model_fields)


def _has_selectors(site: SiteConfig | None) -> bool:
    return site is not None and _any_selector(site.selectors)


_PARSERS = threading.local()
# lxml.html's own lookup is a Python method, called for every element Python touches (two
# dozen a product page) to pick FormElement & co., which extraction never uses; this one
# answers from C with the same HtmlElement class (measured: ~8 µs a product page).
_LOOKUP = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def _parser() -> lxml.html.HTMLParser:
    """One parser per thread, reused: building one costs about as much as parsing a product
    page, and lxml parsers must not be shared between threads."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
        parser.set_element_class_lookup(_LOOKUP)
    return parser


def _parse_tree(data: bytes):
    """The page's tree from its UTF-8 bytes (what ``html.encode("utf-8", "replace")`` gives)."""
    try:
        tree = etree.fromstring(data, parser=_parser())
    except (etree.ParserError, ValueError):
        return None
    return tree


def _same_thing(a: RawOffer, b: RawOffer) -> bool:
    """Do two records (from different syntaxes) describe the same offer?"""
    if a.variant and b.variant and a.variant != b.variant:
        return False
    for key in ("sku", "gtin", "url"):
        va, vb = getattr(a, key), getattr(b, key)
        if va and vb:
            return va == vb
    return bool(a.title and b.title and a.title.casefold() == b.title.casefold())


def _keys(raw: RawOffer) -> list[tuple[str, str]]:
    keys = [(k, getattr(raw, k)) for k in ("sku", "gtin", "url") if getattr(raw, k)]
    if raw.title:
        keys.append(("title", raw.title.casefold()))
    return keys


def _group(raws: list[RawOffer], selector_is_page: bool) -> list[list[RawOffer]]:
    """Records that describe the same offer, grouped; order of first appearance kept.

    Indexed by sku, gtin, url and title, so a listing of hundreds of items stays linear."""
    groups: list[list[RawOffer]] = []
    index: dict[tuple[str, str], list[int]] = {}
    per_source: dict[str, int] = {}
    for raw in raws:
        per_source[raw.source] = per_source.get(raw.source, 0) + 1
    for raw in raws:
        target = None
        for number in dict.fromkeys(n for key in _keys(raw) for n in index.get(key, ())):
            group = groups[number]
            if not any(r.source == raw.source for r in group) and any(
                _same_thing(raw, r) for r in group
            ):
                target = number
                break
        if (
            target is None
            and len(groups) == 1
            and per_source[raw.source] == 1
            and not any(r.source == raw.source for r in groups[0])
        ):
            target = 0  # one product page told several ways
        if (
            target is None
            and groups
            and (raw.source == "opengraph" or (raw.source == "selector" and selector_is_page))
        ):
            # OpenGraph and page-wide selectors describe the page's product; on a page of
            # several variants they fill gaps in each but cannot say which price is whose.
            for group in groups:
                group.append(_without_price(raw))
            continue
        if target is None:
            target = len(groups)
            groups.append([])
        groups[target].append(raw)
        for key in _keys(raw):
            index.setdefault(key, []).append(target)
    return groups


def _without_price(raw: RawOffer) -> RawOffer:
    return replace(
        raw,
        price=None,
        regular_price=None,
        price_raw=None,
        currency=None,
        extras={"no_price": True},
    )


def _by_precedence(group: list[RawOffer]) -> list[RawOffer]:
    """Selectors first (the site config chose them), then structured data in source order."""
    return sorted(group, key=lambda r: (r.source != "selector", _SOURCE_ORDER.index(r.source)))


def _pick(ordered: list[RawOffer], name: str) -> object:
    for raw in ordered:  # a plain loop: called a dozen times per offer
        value = getattr(raw, name)
        if value is not None:
            return value
    return None


def _candidates(group: list[RawOffer]) -> list[PriceCandidate]:
    candidates = []
    for raw in sorted(group, key=lambda r: _SOURCE_ORDER.index(r.source)):
        if raw.extras.get("no_price"):
            continue
        if raw.price is not None or raw.price_raw:
            candidates.append(PriceCandidate(raw.source, raw.price, raw.currency, raw.price_raw))
    return candidates


def _availability(group: list[RawOffer]) -> tuple[str, int | None]:
    selector = [r for r in group if r.source == "selector" and r.availability is not None]
    others = [r for r in group if r.source != "selector" and r.availability is not None]
    for raw in selector + others:
        status, quantity = parse_availability(raw.availability)
        if status != "unknown":
            return status, quantity
    return "unknown", None


def _offer_url(group: list[RawOffer], page_url: str, listing: bool, variant: str | None) -> str:
    urls = [r.url for r in sorted(group, key=lambda r: r.source != "selector") if r.url]
    own = next((u for u in urls if u.split("#")[0] != page_url.split("#")[0]), None)
    if listing or variant:
        if own:
            return own
        if variant:
            # Variants sharing the page URL still need their own identity in the store.
            key = _pick(group, "sku") or variant  # group is in precedence order
            return f"{page_url.split('#')[0]}#variant={quote(str(key), safe='')}"
    return page_url


def _build(group: list[RawOffer], page_url: str, site: SiteConfig | None, listing: bool) -> Offer:
    rule = site.price_rule if site is not None else "structured"
    group = _by_precedence(group)
    candidates = _candidates(group)
    decision = decide(candidates, rule)
    variant = next((r.variant for r in group if r.variant), None)
    offer = Offer(url=_offer_url(group, page_url, listing, variant), variant=variant)
    for name in _FIELDS:  # _pick inlined: ten fields an offer
        for raw in group:
            value = getattr(raw, name)
            if value is not None:
                break
        setattr(offer, name, value)  # None when no record says (the last one's value)
    offer.availability, offer.stock_quantity = _availability(group)
    quantity = _pick(group, "stock_quantity")
    if quantity is not None:
        offer.stock_quantity = quantity
    offer.candidates = candidates
    offer.price, offer.disagreement = decision.price, decision.disagreement
    offer.price_source, offer.confidence = decision.source, decision.confidence
    winner = next(
        (r for r in group if decision.source and r.source == decision.source.split("+")[0]), None
    )
    if winner is not None and winner.price_note and offer.price is not None:
        # An AggregateOffer's lowPrice or a "From $9.99": a starting price, not the price.
        offer.price_source = f"{decision.source}:{winner.price_note}"
        offer.confidence = min(offer.confidence or 1.0, 0.8)
    offer.currency = (
        decision.currency or _pick(group, "currency") or (site.currency if site else None)
    )
    regular = _pick(group, "regular_price")
    if regular is not None and offer.price is not None and regular > offer.price:
        offer.regular_price = regular
    if offer.shipping is not None and offer.shipping < 0:
        offer.shipping = None
    return offer


def extract_offers(html: str, url: str, site: SiteConfig | None = None) -> list[Offer]:
    """Every offer on a page; ``[]`` when the page states none.

    Structured data (JSON-LD, microdata, OpenGraph; only the syntaxes present are parsed)
    comes first; ``site.selectors`` complement or override it, and ``site.selectors.listing_item``
    makes a page a listing. Each offer's price passes the quality gate (``site.price_rule``).
    """
    return extract_page(html, url, site)[0]


def extract_page(html: str, url: str, site: SiteConfig | None = None) -> tuple[list[Offer], object]:
    """:func:`extract_offers`, and the whole page's parsed tree (None if it was not parsed
    whole), so the spider can find its links without parsing the page a second time."""
    if not html:
        return [], None
    whole = len(html) <= MAX_HTML_CHARS
    if not whole:
        logger.warning("page %s is %d chars; parsing the first %d", url, len(html), MAX_HTML_CHARS)
        html = html[:MAX_HTML_CHARS]
    data = html.encode("utf-8", "replace")
    syntaxes = syntaxes_present(html, data)
    with_selectors = _has_selectors(site)
    if not syntaxes and not with_selectors:
        return [], None
    tree = _parse_tree(data)
    if tree is None:
        return [], None
    hint = site.currency if site is not None else None
    raws = list(structured_raw_offers(tree, url, syntaxes, hint))
    listing = not any(r.variant for r in raws) and any(
        len({r.url for r in raws if r.source == source}) > 1 for source in ("jsonld", "microdata")
    )
    selector_is_page = False
    if with_selectors:
        found, is_listing = selector_offers(tree, site, url)
        selector_is_page = not is_listing
        listing = listing or is_listing
        raws.extend(found)
    groups = _group(raws, selector_is_page)
    return [_build(group, url, site, listing) for group in groups], tree if whole else None
