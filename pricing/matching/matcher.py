"""Matching many offers against one catalog: blocking, then the pairwise decision, then the best.

Shared by the store engine and the offline CSV mode, so both decide identically. An offer is one
product, so it gets at most one SKU: the best-scoring candidate (a GTIN match wins outright).
When two of our products fit an offer equally well (a title that leaves out the one word telling
two variants apart), picking one would be a coin toss, so the offer waits for a manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pricing.matching.attributes import Profile, is_abbreviation
from pricing.matching.blocking import Blocker
from pricing.matching.pairwise import Idf, PairDecision, Thresholds, decide

AMBIGUOUS_MARGIN = 0.05  # runner-up this close to the best: no automatic choice


@dataclass(frozen=True, slots=True)
class Proposal:
    """The best catalog product for one offer (indices into the inputs)."""

    offer: int
    product: int
    decision: PairDecision
    runner_up: int | None = None  # set when the choice was ambiguous


class Expander:
    """Spells out a shop's abbreviations with the catalog's own words: "wrls" -> "wireless".

    A word the catalog never uses is rewritten only when exactly one catalog word (same first
    letter, longer) starts with it or keeps its letters in order; ambiguous ones stay as they are.
    Answers are cached: shops reuse the same few abbreviations across thousands of titles.
    """

    def __init__(self, vocabulary: set[str]) -> None:
        self.vocabulary = vocabulary
        self.by_initial: dict[str, list[str]] = {}
        for w in vocabulary:
            if w.isalpha():
                self.by_initial.setdefault(w[0], []).append(w)
        self.cache: dict[str, str | None] = {}

    def word(self, w: str) -> str | None:
        if w in self.cache:
            return self.cache[w]
        found = None
        if len(w) >= 3 and w.isalpha():
            hits = [
                v
                for v in self.by_initial.get(w[0], ())
                if len(v) > len(w) and (v.startswith(w) or is_abbreviation(w, v))
            ]
            found = hits[0] if len(hits) == 1 else None
        self.cache[w] = found
        return found

    def __call__(self, p: Profile) -> Profile:
        unknown = [w for w in p.words if w not in self.vocabulary]
        if not unknown:
            return p
        words = set(p.words)
        for w in unknown:
            full = self.word(w)
            if full:
                words.discard(w)
                words.add(full)
        return replace(p, words=frozenset(words))


class Matcher:
    """Holds the catalog's index; IDF comes from the catalog's own titles (no labels needed)."""

    def __init__(
        self,
        catalog: Sequence[Profile],
        thresholds: Thresholds | None = None,
        *,
        top_k: int = 6,
    ) -> None:
        self.catalog = catalog
        self.thresholds = thresholds or Thresholds()
        self.idf = Idf.from_profiles(catalog)
        self.blocker = Blocker(catalog, self.idf, top_k=top_k)
        self.expand = Expander(set(self.idf.weights))

    def house_style(self, shop: Iterable[Profile]) -> Idf:
        """The catalog's IDF that also knows ``shop``'s house-style words (all its titles, not
        only those being matched: a style is a habit over the whole shop)."""
        return self.idf.with_house_style(self.catalog, [self.expand(p) for p in shop])

    def propose(
        self,
        offers: Sequence[Profile],
        *,
        exclude: set[tuple[int, int]] | None = None,
        idf: Idf | None = None,
    ) -> list[Proposal]:
        """One proposal per offer that reaches the review band; ``exclude`` holds (offer, product)
        pairs a manager rejected, which are never proposed again. ``idf`` (from
        :meth:`house_style`) when the offers come from one shop whose style is known."""
        exclude = exclude or set()
        idf = idf or self.idf
        offers = [self.expand(p) for p in offers]
        proposals: list[Proposal] = []
        for i, cands in enumerate(self.blocker.candidates(offers)):
            ranked: list[tuple[float, int, PairDecision]] = []
            for c in cands:
                if (i, c) in exclude:
                    continue
                d = decide(self.catalog[c], offers[i], idf, self.thresholds)
                ranked.append((d.score, c, d))
                if d.method == "gtin" and d.is_match:
                    ranked = [ranked[-1]]
                    break
            if not ranked:
                continue
            ranked.sort(key=lambda r: -r[0])
            _, best, decision = ranked[0]
            if decision.verdict == "no":
                continue
            runner_up = None
            if (
                len(ranked) > 1
                and decision.method != "gtin"
                and ranked[1][0] >= decision.score - AMBIGUOUS_MARGIN
            ):
                runner_up = ranked[1][1]
                if decision.is_match:
                    decision = replace(decision, verdict="review")
            proposals.append(Proposal(i, best, decision, runner_up))
        return proposals
