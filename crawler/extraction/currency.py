"""Currency symbols to ISO 4217 codes.

price-parser finds *where* a currency symbol is but returns it as written ("R$", "zł", "$").
A price is only comparable across shops with an ISO code, and a wrong code is worse than
none: "$" is the sign of some thirty currencies, "kr" of four, "¥" of two. So only symbols
that name exactly one currency map to a code; the ambiguous ones need a hint (the site's
configured currency), and a hint never overrides an unambiguous symbol on the page.
"""

from __future__ import annotations

import re
from functools import lru_cache

from price_parser._currencies import CURRENCIES  # ISO codes, including pre-euro ones

#: Every ISO 4217 code price-parser knows, current and historic (DEM, PTE, ...).
ISO_CODES: frozenset[str] = frozenset(CURRENCIES) | {"XBT"}

#: Symbols, abbreviations and words that name exactly one currency in shop usage.
UNAMBIGUOUS: dict[str, str] = {
    # signs
    "€": "EUR",
    "£": "GBP",
    "￡": "GBP",
    "₹": "INR",
    "₽": "RUB",
    "₺": "TRY",
    "₴": "UAH",
    "₱": "PHP",
    "₦": "NGN",
    "৳": "BDT",
    "₭": "LAK",
    "₮": "MNT",
    "៛": "KHR",
    "֏": "AMD",
    "₼": "AZN",
    "؋": "AFN",
    "₵": "GHS",
    "₪": "ILS",
    "₫": "VND",
    "₸": "KZT",
    "₾": "GEL",
    "₲": "PYG",
    "₡": "CRC",
    "₩": "KRW",
    "฿": "THB",
    "₿": "XBT",
    # dollar variants that carry their country
    "US$": "USD",
    "US $": "USD",
    "USD$": "USD",
    "A$": "AUD",
    "AU$": "AUD",
    "AU $": "AUD",
    "CA$": "CAD",
    "CAD$": "CAD",
    "CAN$": "CAD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "SG$": "SGD",
    "NT$": "TWD",
    "MX$": "MXN",
    "R$": "BRL",
    "AR$": "ARS",
    "CL$": "CLP",
    "CO$": "COP",
    "TT$": "TTD",
    "J$": "JMD",
    "RD$": "DOP",
    "BZ$": "BZD",
    "CUC$": "CUC",
    "MOP$": "MOP",
    "Bds$": "BBD",
    "BN$": "BND",
    "N$": "NAD",
    "$U": "UYU",
    "GH₵": "GHS",
    "CN¥": "CNY",
    "E£": "EGP",
    "LB£": "LBP",
    "SY£": "SYP",
    # Latin abbreviations and words
    "zł": "PLN",
    "Zł": "PLN",
    "ZŁ": "PLN",
    "zl": "PLN",
    "Kč": "CZK",
    "Ft": "HUF",
    "TL": "TRY",
    "lei": "RON",
    "leu": "RON",
    "Rp": "IDR",
    "RM": "MYR",
    "Fr.": "CHF",
    "SFr": "CHF",
    "SFr.": "CHF",
    "CHf": "CHF",
    "kn": "HRK",
    "KD": "KWD",
    "KSh": "KES",
    "KShs": "KES",
    "Ksh": "KES",
    "đ": "VND",
    "VNĐ": "VND",
    "euro": "EUR",
    "euros": "EUR",
    "yen": "JPY",
    "yuan": "CNY",
    "RMB": "CNY",
    "stg": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "GBp": "GBP",
    "nis": "ILS",
    "hrn": "UAH",
    "Rbl": "RUB",
    "lari": "GEL",
    "so'm": "UZS",
    "BTC": "XBT",
    "CND": "CAD",
    "KM": "BAM",
    "Lek": "ALL",
    "Kz": "AOA",
    "Bs.S": "VES",
    "Bs.F": "VEF",
    # Cyrillic
    "руб": "RUB",
    "руб.": "RUB",
    "рубль": "RUB",
    "рубля": "RUB",
    "рублей": "RUB",
    "р.": "RUB",
    "Р": "RUB",
    "р": "RUB",
    "грн": "UAH",
    "грн.": "UAH",
    "лв": "BGN",
    "лв.": "BGN",
    "ден": "MKD",
    "тг": "KZT",
    "тңг": "KZT",
    "сум": "UZS",
    # East Asian
    "円": "JPY",
    "元": "CNY",
    "人民币": "CNY",
    "원": "KRW",
    "บาท": "THB",
    # Arabic script (Saudi shops write a bare ريال; others qualify it)
    "ريال": "SAR",
    "ر.س": "SAR",
    "ريال قطري": "QAR",
    "ر.ق": "QAR",
    "ريال عماني": "OMR",
    "ر.ع": "OMR",
    "ريال يمني": "YER",
    "ر.ي": "YER",
    "ریال": "IRR",
    "درهم": "AED",
    "د.إ": "AED",
    "جنيه": "EGP",
    "ج.م": "EGP",
    "د.ك": "KWD",
    "دينار كويتي": "KWD",
    "ش.ج": "ILS",
    "ש״ח": "ILS",
    'ש"ח': "ILS",
    "ש'ח": "ILS",
    "ლარი": "GEL",
}

