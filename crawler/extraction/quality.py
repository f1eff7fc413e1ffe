"""The data-quality gate: one price from every way the page stated it.

A page can state its price in JSON-LD, microdata, OpenGraph and visible text. When they agree
we are sure. When they disagree (a stale JSON-LD price under a live sale banner, a template
bug, a bait price in meta tags) nothing is averaged or guessed: every candidate is recorded,
an explicit site rule picks one, and the confidence says it was contested. Candidates are
validated before they can win: a price must be positive and plausible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crawler.items import PriceCandidate

STRUCTURED_SOURCES = ("jsonld", "microdata", "opengraph", "api")
VISIBLE_SOURCES = ("selector", "visible")
MAX_PLAUSIBLE_PRICE = Decimal("100000000")  # more than this is a phone number or an SKU
CONTESTED_CONFIDENCE = 0.6
AGREED_CONFIDENCE = 1.0


@dataclass(frozen=True, slots=True)
class GateDecision:
    price: Decimal | None
    currency: str | None
    source: str | None  # which candidate(s) the price came from, e.g. "jsonld+selector"
    confidence: float | None
    disagreement: str | None  # every candidate and the rule that chose, when they disagree


def usable(candidate: PriceCandidate) -> bool:
    """A candidate may win only with a positive, plausible amount."""
    amount = candidate.amount
    return amount is not None and amount.is_finite() and 0 < amount < MAX_PLAUSIBLE_PRICE


def _order(rule: str) -> tuple[str, ...]:
    if rule == "visible":
        return VISIBLE_SOURCES + STRUCTURED_SOURCES
    return STRUCTURED_SOURCES + VISIBLE_SOURCES


def _rank(candidate: PriceCandidate, order: tuple[str, ...]) -> int:
    return order.index(candidate.source) if candidate.source in order else len(order)


def _describe(candidate: PriceCandidate) -> str:
    if candidate.amount is None:
        said = f"no price ({candidate.raw})" if candidate.raw else "no price"
    else:
        said = f"{candidate.amount}" + (f" {candidate.currency}" if candidate.currency else "")
    return f"{candidate.source}={said}"


def _agree(a: PriceCandidate, b: PriceCandidate) -> bool:
    if a.amount is None or b.amount is None or a.amount != b.amount:
        return False
    return a.currency is None or b.currency is None or a.currency == b.currency


def decide(candidates: list[PriceCandidate], rule: str = "structured") -> GateDecision:
    """Pick the price by ``rule`` ("structured" or "visible"); say so when sources disagree."""
    if not candidates:
        return GateDecision(None, None, None, None, None)
    order = _order(rule)
    valid = sorted((c for c in candidates if usable(c)), key=lambda c: _rank(c, order))
    # Explicit "no price" statements (Call for price) and invalid amounts still count as voices.
    voices = [c for c in candidates if usable(c) or c.amount is None or c.raw]
    said = "; ".join(_describe(c) for c in candidates)
    visible = [c for c in voices if c.source in VISIBLE_SOURCES]
    if rule == "visible" and visible and not any(usable(c) for c in visible) and valid:
        # The page shows no price ("Call for price") and the site trusts what it shows.
        return GateDecision(
            None, None, None, CONTESTED_CONFIDENCE,
            f"sources disagree: {said}; price_rule=visible: the page shows no price",
        )  # fmt: skip
    if not valid:
        return GateDecision(None, None, None, None, f"no usable price: {said}")
    winner = valid[0]
    agreeing = [c for c in voices if c is winner or _agree(c, winner)]
    currency = winner.currency or next((c.currency for c in agreeing if c.currency), None)
    sources = "+".join(dict.fromkeys(c.source for c in agreeing))
    if len(agreeing) == len(voices):
        return GateDecision(winner.amount, currency, sources, AGREED_CONFIDENCE, None)
    if rule == "visible" and winner.source not in VISIBLE_SOURCES:
        why = "no visible price, so structured data"
    elif rule == "visible":
        why = "price_rule=visible: the visible price wins"
    else:
        why = "price_rule=structured: structured data wins"
    return GateDecision(
        winner.amount,
        currency,
        sources,
        CONTESTED_CONFIDENCE,
        f"sources disagree: {said}; {why} ({winner.source})",
    )
