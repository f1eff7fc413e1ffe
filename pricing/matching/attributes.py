"""What a product title says beyond its words: model codes, capacities, sizes, versions, colours.

Two titles can share nearly every word and still name different products: "iPhone 15 128GB" is
not "iPhone 15 256GB", a "Radeon HD 5670" is not a "Radeon HD 5770", "Photoshop Elements 4.0" is
not "5.0". Text similarity cannot see that, so the pairwise decision compares these attributes
separately and treats a disagreement as a veto. Before that, one thing spelt many ways is made
one (``ALIASES``, ``REWRITES``, roman release numbers), and what a title says about the platform
a program runs on ("win 98 2000 xp", "mac os x 10.4") is kept apart from its own version: these
rules are general shop practice, none is keyed to one data set. Everything here is computed
once per record (a :class:`Profile`), because store matching compares each record against many
candidates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from w3lib.html import remove_tags, remove_tags_with_content

from pricing.matching.identifiers import normalize_gtin, normalize_mpn

_SPLIT = re.compile(r"[a-z0-9]+")
# A run of alphanumerics joined by - / . : "bl-fp230c", "sf16n4/tqp", "910-001898", "6.2.9".
_COMPOUND = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)+")

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "kb": ("bytes", 1e-6),
    "mb": ("bytes", 1e-3),
    "gb": ("bytes", 1.0),
    "tb": ("bytes", 1e3),
    "mah": ("charge", 1.0),
    "mm": ("length", 0.1),
    "cm": ("length", 1.0),
    "m": ("length", 100.0),
    "in": ("length", 2.54),
    "inch": ("length", 2.54),
    "ml": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "oz": ("mass_or_volume", 1.0),
    "lb": ("mass", 453.6),
    "lbs": ("mass", 453.6),
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "w": ("power", 1.0),
    "kw": ("power", 1000.0),
    "v": ("voltage", 1.0),
    "mp": ("megapixels", 1.0),
    "hz": ("frequency", 1e-6),
    "mhz": ("frequency", 1.0),
    "ghz": ("frequency", 1000.0),
    "pack": ("count", 1.0),
    "pk": ("count", 1.0),
    "pcs": ("count", 1.0),
    "pc": ("count", 1.0),
    "ct": ("count", 1.0),
    "count": ("count", 1.0),
    "x": ("multiplier", 1.0),
    "p": ("resolution", 1.0),
    # Software licence counts: "5 user", "10-pack" of seats, "25 clients", "1 processor".
    "user": ("seats", 1.0),
    "users": ("seats", 1.0),
    "seat": ("seats", 1.0),
    "seats": ("seats", 1.0),
    "client": ("seats", 1.0),
    "clients": ("seats", 1.0),
    "cal": ("seats", 1.0),
    "cals": ("seats", 1.0),
    "node": ("seats", 1.0),
    "nodes": ("seats", 1.0),
    "processor": ("processors", 1.0),
    "processors": ("processors", 1.0),
    "cpu": ("processors", 1.0),
}
_UNIT_ALT = "|".join(sorted(UNITS, key=len, reverse=True))
# A number and its unit, but not the digits of a code ("sel-6359 in-ear" is not 6359 inches,
# "adh-1444 l" not 1444 litres) nor a unit that starts a hyphenated word ("in-ear", "m-audio").
_MEASURE = re.compile(
    rf"(?<![a-z0-9.])(?<![a-z]-)(\d+(?:[.,]\d+)?)\s?(?:-\s?)?({_UNIT_ALT})(?![a-z0-9]|-[a-z])"
)
_VERSION = re.compile(r"(?<![a-z0-9.\-/])v?(\d+(?:\.\d+)*)(?![a-z0-9]|[-/][a-z0-9])")
_HYPHENATED = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")  # "over-ear", "t-shirt": one word too

COLOURS = frozenset(
    [
        "black",
        "white",
        "red",
        "blue",
        "green",
        "yellow",
        "pink",
        "purple",
        "orange",
        "grey",
        "silver",
        "gold",
        "brown",
        "beige",
        "navy",
        "teal",
        "violet",
        "bronze",
        "titanium",
        "graphite",
        "midnight",
        "starlight",
        "rose",
        "ivory",
        "cream",
    ]
)
# Words that say what kind of thing a listing is without naming the product.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "of",
        "in",
        "on",
        "to",
        "by",
        "from",
        "new",
        "w",
        "x",
        "inc",
        "ltd",
        "llc",
        "co",
        "corp",
        "r",  # "quickbooks (r)": trademark marks say nothing about the product
        "tm",
    ]
)
# Roman release numbers ("crystal reports xi", "lego star wars ii") are the same versions as
# their digits. "i", "v" and "x" are left alone: they are letters far more often.
ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
ROMAN |= {"xi": "11", "xii": "12"}


# Shops shorten words; the pairwise decision treats these as the same word.
ALIASES = {
    "ms": "microsoft",
    "macintosh": "mac",
    "osx": "mac",
    "edu": "academic",
    "acad": "academic",
    "dlx": "deluxe",
    "education": "academic",
    "educational": "academic",
    "upgrd": "upgrade",
    "pro": "professional",
    "std": "standard",
    "prem": "premium",
    "gray": "grey",
    "win": "windows",
    "upg": "upgrade",
}
_VOWELS = frozenset("aeiou")
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")
# Compounds that look like codes but are counts or ranges: "3-user", "5-pack", "1st-3rd".
_NOT_CODE = re.compile(r"\d+-[a-z]{3,}|\d+(?:st|nd|rd|th)(?:-\d+(?:st|nd|rd|th))+")
# A word with a version glued on: "v10", "deluxe17", "iphone15" (a word and a number).
_GLUED_NUMBER = re.compile(r"(v|[a-z]{4,})(\d{1,2})")
# Spellings of one thing, made one before anything else reads the title: "w/" is "with" ("w/o"
# "without"), "creative suite 3" is "cs3", "v. 8" is "8", "12 - pack" is "12-pack".
REWRITES: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(a), b)
    for a, b in (
        (r"\bw/o\b", " without "),
        (r"\bw/(?=\s|[a-z])", " with "),
        (r"\bcreative suite\b", "cs"),
        (r"\bcs\s+(\d)\b", r"cs\1"),
        (r"\bv\.\s*(\d)", r" \1"),
        (r"(\d)\s+-\s+([a-z])", r"\1-\2"),
    )
)
# What follows a platform is what it runs on, not which product it is: the numbers of "win 95
# 98 me nt 2000 xp" or "mac os x 10.4 or later" must not read as versions (as "photoshop 7" does).
_PLATFORM_TAIL = re.compile(
    r"\b(?:win(?:dows)?|mac(?:intosh)?(?:\s*os(?:\s*x)?)?|os\s*x)"
    r"((?:[\s,/&+]+(?:95|98|2000|2003|2k|nt|me|xp|vista|10\.\d+(?:\.\d+)?|or|and|later|higher))+)"
)
_RELEASE = re.compile(r"cs\d")  # Adobe Creative Suite releases, written in place of a version
MAX_TITLE = 500  # scraped titles are untrusted; a 10 kB title says no more than its start


def fold(text: object) -> str:
    """Lower-case ASCII without markup: accents, zero-width and bidi characters, HTML tags and
    apostrophes dropped, so "Levi's Café" and "levis cafe" are the same words."""
    if text is None:
        return ""
    s = str(text)[: MAX_TITLE * 2]
    if "<" in s:
        s = remove_tags(remove_tags_with_content(s, ("script", "style")))
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return s.lower().replace("'", "")[:MAX_TITLE]


def normalise(text: str) -> str:
    """Rewrite shop spellings to one form and blank the platform requirements' numbers."""
    for pattern, replacement in REWRITES:
        text = pattern.sub(replacement, text)
    return _PLATFORM_TAIL.sub(
        lambda m: m.group(0)[: m.start(1) - m.start(0)] + re.sub(r"[\d.]+", " ", m.group(1)),
        text,
    )