#: Signs used by several currencies: only a hint can decide. Listed so they are recognised
#: as currency (not noise) and explicitly left open.
AMBIGUOUS: frozenset[str] = frozenset(
    {"$", "¥", "￥", "kr", "Kr", "kr.", "R", "L", "Rs", "Rs.", "₨", "Br", "C$", "ƒ", "₤", "Fr",
     "₣", "franc", "francs", "din", "дин", "Дин", "Dinara", "динар", "dinar", "دينار", "P",
     "K", "Q", "D", "G", "E", "S/", "S/.", "B/.", "Nu", "Nu.", "MT", "Sl", "Ks", "Dh", "Dhs",
     "som", "¢", "تومان", "圆", "圓", "₶", "﷼", "ID", "NT", "Re", "T$", "Z$", "G$", "GY$", "$b"}
)  # fmt: skip

_UNAMBIGUOUS_FOLDED = {k.casefold(): v for k, v in UNAMBIGUOUS.items() if len(k) >= 3}


_LETTER_BEFORE = r"(?<![^\W\d_])"
_LETTER_AFTER = r"(?![^\W\d_])"


def _alternation(tokens) -> str:
    """One regex for many tokens, built as a trie (a flat ``a|b|c`` of 400 tokens is ~20x
    slower: Python's re tries every branch at every position). Longer tokens win ("US$" over
    "$"); a token that starts or ends with a letter must not touch another letter there
    ("TRYing", "прайсе" hold no currency), digits may touch ("12zł")."""
    tokens = set(tokens)

    def build(node: dict, last: str) -> str:
        branches = [re.escape(ch) + build(child, ch) for ch, child in sorted(node.items()) if ch]
        if "" in node:  # a token ends here; tried after the longer ones
            branches.append(_LETTER_AFTER if last.isalpha() else "")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    def trie(words) -> dict:
        root: dict = {}
        for word in words:
            node = root
            for ch in word:
                node = node.setdefault(ch, {})
            node[""] = {}
        return root

    letter_first = sorted(t for t in tokens if t[0].isalpha())
    other_first = sorted(t for t in tokens if not t[0].isalpha())
    parts = []
    if letter_first:
        parts.append(_LETTER_BEFORE + build(trie(letter_first), ""))
    if other_first:
        parts.append(build(trie(other_first), ""))
    return "|".join(parts)


_TOKEN = re.compile(_alternation([*UNAMBIGUOUS, *AMBIGUOUS, *ISO_CODES]))
# Codes and words in any case ("chf", "Eur", "PLN") count only right next to a number,
# where they cannot be an ordinary word ("all", "try", "top").
_TOKEN_FOLDED = re.compile(_alternation([*ISO_CODES, *_UNAMBIGUOUS_FOLDED]), re.IGNORECASE)
_NEAR_NUMBER = re.compile(r"\d\s?$")
_NUMBER_NEXT = re.compile(r"^\s?\d")


