"""Price strings to (amount, ISO code).

price-parser does the hard part (separators, "1 298,00", "35€99") but takes the *first*
number it sees and knows nothing of what the words around it say. Shops write more than a
number: "Was $120 Now $60", "50 - $2.00 100 - $2.75" (quantity tiers), "Free shipping on
orders $49+", "16.00 ft", "Call for price". The rules here decide *which* number is the price
(or that none is), then hand that number to price-parser. Every rule is a shop convention,
not a fix for one string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from price_parser.parser import extract_price_text, parse_number

from crawler.extraction.currency import decide_currency, find_currency_tokens, iso_for_symbol
from crawler.extraction.text import clean_text

MAX_PRICE_TEXT = 500  # a price string longer than this is a page fragment, not a price


@dataclass(frozen=True, slots=True)
class ParsedPrice:
    """What a price string says, including what :func:`parse_price` cannot return."""

    amount: Decimal | None
    currency: str | None  # ISO 4217, only when the symbol (or the hint) decides it
    symbol: str | None = None  # the currency as written on the page
    is_range: bool = False  # "$10 - $20": amount is the low end, high the high end
    high: Decimal | None = None
    is_from: bool = False  # "From $9.99", "ab 2,99 €": a starting price
    reason: str | None = None  # why amount is None: empty, not_a_price, call_for_price


# Words that say "there is no price here", whatever digits follow (often a phone number).
_NO_PRICE = re.compile(
    r"call\s+(?:us\s+)?for\s+(?:a\s+)?pric|price\s+on\s+(?:request|application)|request\s+a\s+quote"
    r"|contact\s+(?:us\s+)?for\s+(?:a\s+)?pric|\bPOA\b|preis\s+auf\s+anfrage|prix\s+sur\s+demande"
    r"|precio\s+a\s+consultar|prezzo\s+su\s+richiesta|уточняйте|по\s+запросу|договорная|цена\s+по",
    re.IGNORECASE,
)
# Words that stand for a missing price when no number is given at all.
_NO_PRICE_WORDS = re.compile(
    r"sold\s*out|out\s+of\s+stock|\bn/?a\b|not\s+available|unavailable|coming\s+soon|\btb[ad]\b"
    r"|ausverkauft|épuisé|agotado|esaurito|нет\s+в\s+наличии",
    re.IGNORECASE,
)

# One number as shops write it: 1 299,00 / 1'299.00 / 1.299,00 / 12.99 / .75 (groups of three
# after a space or apostrophe, so "2.00 100" is two numbers).
_NUMBER = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:[ '](?=\d{3}(?!\d))\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)*(?:[.,] \d{2}(?!\d))?"
    r"|[.,]+\d+)"
)
_PERCENT_NEXT = re.compile(r"\s?%")
_DATE = re.compile(
    r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}-0\d\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+(?:\d{1,2},?\s+)?(?:19|20)\d\d\b",
    re.IGNORECASE,
)
# Measures, not money ("16.00 ft", "2 Litre", "500 GB"). Single letters (L, G, M) are left
# alone: they are also currency signs (lira, ...).
_UNIT_NEXT = re.compile(
    r"\s?(?:ft|feet|foot|inch(?:es)?|in\.|cm|mm|km|kg|mg|lbs?|oz|ml|lit(?:re|er)s?|gb|tb|mb|mah"
    r"|kw|hz|mhz|ghz|pcs|pieces|stk|stück|sold|reviews?|ratings?|left|items?)(?![^\W\d_])",
    re.IGNORECASE,
)
# "Free shipping on orders $49+", "orders over £50": a threshold, not the price.
_THRESHOLD_BEFORE = re.compile(
    r"(?:orders?|spend|purchases?|einkäufe|bestellungen?|commandes?)\s+(?:(?:over|above|of|from|ab|"
    r"über|dès|de)\s+)?\S{0,4}$",
    re.IGNORECASE,
)
_PLUS_NEXT = re.compile(r"\s?\+")
# The struck-out price in "Was $120 Now $60", "UVP 99 € jetzt 79 €", "statt 20 nur 15".
_REGULAR_BEFORE = re.compile(
    r"(?:\bwas|\breg(?:ular)?\.?(?:\s+price)?|\blist(?:\s+price)?|\brrp|\bmsrp|\buvp|\bstatt"
    r"|\bcompare\s+at|\boriginally|\bprix\s+barré|\bbefore)\s*:?\s*\S{0,4}$",
    re.IGNORECASE,
)
# Numbers that label or discount, not price: "Item #4521", "SKU 12345", "Qty 2", "You save $10",
# "$10 off". Dropped only when another number is left to be the price.
_LABEL_BEFORE = re.compile(
    r"(?:#|\b(?:sku|item|model|art(?:ikel)?\.?-?\s?nr|nr|no|ref|code|id|part|mpn|ean|upc|gtin|isbn"
    r"|qty|quantity|menge|anzahl|pack\s+of|set\s+of)\.?\s*:?)\s*$",
    re.IGNORECASE,
)
_DISCOUNT_BEFORE = re.compile(
    r"(?:\bsave|\bsavings?|\bdiscount|\brabatt|\bsie\s+sparen|\bsparen\s+sie|\béconomisez|\bahorra)"
    r"\s*:?\s*\S{0,4}$",
    re.IGNORECASE,
)
_DIGIT_START = re.compile(r"[.,]?\d")
_OFF_NEXT = re.compile(r"\s?(?:off|rabatt)\b", re.IGNORECASE)
_SALE_BEFORE = re.compile(
    r"(?:\bnow|\bsale(?:\s+price)?|\bonly|\bnur|\bjetzt|\bour\s+price|\bspecial(?:\s+price)?"
    r"|\boffer(?:\s+price)?|\bdeal(?:\s+price)?|\bseulement|\bsolo|\bsólo)\s*:?\s*\S{0,4}$",
    re.IGNORECASE,
)
_FROM_BEFORE = re.compile(
    r"(?:\bfrom|\bab|\bà\s+partir\s+de|\ba\s+partir\s+de|\bdesde|\bvanaf|\bот|\bstarting\s+(?:at|from)"
    r"|\bstarts\s+at|\bda)\s*:?\s*\S{0,4}$",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"\s*(?:[-–—~]|to|bis|à|a|до)\s*(?:\S{0,4}\s?)?", re.IGNORECASE)


@dataclass(slots=True)
class _Candidate:
    match: re.Match[str]
    near_currency: bool = False
    currency_after: bool = False

    @property
    def start(self) -> int:
        return self.match.start()


def _candidates(text: str, currency_spans: list[tuple[int, int]]) -> list[_Candidate]:
    """Numbers that could be the price, with the ones that cannot be dropped."""
    dates = [m.span() for m in _DATE.finditer(text)]
    found = []
    for m in _NUMBER.finditer(text):
        start, end = m.span()
        before, after = text[max(0, start - 40) : start], text[end:]
        if _PERCENT_NEXT.match(after):
            continue
        if _UNIT_NEXT.match(after) and not any(
            cs >= end and not text[end:cs].strip() for cs, _ in currency_spans
        ):
            continue
        if any(ds <= start < de for ds, de in dates):
            continue
        if _THRESHOLD_BEFORE.search(before) or (
            _PLUS_NEXT.match(after) and _THRESHOLD_BEFORE.search(text[:start])
        ):
            continue
        before_sign = any(_attached(text, span, m.span(), "before") for span in currency_spans)
        after_sign = any(_attached(text, span, m.span(), "after") for span in currency_spans)
        found.append(_Candidate(m, before_sign or after_sign, after_sign))
    # "26 to 50 €", "10-20 EUR": one trailing currency for both ends of a range (a leading
    # sign is written on both: "$10 - $20"; "50 - $2.00" is a quantity and its price).
    for low, high in zip(reversed(found[:-1]), reversed(found[1:]), strict=True):
        gap = text[low.match.end() : high.start]
        if high.currency_after and len(gap) <= 6 and _RANGE_JOIN.fullmatch(gap):
            low.near_currency = True
    return found


def _attached(text: str, sign: tuple[int, int], number: tuple[int, int], side: str) -> bool:
    """Is the currency sign written right ``before`` (or ``after``) the number? A sign between
    two numbers belongs to the one it touches: in "Qty 2 $15.00" the "$" is the 15's."""
    (cs, ce), (ns, ne) = sign, number
    if side == "before":
        gap = text[ce:ns] if ce <= ns else "x"
        touches_other = cs > 0 and text[cs - 1].isdigit()
    else:
        gap = text[ne:cs] if ne <= cs else "x"
        touches_other = bool(_DIGIT_START.match(text, ce))
    if gap.strip():
        return False
    return not gap or not touches_other


