"""Structured data on a page, read with extruct asking only for the syntaxes the page has.

DESIGN.md measured extruct at 0.14 ms a page for JSON-LD alone and 5.7 ms for all syntaxes,
so a substring check decides which syntaxes to parse. JSON-LD is read block by block: one
malformed block (common: trailing commas, HTML comments, unescaped quotes) must not hide
the others.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import extruct
from extruct.jsonld import JsonLdExtractor
from lxml.html import HtmlElement

from crawler.extraction.opengraph import raw_offers_from_opengraph
from crawler.extraction.records import RawOffer
from crawler.extraction.schemaorg import raw_offers_from_items

logger = logging.getLogger(__name__)

_HAS_JSONLD = re.compile(r"application/ld\+json", re.I)
_HAS_MICRODATA = re.compile(r"\bitemscope\b", re.I)
_HAS_OPENGRAPH = re.compile(r"""<meta\b[^>]*?\bproperty\s*=\s*["']?(?:og|product):""", re.I)


def syntaxes_present(html: str) -> list[str]:
    """Which syntaxes are worth asking extruct for (a substring check costs microseconds)."""
    present = []
    if _HAS_JSONLD.search(html):
        present.append("json-ld")
    if _HAS_MICRODATA.search(html):
        present.append("microdata")
    if _HAS_OPENGRAPH.search(html):
        present.append("opengraph")
    return present


def _jsonld_blocks(tree: HtmlElement, url: str) -> list:
    """JSON-LD, block by block, so one broken block does not lose the others."""
    extractor = JsonLdExtractor()
    items: list = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            items.extend(extractor.extract_items(script, base_url=url))
        except Exception as exc:  # malformed JSON from an untrusted page
            logger.debug("skipping a broken JSON-LD block on %s: %s", url, exc)
    return items


def structured_raw_offers(
    tree: HtmlElement, url: str, syntaxes: list[str], hint: str | None
) -> Iterator[RawOffer]:
    """Every structured offer on the page, JSON-LD first, then microdata, then OpenGraph."""
    if "json-ld" in syntaxes:
        yield from raw_offers_from_items(_jsonld_blocks(tree, url), "jsonld", url, hint)
    other = [s for s in syntaxes if s != "json-ld"]
    if not other:
        return
    try:
        data = extruct.extract(tree, base_url=url, syntaxes=other, uniform=True, errors="log")
    except Exception as exc:  # extruct on hostile markup: lose the syntax, not the page
        logger.debug("extruct failed on %s: %s", url, exc)
        return
    if data.get("microdata"):
        yield from raw_offers_from_items(data["microdata"], "microdata", url, hint)
    if data.get("opengraph"):
        yield from raw_offers_from_opengraph(data["opengraph"], url, hint)
