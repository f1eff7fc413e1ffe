"""schema.org data (JSON-LD and microdata) to :class:`RawOffer` records.

Real shops nest products every way schema.org allows: several JSON-LD blocks, ``@graph``,
``@id`` references, ``ItemList`` listings, ``ProductGroup``/``hasVariant``, ``offers`` as an
object or an array (one per variant, or one per seller), ``AggregateOffer`` ranges and
``priceSpecification``. extruct turns both JSON-LD and microdata into the same JSON-LD-shaped
dicts, so one walker reads both.
"""

from __future__ import annotations

import re
from decimal import Decimal

from crawler.extraction.normalize import normalize_gtin, parse_count, parse_rating
from crawler.extraction.prices import parse_price_details
from crawler.extraction.records import RawOffer, first, iso_code, money
from crawler.extraction.text import clean_optional
from crawler.urls import join_url

PRODUCT_TYPES = frozenset(
    {"Product", "ProductGroup", "IndividualProduct", "ProductModel", "SomeProducts", "Vehicle",
     "Car", "Motorcycle", "Book", "SoftwareApplication", "VideoGame", "MusicAlbum", "Movie"}
)  # fmt: skip
LIST_TYPES = frozenset({"ItemList", "OfferCatalog", "BreadcrumbList"})
MAX_NODES = 5000  # a page with more schema.org nodes than this is not a shop page
MAX_OFFERS = 1000
_REGULAR_PRICE_TYPES = re.compile(
    r"ListPrice|StrikethroughPrice|SRP|MSRP|RegularPrice|WasPrice", re.I
)
_VARIANT_PROPERTIES = ("color", "colour", "size", "material", "pattern", "width", "length", "style")


def _types(node: dict) -> set[str]:
    raw = node.get("@type") or node.get("type") or ()
    raw = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else ()
    return {str(t).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for t in raw if isinstance(t, str)}


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class _Graph:
    """All nodes of all blocks, with ``{"@id": ...}`` references resolvable."""

    def __init__(self, items: list) -> None:
        self.roots: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self._count = 0
        for item in items:
            self._flatten(item, top=True)

    def _flatten(self, node: object, top: bool = False) -> None:
        if self._count > MAX_NODES:
            return
        if isinstance(node, list):
            for child in node:
                self._flatten(child, top)
            return
        if not isinstance(node, dict):
            return
        self._count += 1
        if "@graph" in node:
            self._flatten(node["@graph"], top=True)
        node_id = node.get("@id")
        if isinstance(node_id, str) and len(node) > 1:
            self.by_id.setdefault(node_id, {}).update(node)
        if top:
            self.roots.append(node)
        for key, value in node.items():
            if key != "@graph" and isinstance(value, dict | list):
                self._flatten(value)

    def resolve(self, node: object) -> object:
        """A bare ``{"@id": ...}`` reference becomes the node it names (merged over all blocks)."""
        if isinstance(node, dict) and isinstance(node.get("@id"), str):
            return self.by_id.get(node["@id"], node)
        return node

    def resolved(self, value: object) -> list:
        return [self.resolve(v) for v in _as_list(value)]


def _node_key(node: dict) -> object:
    node_id = node.get("@id")
    return node_id if isinstance(node_id, str) else id(node)


def _find_products(graph: _Graph) -> list[tuple[dict, dict | None]]:
    """``(product, group)`` pairs in page order; a variant comes with its ProductGroup."""
    found: list[tuple[dict, dict | None]] = []
    seen: set[object] = set()
    for root in graph.roots:
        _visit(graph, root, 0, seen, found)
    return found


