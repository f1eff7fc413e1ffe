"""Microdata and OpenGraph, read exactly as ``extruct.extract(tree, uniform=True)`` reads them.

extruct's readers spend most of their time in XPath evaluations over the whole page, each
~850 instructions a node: microdata ran one for its item ids, one for its items and one per
item for its properties (an EXSLT set difference), OpenGraph one for ``//head``. Here the
page's microdata elements are found in one evaluation and each property is given to its
item by walking up to its nearest ``itemscope``; OpenGraph's heads and meta tags are found
by ``iter()`` in C. The rest is extruct's own code, so the items are the same dicts in the
same order (measured under callgrind: ~430,000 instructions less a microdata page, ~110,000
an OpenGraph one; crawler/extract.py's per-page cost is ~1.3 million).

:func:`extract` keeps ``extruct.extract``'s ``errors="log"`` behaviour too: a reader that
fails is logged by extruct's logger, and the call then fails as extruct's does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import chain
from typing import Any

from extruct.opengraph import _OG_NAMESPACES, OpenGraphExtractor
from extruct.uniform import _umicrodata_microformat, _uopengraph
from extruct.w3cmicrodata import LxmlMicrodataExtractor
from lxml import etree

extruct_logger = logging.getLogger("extruct._extruct")

# Every element _xp_item or _xp_prop could select, in document order.
_SCOPED = etree.XPath("descendant-or-self::*[@itemscope or @itemprop]")


def iter_document(tree, tag: str) -> Iterator:
    """Every ``tag`` element of the document, as ``//tag`` finds them, in document order: the
    root's and those of any top-level node broken markup leaves beside it (the HTML parser
    can), without an XPath evaluation over every node."""
    root = tree.getroottree().getroot()
    if root.getprevious() is None and root.getnext() is None:  # the usual, well-formed page
        return root.iter(tag)
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    return chain.from_iterable(top.iter(tag) for top in tops)


def _properties(found: list, items: list) -> dict:
    """Each item's ``_xp_prop`` (``set:difference(.//*[@itemprop],
    .//*[@itemscope]//*[@itemprop])``): the ``itemprop`` elements whose nearest
    ``itemscope`` ancestor is the item, in document order."""
    props: dict = {item: [] for item in items}
    for element in found:
        if element.get("itemprop") is None:
            continue
        for ancestor in element.iterancestors():
            owned = props.get(ancestor)
            if owned is not None:
                owned.append(element)
                break
    return props


class MicrodataExtractor(LxmlMicrodataExtractor):
    """extruct's microdata extractor, the page's items and properties found in one pass."""

    def __init__(self) -> None:
        super().__init__()
        self._props: dict | None = None

    def extract_items(self, document, base_url):
        found = _SCOPED(document)
        items = [element for element in found if element.get("itemscope") is not None]
        if document.getroottree().getroot() is document:  # what _build_itemids would find
            itemids = {node: number for number, node in enumerate(items, 1)}
        else:
            itemids = self._build_itemids(document)
        self._props = _properties(found, items)
        items_seen: set[Any] = set()
        try:
            extracted = (
                self._extract_item(it, items_seen=items_seen, base_url=base_url, itemids=itemids)
                for it in items
            )
            return [item for item in extracted if item]
        finally:
            self._props = None

    def _extract_properties(self, node, items_seen, base_url, itemids):
        props = self._props.get(node) if self._props is not None else None
        if props is None:  # not an item of this page's pass: extruct's own XPath
            yield from super()._extract_properties(node, items_seen, base_url, itemids)
            return
        for prop in props:
            yield from self._extract_property(
                prop, items_seen=items_seen, base_url=base_url, itemids=itemids
            )


class OpenGraphReader(OpenGraphExtractor):
    """extruct's OpenGraph extractor, its heads and meta tags found without XPath."""

    def extract_items(self, document, base_url=None):
        for head in iter_document(document, "head"):  # //head
            first = document.head
            parent = first.getparent()  # parent::html of the page's first head
            html_elems = [parent] if parent is not None and parent.tag == "html" else []
            namespaces = self.get_namespaces(html_elems[0]) if html_elems else {}
            namespaces.update(self.get_namespaces(head))
            props = []
            for el in head.iterchildren("meta"):  # meta[@property and @content]
                if el.get("property") is None or el.get("content") is None:
                    continue
                prop = el.attrib["property"]
                val = el.attrib["content"]
                ns = prop.partition(":")[0]
                if ns in _OG_NAMESPACES:
                    namespaces[ns] = _OG_NAMESPACES[ns]
                if ns in namespaces:
                    props.append((prop, val))
            if props:
                yield {"namespace": namespaces, "properties": props}


def extract(tree, base_url: str, syntaxes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``extruct.extract(tree, base_url=base_url, syntaxes=syntaxes, uniform=True,
    errors="log")`` for ``microdata`` and ``opengraph``."""
    readers = {"microdata": MicrodataExtractor, "opengraph": OpenGraphReader}
    output: dict[str, list[dict[str, Any]]] = {}
    for syntax in ("microdata", "opengraph"):  # extruct's order
        if syntax in syntaxes:
            try:
                output[syntax] = list(readers[syntax]().extract_items(tree, base_url=base_url))
            except Exception as e:
                extruct_logger.exception(f"Failed to extract {syntax}, raises {e}")
    uniform = [
        (syntax, output[syntax])  # a reader that failed: a KeyError here, as in extruct
        for syntax in ("microdata", "opengraph")
        if syntax in syntaxes
    ]
    for syntax, raw in uniform:
        try:
            if syntax == "opengraph":
                output[syntax] = _uopengraph(raw, with_og_array=False)
            else:
                output[syntax] = _umicrodata_microformat(raw, "http://schema.org")
        except Exception as e:
            output[syntax] = []
            extruct_logger.exception(f"Failed to uniform extracted for {syntax}, raises {e}")
    return output
