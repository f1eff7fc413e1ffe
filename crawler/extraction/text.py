"""Scraped text is untrusted: bound it, drop invisible characters, normalise spaces.

Zero-width and control characters hide in shop markup (copy-paste from CMS editors, and on
purpose against scrapers); they break number parsing and make equal titles unequal.
"""

from __future__ import annotations

import re

MAX_TITLE = 500

# C0/C1 controls, zero-width spaces/joiners, BOM, word joiner, soft hyphen, bidi marks.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
# Swiss thousands are written with a typographic apostrophe too: 1’299.00
_APOSTROPHE_IN_NUMBER = re.compile(r"(?<=\d)[’ʼ′´`](?=\d{3})")


def clean_text(value: str | None, limit: int = MAX_TITLE) -> str:
    """One line of visible text, at most ``limit`` characters."""
    if not value:
        return ""
    value = value[: limit * 4]
    # Most scraped text is plain printable ASCII: it skips the regexes that cannot match it.
    if not (value.isascii() and value.isprintable()):
        value = _INVISIBLE.sub("", value)
    if not value.isascii() or "`" in value:
        value = _APOSTROPHE_IN_NUMBER.sub("'", value)
    value = " ".join(value.split())  # str.split and \s agree on what whitespace is
    return value[:limit].rstrip()


def clean_optional(value: object, limit: int = MAX_TITLE) -> str | None:
    """Like :func:`clean_text` for any scraped value; empty becomes None."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = next((v for v in value if v not in (None, "")), None)
        if value is None:
            return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("@id")
        if value is None:
            return None
    text = clean_text(str(value), limit)
    return text or None