def _visit(
    graph: _Graph, node: object, depth: int, seen: set, found: list[tuple[dict, dict | None]]
) -> None:
    """One node of :func:`_find_products`' walk (a module function, not a closure: a nested
    recursive function is a reference cycle that keeps the page's whole graph alive until
    the cyclic collector runs)."""
    node = graph.resolve(node)
    if not isinstance(node, dict) or _node_key(node) in seen or depth > 8:
        return
    seen.add(_node_key(node))
    types = _types(node)
    if "ProductGroup" in types or (types & PRODUCT_TYPES and node.get("hasVariant")):
        variants = [v for v in graph.resolved(node.get("hasVariant")) if isinstance(v, dict)]
        for variant in variants:
            seen.add(_node_key(variant))
            found.append((variant, node))
        if not variants:
            found.append((node, None))
        return
    if types & PRODUCT_TYPES:
        found.append((node, None))
        return
    if types & {"Offer", "AggregateOffer"} and isinstance(
        graph.resolve(node.get("itemOffered")), dict
    ):
        product = dict(graph.resolve(node["itemOffered"]))
        product.setdefault("offers", {k: v for k, v in node.items() if k != "itemOffered"})
        found.append((product, None))
        return
    if types & LIST_TYPES:
        for element in graph.resolved(node.get("itemListElement")):
            if isinstance(element, dict) and "item" in element:
                item = graph.resolve(element["item"])
                if (
                    isinstance(item, dict)
                    and not item.get("url")
                    and isinstance(element.get("url"), str)
                ):
                    item = {**item, "url": element["url"]}  # the ListItem carries the link
                _visit(graph, item, depth + 1, seen, found)
            elif isinstance(element, dict):
                _visit(graph, element, depth + 1, seen, found)
        return
    for prop in ("mainEntity", "mainEntityOfPage", "about", "hasPart", "itemOffered"):
        for child in graph.resolved(node.get(prop)):
            _visit(graph, child, depth + 1, seen, found)


def _brand(value: object) -> str | None:
    value = first(*_as_list(value))
    if isinstance(value, dict):
        value = value.get("name")
    return clean_optional(value, 200)


_GTIN_KEYS = ("gtin", "gtin13", "gtin14", "gtin12", "gtin8", "isbn", "ean", "upc")


def _gtin(node: dict) -> str | None:
    for key in _GTIN_KEYS:
        values = node.get(key)
        if values is None:  # most keys are absent: skip _as_list (three nodes an offer)
            continue
        for value in _as_list(values):
            gtin = normalize_gtin(value)
            if gtin:
                return gtin
    return None


def _variant_label(product: dict, group: dict | None, offer: dict) -> str | None:
    parts: dict[str, str] = {}
    for node in (
        product,
        offer.get("itemOffered") if isinstance(offer.get("itemOffered"), dict) else {},
    ):
        for key in _VARIANT_PROPERTIES:
            value = clean_optional(node.get(key), 100)
            if value:
                parts["colour" if key == "color" else key] = value
        for prop in _as_list(node.get("additionalProperty")):
            if isinstance(prop, dict) and prop.get("name") and prop.get("value") is not None:
                name = clean_optional(prop["name"], 50)
                value = clean_optional(prop["value"], 100)
                if name and value:
                    parts[name.lower()] = value
    if parts:
        return "; ".join(f"{k}={v}" for k, v in sorted(parts.items()))
    if group is not None:
        return clean_optional(first(product.get("sku"), product.get("name")), 200)
    # One Offer per variant without variant properties: its own name or SKU tells them apart.
    return clean_optional(first(offer.get("name"), offer.get("sku")), 200)


def _shipping(offer: dict, graph: _Graph, hint: str | None) -> Decimal | None:
    rates = []
    for details in graph.resolved(offer.get("shippingDetails")):
        if not isinstance(details, dict):
            continue
        for rate in graph.resolved(details.get("shippingRate")):
            if isinstance(rate, dict):
                amount = money(first(rate.get("value"), rate.get("maxValue"), rate.get("price")),
                               iso_code(rate.get("currency")), hint)  # fmt: skip
            else:
                amount = money(rate, None, hint)
            if amount is not None and amount >= 0:
                rates.append(amount)
    return min(rates) if rates else None


def _prices(
    offer: dict, graph: _Graph, hint: str | None
) -> tuple[Decimal | None, Decimal | None, str | None, str | None, str | None]:
    """(price, regular_price, currency, raw, note) of one Offer/AggregateOffer."""
    currency = iso_code(offer.get("priceCurrency"))
    raw = offer.get("price")
    price = money(raw, currency, hint)
    note = None
    regular = None
    for spec in graph.resolved(offer.get("priceSpecification")):
        if not isinstance(spec, dict):
            continue
        spec_currency = iso_code(spec.get("priceCurrency")) or currency
        amount = money(first(spec.get("price"), spec.get("minPrice")), spec_currency, hint)
        if amount is None:
            continue
        if _REGULAR_PRICE_TYPES.search(str(spec.get("priceType") or "")):
            regular = amount
        elif price is None or "SalePrice" in str(spec.get("priceType") or ""):
            price, raw, currency = amount, spec.get("price"), spec_currency
    if price is None and "AggregateOffer" in _types(offer):
        low = money(offer.get("lowPrice"), currency, hint)
        if low is not None:
            price, raw, note = low, offer.get("lowPrice"), "lowPrice"
    if price is None and offer.get("lowPrice") is not None:
        price, raw, note = (
            money(offer.get("lowPrice"), currency, hint),
            offer.get("lowPrice"),
            "lowPrice",
        )
    if price is not None and not currency and isinstance(raw, str):
        currency = parse_price_details(raw, currency_hint=hint).currency
    return price, regular, currency, None if raw is None else str(raw)[:100], note