def is_abbreviation(short: str, word: str) -> bool:
    """ "blk" for "black", "wrls" for "wireless": same first letter, the rest in order, at most
    one vowel (abbreviations drop vowels; real words keep them)."""
    if len(short) < 3 or len(short) >= len(word) or short[0] != word[0]:
        return False
    if sum(c in _VOWELS for c in short) > 1:
        return False
    it = iter(word)
    return all(c in it for c in short)


def tokens(text: str) -> list[str]:
    return _SPLIT.findall(text)


@lru_cache(maxsize=1 << 16)
def _is_code(tok: str) -> bool:
    """A model or part code: letters and digits mixed ("m315", "sgh-t249"), or a long number."""
    has_digit = any(c.isdigit() for c in tok)
    has_alpha = any(c.isalpha() for c in tok)
    if has_digit and has_alpha:
        return len(tok) >= 3 and not _MEASURE.fullmatch(tok) and not _ORDINAL.fullmatch(tok)
    return has_digit and len(tok) >= 5


def code_shape(code: str) -> str:
    """Letters as "a", digits as "9": "m315" and "m305" share a shape, so they are siblings."""
    return re.sub(r"\d", "9", re.sub(r"[a-z]", "a", code))


@dataclass(frozen=True, slots=True)
class Profile:
    """One record's matching features, computed once."""

    words: frozenset[str]  # title and brand tokens, stopwords removed
    title_text: str  # folded title, for rapidfuzz
    squashed: str  # folded title with all non-alphanumerics removed: finds "fdb16u2" in "fdb-16u2"
    brand: str | None  # squashed brand
    brand_words: frozenset[str]
    codes: frozenset[str]  # model/part codes, separators removed
    measures: dict[str, frozenset[float]]  # dimension -> values in the base unit
    numbers: frozenset[str]  # bare numbers: versions, years, model numbers ("4", "2007", "5670")
    colours: frozenset[str]
    gtin: str | None
    mpn: str | None