def iso_for_symbol(symbol: str | None) -> str | None:
    """The ISO code a symbol names unambiguously, else None ("$", "kr" and unknown ones)."""
    if not symbol:
        return None
    symbol = symbol.strip().rstrip("\u200f")
    if symbol in UNAMBIGUOUS:
        return UNAMBIGUOUS[symbol]
    if symbol.upper() in ISO_CODES and symbol.isalpha():
        return symbol.upper()
    if symbol in AMBIGUOUS:
        return None
    return _UNAMBIGUOUS_FOLDED.get(symbol.casefold())


def find_currency_tokens(text: str) -> list[re.Match[str]]:
    """Every currency sign, abbreviation or ISO code in ``text``, in order of position."""
    found = {m.start(): m for m in _TOKEN.finditer(text)}
    for m in _TOKEN_FOLDED.finditer(text):
        if m.start() in found:
            continue
        if (
            _NEAR_NUMBER.search(text, 0, m.start())
            or _NUMBER_NEXT.match(text[m.end() :])
            or (m.start() == 0 and m.end() == len(text))
        ):
            found[m.start()] = m
    return [found[pos] for pos in sorted(found)]


@lru_cache(maxsize=256)
def resolve_hint(hint: str | None) -> tuple[str | None, str | None]:
    """A site hint as (iso, symbol): a code ("CHF"), a symbol ("€", "$") or text containing one."""
    if not hint:
        return None, None
    hint = hint.strip()
    if len(hint) == 3 and hint.upper() in ISO_CODES and hint.isalpha():
        return hint.upper(), hint.upper()
    tokens = find_currency_tokens(hint)
    if not tokens:
        return None, None
    unambiguous = [t for t in tokens if iso_for_symbol(t.group(0))]
    chosen = unambiguous[0] if unambiguous else tokens[0]
    return iso_for_symbol(chosen.group(0)), chosen.group(0)


_DOLLARS = frozenset(
    {"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN", "ARS", "CLP", "COP", "UYU", "JMD",
     "TTD", "BSD", "BBD", "BZD", "BMD", "KYD", "XCD", "FJD", "LRD", "NAD", "SBD", "SRD", "GYD",
     "DOP", "CUP", "CUC", "BND", "WST", "TVD", "ZWL", "NIO", "SVC", "USN"}
)  # fmt: skip
#: Which codes an ambiguous sign can stand for: a hint outside the set does not fit the page
#: (a EUR-configured shop showing "$" shows dollars of some kind, not euros).
SIGN_CODES: dict[str, frozenset[str]] = {
    "$": _DOLLARS,
    "C$": frozenset({"CAD", "NIO"}),
    "kr": frozenset({"SEK", "NOK", "DKK", "ISK", "EEK"}),
    "Kr": frozenset({"SEK", "NOK", "DKK", "ISK", "EEK"}),
    "kr.": frozenset({"SEK", "NOK", "DKK", "ISK", "EEK"}),
    "¥": frozenset({"JPY", "CNY"}),
    "￥": frozenset({"JPY", "CNY"}),
    "Rs": frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"}),
    "Rs.": frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"}),
    "₨": frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"}),
    "Br": frozenset({"BYN", "BYR", "ETB"}),
}


def decide_currency(symbol: str | None, hint: str | None) -> str | None:
    """ISO code for a price: the page's unambiguous symbol first, then the hint if it fits."""
    iso = iso_for_symbol(symbol)
    if iso:
        return iso
    hint_iso, _ = resolve_hint(hint)
    if hint_iso is None:
        return None
    if symbol is None:
        return hint_iso  # no sign at all: the site's currency is all we have
    sign = symbol.strip()
    if sign in AMBIGUOUS and hint_iso in SIGN_CODES.get(sign, frozenset({hint_iso})):
        return hint_iso  # "$" on a USD shop
    return None