def _offers_of(product: dict, group: dict | None, graph: _Graph) -> list[dict]:
    """The Offer dicts of a product: its own, else its group's; AggregateOffers opened up."""
    offers = [o for o in graph.resolved(product.get("offers")) if isinstance(o, dict)]
    if not offers and group is not None:
        offers = [o for o in graph.resolved(group.get("offers")) if isinstance(o, dict)]
    opened = []
    for offer in offers:
        inner = [o for o in graph.resolved(offer.get("offers")) if isinstance(o, dict)]
        if "AggregateOffer" in _types(offer) and inner:
            opened.extend(inner)
        else:
            opened.append(offer)
    return opened


def _variant_key(offer: dict) -> tuple:
    item = offer.get("itemOffered") if isinstance(offer.get("itemOffered"), dict) else {}
    return tuple(
        str(first(offer.get(k), item.get(k)) or "")
        for k in ("sku", "gtin", "gtin13", "gtin12", "gtin14", "size", "color", "name", "url")
    )


def raw_offers_from_items(
    items: list, source: str, page_url: str, hint: str | None
) -> list[RawOffer]:
    """Every offer in extruct's (uniform) JSON-LD or microdata output."""
    graph = _Graph(items)
    result: list[RawOffer] = []
    for product, group in _find_products(graph):
        offers = _offers_of(product, group, graph)
        if len(offers) > 1 and len({_variant_key(o) for o in offers}) == 1:
            offers = [
                next(
                    (o for o in offers if o.get("price") or o.get("priceSpecification")), offers[0]
                )
            ]
        elif len(offers) > 1 and not any(any(_variant_key(o)) for o in offers):
            offers = offers[:1]  # several sellers of one thing: the first is the page's own
        for offer in offers or [{}]:
            result.append(
                _raw_offer(product, group, offer, graph, source, page_url, hint, len(offers) > 1)
            )
            if len(result) >= MAX_OFFERS:
                return result
    return result


def _raw_offer(product: dict, group: dict | None, offer: dict, graph: _Graph, source: str,
               page_url: str, hint: str | None, per_offer_variant: bool) -> RawOffer:  # fmt: skip
    item = graph.resolve(offer.get("itemOffered"))
    item = item if isinstance(item, dict) else {}
    group = group or {}
    price, regular, currency, raw, note = _prices(offer, graph, hint)
    rating_node = graph.resolve(first(product.get("aggregateRating"), group.get("aggregateRating")))
    rating_node = rating_node if isinstance(rating_node, dict) else {}
    inventory = graph.resolve(offer.get("inventoryLevel"))
    own_url = offer.get("url") if per_offer_variant else None
    url = first(item.get("url"), own_url, product.get("url"), None if group else offer.get("url"))
    if isinstance(url, dict):
        url = url.get("@id")
    variant = (
        _variant_label(product, group or None, offer) if (group or per_offer_variant) else None
    )
    return RawOffer(
        source=source,
        url=join_url(page_url, url.strip()) if isinstance(url, str) and url.strip() else None,
        title=clean_optional(first(item.get("name"), product.get("name"), group.get("name"))),
        brand=_brand(
            first(
                item.get("brand"),
                product.get("brand"),
                group.get("brand"),
                product.get("manufacturer"),
            )
        ),
        gtin=_gtin(item) or _gtin(offer) or _gtin(product),
        mpn=clean_optional(first(item.get("mpn"), offer.get("mpn"), product.get("mpn")), 100),
        sku=clean_optional(first(item.get("sku"), offer.get("sku"), product.get("sku")), 100),
        price=price,
        price_raw=raw,
        price_note=note,
        currency=currency,
        regular_price=regular,
        availability=first(offer.get("availability"), item.get("availability")),
        stock_quantity=parse_count(
            inventory.get("value") if isinstance(inventory, dict) else inventory
        ),
        shipping=_shipping(offer, graph, currency or hint),
        rating=parse_rating(rating_node.get("ratingValue")),
        review_count=parse_count(
            first(rating_node.get("reviewCount"), rating_node.get("ratingCount"))
        ),
        variant=variant,
    )