@lru_cache(maxsize=1 << 16)
def colour_of(word: str) -> str | None:
    if word in COLOURS:
        return word
    if len(word) <= 4 and word.isalpha() and not _VOWELS & set(word):
        for c in COLOURS:
            if is_abbreviation(word, c):
                return c
    return None


def _measures(text: str) -> tuple[dict[str, frozenset[float]], str]:
    """Quantities with units, and the text with them blanked out (so they are not also numbers)."""
    found: dict[str, set[float]] = {}

    def take(m: re.Match) -> str:
        value = float(m.group(1).replace(",", "."))
        dim, factor = UNITS[m.group(2)]
        found.setdefault(dim, set()).add(round(value * factor, 6))
        return " "

    rest = _MEASURE.sub(take, text)
    return {k: frozenset(v) for k, v in found.items()}, rest


def profile(
    title: object, brand: object = None, gtin: object = None, mpn: object = None
) -> Profile:
    """Everything the pairwise decision needs from one record."""
    text = normalise(fold(title))
    brand_text = fold(brand)
    measures, rest = _measures(text)
    codes: set[str] = set()
    code_parts: set[str] = set()  # "del" and "2009" of "DEL-2009" are the code, not words
    for compound in _COMPOUND.findall(rest):
        joined = re.sub(r"[-/.]", "", compound)
        if re.fullmatch(r"v?\d+(?:\.\d+)+", compound) or _NOT_CODE.fullmatch(compound):
            continue  # a version like 6.2.9 is a number, below; "3-user" is words
        if _is_code(joined) and any(c.isalpha() for c in joined):
            codes.add(joined)
            code_parts.update(tokens(compound))
    numbers: set[str] = set()
    for tok in _VERSION.findall(rest):
        norm = re.sub(r"(\.0+)+$", "", tok)
        if len(norm.replace(".", "")) >= 5:
            codes.add(norm.replace(".", ""))
        else:
            numbers.add(norm)
    words = set()
    glued = [h.replace("-", "") for h in _HYPHENATED.findall(text)]
    for tok in tokens(text) + tokens(brand_text) + glued:
        if tok in STOPWORDS or tok in code_parts:
            continue
        tok = ALIASES.get(tok, tok)
        if tok in ROMAN:
            tok = ROMAN[tok]
            numbers.add(tok)
        if _RELEASE.fullmatch(tok):
            numbers.add(tok)  # "cs3" is a release like "7.0": photoshop cs3 is not cs2, nor 7.0
        ordinal = _ORDINAL.fullmatch(tok)
        if ordinal:
            numbers.add(ordinal.group(1))
        glued_number = _GLUED_NUMBER.fullmatch(tok)
        if glued_number:
            numbers.add(glued_number.group(2))
            if glued_number.group(1) != "v":
                words.add(glued_number.group(1))
            continue
        words.add(tok)
        if _is_code(tok) and not tok.isdigit():
            codes.add(tok)
    norm_mpn = normalize_mpn(mpn)
    if norm_mpn:
        codes.add(norm_mpn)
    squashed_brand = re.sub(r"[^a-z0-9]", "", brand_text) or None
    return Profile(
        words=frozenset(words),
        title_text=" ".join(tokens(text)),
        squashed=re.sub(r"[^a-z0-9]", "", text),
        brand=squashed_brand,
        brand_words=frozenset(tokens(brand_text)),
        codes=frozenset(codes),
        measures=measures,
        numbers=frozenset(numbers),
        colours=frozenset(colour_of(w) for w in words if colour_of(w)),
        gtin=normalize_gtin(gtin),
        mpn=norm_mpn,
    )