def _choose(text: str, candidates: list[_Candidate], decimal_separator: str | None) -> _Candidate:
    if len(candidates) > 1:
        # "Was $124.95 Now $0.00": zero is a placeholder, not the price, when another is given.
        nonzero = [c for c in candidates if _to_decimal(c.match.group(0), decimal_separator)]
        candidates = nonzero or candidates

    def before(c: _Candidate) -> str:
        return text[max(0, c.start - 40) : c.start]

    sale = [c for c in candidates if _SALE_BEFORE.search(before(c))]
    if sale:
        return sale[0]
    for is_not_the_price in (
        lambda c: _LABEL_BEFORE.search(before(c)),
        lambda c: _DISCOUNT_BEFORE.search(before(c)) or _OFF_NEXT.match(text, c.match.end()),
        lambda c: _REGULAR_BEFORE.search(before(c)),
    ):
        if len(candidates) > 1:
            candidates = [c for c in candidates if not is_not_the_price(c)] or candidates
    with_currency = [c for c in candidates if c.near_currency]
    return (with_currency or candidates)[0]


def _price_parser_amount(text: str, decimal_separator: str | None) -> Decimal | None:
    """price-parser's own reading of the first number (``Price.fromstring`` minus currency)."""
    number = extract_price_text(text)
    return parse_number(number, decimal_separator) if number is not None else None


