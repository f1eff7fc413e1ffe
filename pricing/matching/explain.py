"""A match's evidence in words a pricing manager reads at a glance.

The matcher records its evidence as a small dict (``matches.evidence``); this module is the one
place that knows its keys, so the review app and the CLI say the same thing. Unknown keys are
skipped rather than shown raw: evidence from an older version must not break a page.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_ITEMS = 3  # a reason names at most this many words or codes


def _items(value: object) -> str:
    if isinstance(value, (list, tuple)):
        flat = [str(v) for v in value][:MAX_ITEMS]
        return ", ".join(flat)
    return str(value)


def reasons(evidence: Mapping[str, object] | None) -> list[str]:
    """Why the matcher decided as it did, strongest evidence first; [] when nothing is known."""
    if not evidence:
        return []
    said: list[str] = []
    if "gtin" in evidence:
        said.append(f"same GTIN {evidence['gtin']}")
    if "code" in evidence:
        said.append(f"model code {evidence['code']} agrees")
    if isinstance(evidence.get("text"), (int, float)):
        said.append(f"titles {float(evidence['text']):.0%} alike")
    if "conflicts" in evidence:
        said.append(f"differs: {_items(evidence['conflicts'])}")
    differ = evidence.get("differ")
    if isinstance(differ, (list, tuple)) and len(differ) == 2:
        said.append(f"each names what the other lacks: {_items(differ[0])} / {_items(differ[1])}")
    if "edition_one_side" in evidence:
        said.append(f"edition named on one side only: {_items(evidence['edition_one_side'])}")
    if "variant_one_side" in evidence:
        said.append(
            "the code names the model, but only one side says which variant "
            f"({_items(evidence['variant_one_side'])})"
        )
    if "ambiguous_with" in evidence:
        said.append(f"fits our SKU {evidence['ambiguous_with']} as well")
    if "also_fits" in evidence:
        sibling = evidence.get("sibling")
        listed = f' ("{sibling}")' if isinstance(sibling, str) and sibling else ""
        said.append(
            f"also fits {evidence['also_fits']}, another model of the line listed in the "
            f"market{listed}: the offer does not say which it is"
        )
    return said
