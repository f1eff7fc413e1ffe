"""Availability, popularity and GTINs, as shops write them, to comparable values.

Shops state stock as schema.org URLs ("https://schema.org/InStock"), bare enum names
("InStock"), or prose ("Only 3 left", "Ships in 2-3 weeks"); popularity as "1.2k sold",
"#12 in Kitchen". Pricing needs one vocabulary and plain numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache, wraps
from typing import TypeVar

from crawler.extraction.text import clean_text

T = TypeVar("T")


def _memo_text(parse: Callable[[object], T]) -> Callable[[object], T]:
    """Cache a parser's answers for short strings.

    Every card of a listing says "In stock", "4.5" or "1.2k sold" again, and the parsers are
    pure with immutable results; other values (numbers, dicts, long text) are parsed as is.
    """
    cached = lru_cache(maxsize=4096)(parse)

    @wraps(parse)
    def wrapper(value: object) -> T:
        if type(value) is str and len(value) <= 200:
            return cached(value)
        return parse(value)

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper


# schema.org ItemAvailability values (after stripping the URL prefix), lower-cased.
_SCHEMA_AVAILABILITY = {
    "instock": "in_stock",
    "instoreonly": "in_stock",
    "onlineonly": "in_stock",
    "limitedavailability": "in_stock",
    "outofstock": "out_of_stock",
    "soldout": "out_of_stock",
    "discontinued": "out_of_stock",
    "preorder": "preorder",
    "presale": "preorder",
    "backorder": "backorder",
    "madetoorder": "backorder",
}

# Prose, checked in this order: the first rule that matches wins ("not in stock" is out of stock,
# so negatives come before positives).
_PROSE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "out_of_stock",
        re.compile(
            r"out\s*of\s*stock|sold\s*out|not\s+(?:in\s+stock|available)|unavailable|no\s+longer"
            r"|discontinued|currently\s+unavailable|nicht\s+(?:verfügbar|lieferbar|auf\s+lager)"
            r"|ausverkauft|vergriffen|rupture|épuisé|indisponible|agotado|sin\s+stock|esaurito"
            r"|non\s+disponibile|esgotado|indisponível|在庫切れ|売り切れ|нет\s+в\s+наличии"
            r"|\b0\s+(?:left|in\s+stock|available)",
            re.IGNORECASE,
        ),
    ),
    (
        "preorder",
        re.compile(
            r"pre-?\s?order|vorbestell|précommande|pré-commande|reserva|preventa|prenota|予約"
            r"|coming\s+soon|available\s+from|erscheint",
            re.IGNORECASE,
        ),
    ),
    (
        "backorder",
        re.compile(
            r"back-?\s?order|ships?\s+in\s+\d+|usually\s+ships|dispatch(?:ed)?\s+in\s+\d+"
            r"|available\s+in\s+\d+|made\s+to\s+order|lieferzeit\s+\d|delivery\s+in\s+\d+\s*-?\s*\d*\s*weeks"
            r"|nachbestellt|sur\s+commande|bajo\s+pedido|su\s+ordinazione|お取り寄せ|под\s+заказ",
            re.IGNORECASE,
        ),
    ),
    (
        "in_stock",
        re.compile(
            r"in\s*stock|available|only\s+\d+\s+left|\d+\s+left|\d+\s+in\s+stock|ships?\s+(?:today|"
            r"tomorrow|now)|auf\s+lager|lieferbar|verfügbar|sofort|en\s+stock|disponible|en\s+existencia"
            r"|disponibil|em\s+estoque|在庫あり|在庫有|в\s+наличии|add\s+to\s+(?:cart|basket|bag)"
            r"|in\s+den\s+warenkorb|ajouter\s+au\s+panier|limited\s+(?:stock|availability)|low\s+stock",
            re.IGNORECASE,
        ),
    ),
)

# "Only 3 left", "3 in stock", "Stock: 12", "noch 2 Stück", "残り3点", "qty available: 7".
_QUANTITY = re.compile(
    r"only\s+(\d[\d,.]*)\s+(?:left|remaining)|(\d[\d,.]*)\s+(?:left|remaining|in\s+stock|available|"
    r"auf\s+lager|en\s+stock|disponibles?|st(?:ü|ue)ck|pcs|units|items)|(?:stock|quantity|qty|bestand|"
    r"lagerbestand)\s*(?:available)?\s*:?\s*(\d[\d,.]*)|noch\s+(\d+)|残り\s*(\d+)|(\d+)\s*点",
    re.IGNORECASE,
)


@_memo_text
def parse_availability(value: object) -> tuple[str, int | None]:
    """``(availability, stock_quantity)`` from a schema.org value or the words on the page."""
    if value is None:
        return "unknown", None
    if isinstance(value, list | tuple):
        value = next((v for v in value if v), None)
        if value is None:
            return "unknown", None
    if isinstance(value, dict):
        value = value.get("@id") or value.get("name") or ""
    text = clean_text(str(value), 300)
    if not text:
        return "unknown", None
    # "http://schema.org/InStock", "https://schema.org/InStock", "schema:InStock", "InStock"
    key = re.sub(r"^(?:https?://)?(?:www\.)?schema\.org/|^schema:", "", text, flags=re.IGNORECASE)
    key = key.strip().strip("/").replace(" ", "").replace("_", "").lower()
    if key in _SCHEMA_AVAILABILITY:
        return _SCHEMA_AVAILABILITY[key], None
    quantity = _quantity(text)
    for status, pattern in _PROSE_RULES:
        if pattern.search(text):
            if status == "out_of_stock":
                return status, 0 if quantity == 0 else None
            return status, quantity if status == "in_stock" else None
    if quantity is not None:
        return ("in_stock", quantity) if quantity > 0 else ("out_of_stock", 0)
    return "unknown", None


def normalize_availability(value: object) -> str:
    """One of in_stock, out_of_stock, preorder, backorder, unknown."""
    return parse_availability(value)[0]


def _quantity(text: str) -> int | None:
    m = _QUANTITY.search(text)
    if not m:
        return None
    digits = next(g for g in m.groups() if g)
    return parse_count(digits)


_COUNT = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*([kmb]|thousand|million|tsd\.?|mil|万|千)?(?![^\W\d_])", re.IGNORECASE
)
_MULTIPLIER = {"k": 1_000, "thousand": 1_000, "tsd": 1_000, "tsd.": 1_000, "mil": 1_000, "千": 1_000,
               "m": 1_000_000, "million": 1_000_000, "b": 1_000_000_000, "万": 10_000}  # fmt: skip


@_memo_text
def parse_count(value: object) -> int | None:
    """A count as shops write it: 1234, "1,234", "1.2k sold", "10K+ bought", "(1 234 reviews)"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float | Decimal):
        return int(value) if value >= 0 else None
    text = clean_text(str(value), 200).replace("\u00a0", " ")
    text = re.sub(r"(?<=\d)[ '’](?=\d{3}\b)", "", text)  # 1 234 / 1'234 thousands
    m = _COUNT.search(text)
    if not m:
        return None
    number, unit = m.group(1), (m.group(2) or "").lower()
    if unit:
        try:
            amount = Decimal(number.replace(",", "."))
        except InvalidOperation:
            return None
        return int(amount * _MULTIPLIER[unit])
    # Without a multiplier, separators are thousands ("1,234", "1.234").
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):
        return int(re.sub(r"[.,]", "", number))
    try:
        return int(Decimal(number.replace(",", ".")))
    except InvalidOperation:
        return None