def _to_decimal(number_text: str, decimal_separator: str | None) -> Decimal | None:
    return parse_number(number_text.replace("'", "").replace(" ", ""), decimal_separator)


def parse_price_details(
    text: str | None,
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
) -> ParsedPrice:
    """Everything a price string says: amount, ISO code, and whether it is a range or a "from".

    Cached: a listing page repeats the same few price strings many times, and the result is
    immutable.
    """
    if text is None:
        return ParsedPrice(None, None, reason="empty")
    if len(text) > MAX_PRICE_TEXT * 4:
        return _parse(text, currency_hint, decimal_separator)
    return _parse_cached(text, currency_hint, decimal_separator)


def _parse(text: str, currency_hint: str | None, decimal_separator: str | None) -> ParsedPrice:
    text = clean_text(text, MAX_PRICE_TEXT)
    tokens = find_currency_tokens(text)
    symbol = _pick_symbol(tokens)
    currency = decide_currency(symbol, currency_hint)
    if not text:
        return ParsedPrice(None, currency, symbol, reason="empty")
    if _NO_PRICE.search(text):
        return ParsedPrice(None, currency, symbol, reason="call_for_price")
    candidates = _candidates(text, [t.span() for t in tokens])
    if not candidates:
        has_digits = any(ch.isdigit() for ch in text)
        if has_digits or _NO_PRICE_WORDS.search(text):
            return ParsedPrice(None, currency, symbol, reason="not_a_price")
        # No digits: only "Free" counts (a stated price of zero, as for shipping).
        amount = _price_parser_amount(text, decimal_separator)
        reason = None if amount is not None else "not_a_price"
        return ParsedPrice(amount, currency, symbol, reason=reason)
    chosen = _choose(text, candidates, decimal_separator)
    first_number = _NUMBER.search(text)
    if first_number is not None and chosen.start == first_number.start():
        # The first number: price-parser's own reading (it knows "35€99" and friends).
        amount = _price_parser_amount(text, decimal_separator)
    else:
        amount = _to_decimal(chosen.match.group(0), decimal_separator)
    near_symbol = _symbol_near(text, chosen, tokens)
    if near_symbol is not None and iso_for_symbol(near_symbol):
        symbol, currency = near_symbol, iso_for_symbol(near_symbol)
    before = text[max(0, chosen.start - 40) : chosen.start]
    is_from = bool(_FROM_BEFORE.search(before))
    high = _range_high(text, chosen, candidates, decimal_separator, amount)
    return ParsedPrice(
        amount, currency, symbol, is_range=high is not None, high=high, is_from=is_from
    )


