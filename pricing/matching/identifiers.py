"""Product identifiers: GTIN/EAN/UPC and manufacturer part numbers, normalized.

An identifier is only evidence if it is what it claims to be. A GTIN with a wrong check digit is
a typo or a made-up number, so it is dropped rather than trusted; UPC-A (12), EAN-8 (8), EAN-13
(13) and GTIN-14 are all padded to 14 digits so the same product compares equal whatever the shop
printed. MPNs differ between shops only in punctuation and case ("MX-4500/B" vs "mx4500b").
"""

from __future__ import annotations

import re

from pricing.catalog import gtin_check_digit_ok

_NOT_DIGIT = re.compile(r"\D")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
GTIN_LENGTHS = (8, 12, 13, 14)


def normalize_gtin(value: object) -> str | None:
    """A valid GTIN as 14 digits, or None when it is missing, the wrong length or fails its check.

    Spreadsheets turn GTINs into floats ("4006381333931.0") and drop leading zeros; both are
    undone here, since a UPC-A that lost its leading zero is still the same product.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none", "null"}:
        return None
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) not in GTIN_LENGTHS and 8 < len(digits) < 14:
        digits = digits.zfill(12 if len(digits) < 12 else 13)
    if len(digits) not in GTIN_LENGTHS or not digits.strip("0"):
        return None
    if not gtin_check_digit_ok(digits):  # the catalog import's own GS1 check
        return None
    return digits.zfill(14)


def normalize_mpn(value: object) -> str | None:
    """An MPN reduced to lower-case letters and digits; None if nothing meaningful is left.

    Very short part numbers ("1", "A2") are dropped: they collide across brands and models.
    """
    if value is None:
        return None
    text = _NOT_ALNUM.sub("", str(value).lower())
    if len(text) < 3 or text in {"nan", "none", "null", "na"}:
        return None
    return text


def mpn_agrees(a: str | None, b: str | None) -> bool:
    """Two normalized MPNs name the same part: equal, or one is the other plus a short suffix.

    Shops append region or colour suffixes ("5035b001" vs "5035b001aa"); a suffix of up to three
    characters on a base of at least six is taken as the same part.
    """
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 6 and long_.startswith(short) and len(long_) - len(short) <= 3