_RANK = re.compile(
    r"#\s?(\d[\d,.]*)|(?:rank|no\.|nr\.|platz|rang)\s*:?\s*(\d[\d,.]*)", re.IGNORECASE
)


@_memo_text
def parse_rank(value: object) -> int | None:
    """A bestseller rank: "#12 in Kitchen" is 12; a plain number is itself."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = clean_text(str(value), 200)
    m = _RANK.search(text)
    count = parse_count(next(g for g in m.groups() if g) if m else text)
    return count if count and count > 0 else None


@_memo_text
def parse_rating(value: object) -> float | None:
    """A rating value: 4.5, "4,5", "4.5 out of 5"; None unless it is a finite non-negative number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        value = value.get("ratingValue")
    m = re.search(r"\d+(?:[.,]\d+)?", clean_text(str(value), 100))
    if not m:
        return None
    rating = float(m.group(0).replace(",", "."))
    return rating if 0 <= rating <= 100 else None


@_memo_text
def normalize_gtin(value: object) -> str | None:
    """A GTIN-8/12/13/14 as digits with a valid check digit, else None.

    UPC-12 and zero-led GTIN-14 become their EAN-13 form, so one product written both ways by
    two shops has one GTIN.

    Shops put SKUs, ISBN-10s and typos in gtin fields; a wrong GTIN would match the wrong
    product, so anything that fails the check digit is dropped rather than guessed.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    text = str(value).strip()
    text = re.sub(r"^(?:gtin\d*|ean|upc|isbn(?:-?13)?)\s*:?\s*", "", text, flags=re.IGNORECASE)
    digits = re.sub(r"[\s\-.]", "", text)
    if not digits.isdigit() or not digits.isascii() or len(digits) not in (8, 12, 13, 14):
        return None
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        return None
    if len(digits) == 12:
        return "0" + digits
    if len(digits) == 14 and digits[0] == "0":
        return digits[1:]
    return digits