_parse_cached = lru_cache(maxsize=8192)(_parse)


def clear_price_cache() -> None:
    """Forget cached parses (benchmarks measure cold parsing)."""
    _parse_cached.cache_clear()


def _pick_symbol(tokens: list[re.Match[str]]) -> str | None:
    """The page's currency: the first unambiguous one, else the first one written."""
    for token in tokens:
        if iso_for_symbol(token.group(0)):
            return token.group(0)
    return tokens[0].group(0) if tokens else None


def _symbol_near(text: str, chosen: _Candidate, tokens: list[re.Match[str]]) -> str | None:
    """The currency written right next to the chosen number (for "AED 8000 (USD 2179)")."""
    start, end = chosen.match.span()
    for token in tokens:
        ts, te = token.span()
        if (te <= start and not text[te:start].strip()) or (ts >= end and not text[end:ts].strip()):
            return token.group(0)
    return None


def _range_high(
    text: str,
    chosen: _Candidate,
    candidates: list[_Candidate],
    decimal_separator: str | None,
    low: Decimal | None,
) -> Decimal | None:
    """The high end when the chosen number opens a range ("$10 - $20", "26 to 50 €")."""
    if low is None:
        return None
    later = [c for c in candidates if c.start > chosen.start]
    if not later:
        return None
    nxt = later[0]
    gap = text[chosen.match.end() : nxt.start]
    if len(gap) > 12 or not _RANGE_JOIN.fullmatch(gap):
        return None
    if chosen.near_currency != nxt.near_currency and not gap.strip(" -–—~").strip():
        return None
    high = _to_decimal(nxt.match.group(0), decimal_separator)
    if high is None or high <= low:
        return None
    return high


def parse_price(
    text: str | None,
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
) -> tuple[Decimal | None, str | None]:
    """Amount and ISO 4217 code of a price string; ``(None, ...)`` when it states no price.

    ``currency_hint`` is the site's currency as a code ("CHF") or a symbol ("€"); it decides
    ambiguous signs ("$", "kr", "¥") and strings without one, never overrides an unambiguous
    sign on the page. A range gives its low end (see :func:`parse_price_details` to know).
    """
    parsed = parse_price_details(
        text, currency_hint=currency_hint, decimal_separator=decimal_separator
    )
    return parsed.amount, parsed.currency


# parse_price_parts' tests, compiled once (it runs for every price box read by a selector).
_SEPARATOR_PART = re.compile(r"[.,]\d*")
_CENTS_PART = re.compile(r"\d{2}")
_ENDS_IN_DECIMALS = re.compile(r"[.,]\d{1,2}$")


def parse_price_parts(
    parts: list[str],
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
) -> ParsedPrice:
    """A price split over elements: ``<span>$19</span><sup>99</sup>`` gives ["$19", "99"].

    Joined flat, "19 99" reads as 1999 (space thousands); a trailing part of exactly two
    digits after a whole number without decimals is the cents.
    """
    joined = ""
    for part in (p.strip() for p in parts if p and p.strip()):
        if joined and part[0].isdigit() and joined[-1] in ".,":
            joined += part  # "17," + "99"
        elif joined and joined[-1].isdigit() and _SEPARATOR_PART.fullmatch(part):
            joined += part  # "93" + <span>","</span> + "95"
        elif (
            joined
            and _CENTS_PART.fullmatch(part)
            and joined[-1].isdigit()
            and not _ENDS_IN_DECIMALS.search(joined)
        ):
            joined += (decimal_separator or ".") + part  # "19" + <sup>"99"</sup>
        else:
            joined = f"{joined} {part}" if joined else part
    return parse_price_details(
        joined, currency_hint=currency_hint, decimal_separator=decimal_separator
    )
