"""Unknown siblings: an offer that leaves the model code out may be a model we do not sell.

"Rowenta Triflex Cordless Vacuum Cleaner 0.75L Red", with no GTIN, MPN or code, fits our
"Rowenta Triflex ROT-2135 Cordless Vacuum Cleaner 0.75L Red" word for word. If ROT-2135 is the
only model of that line, the offer is ours. But when the market lists a sibling with the same
words ("Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Red", or its MPN ROT-2136-RD1),
nothing in the offer says which of the two it is, and accepting it would compare our price with
another product's. Such an offer waits for a manager, with the sibling as evidence
(``also_fits``).

The pairwise decision cannot see this: it looks at two records, and the sibling is a third
that is not in our catalog. So this runs after it, over what the market shows. It is cheap
because few matches are in question: only accepted text-only matches (no GTIN, MPN or code
agreed) to a product of ours that has a model code the offer leaves out. The market's titles
are tokenised once for those pairs' rarest shared words, and only titles that have one of
them and a code-like token are profiled.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from pricing.matching.attributes import Profile, code_shape, colour_of, fold, profile, tokens
from pricing.matching.identifiers import normalize_mpn
from pricing.matching.matcher import Matcher, Proposal
from pricing.matching.pairwise import (
    MIN_CODE,
    VARIANT_GROUPS,
    Idf,
    Thresholds,
    codes_agree,
    decide,
)

MarketRow = tuple[object, object, object, object]  # title, brand, gtin, mpn
# Given the words that matter, the market's records: all of them, or those whose title has one.
Market = Callable[[Sequence[str]], Iterable[MarketRow]]
_LETTERS = re.compile(r"[a-z]+")
TITLE_SHOWN = 120  # characters of the sibling's title kept as evidence (scraped text)
_DIGIT = re.compile(r"\d")
_VARIANT_WORDS = frozenset().union(*VARIANT_GROUPS)


def _strong_codes(p: Profile) -> set[str]:
    return {c for c in p.codes if len(c) >= MIN_CODE}


def in_question(proposal: Proposal, offer: Profile, ours: Profile) -> bool:
    """An accepted match on text alone, to a product with a model code the offer leaves out."""
    d = proposal.decision
    return (
        d.is_match
        and d.method == "fuzzy"
        and not offer.gtin
        and not _strong_codes(offer)
        and bool(_strong_codes(ours))
    )


def _key_word(offer: Profile, ours: Profile, idf: Idf) -> str | None:
    """The rarest word the two share, as the offer's title spells it (not a glued "prodlx"
    of "Pro-DLX"): a sibling that fits the offer says it too."""
    spelt = set(offer.title_text.split())
    shared = [
        w
        for w in offer.words & ours.words & spelt
        if len(w) >= 3 and w.isalpha() and w not in ours.brand_words
    ]
    return max(shared, key=lambda w: (idf(w), w)) if shared else None


def _line(code: str) -> str:
    """The letters a code starts with, which name the line: "rot" of "rot2135"."""
    m = _LETTERS.match(code)
    return m.group(0) if m else ""


def is_sibling(ours: Profile, other: Profile) -> bool:
    """``other`` is another model of our brand and line: "rot2136" beside our "rot2135" (same
    letters, same shape, another number), and none of its codes is ours."""
    if ours.brand is None or not (other.brand == ours.brand or ours.brand in other.squashed):
        return False
    if codes_agree(ours, other) is not None:
        return False
    return any(
        x != y and _line(x) and _line(x) == _line(y) and code_shape(x) == code_shape(y)
        for x in _strong_codes(ours)
        for y in _strong_codes(other)
    )


class SiblingGuard:
    """Sends accepted matches to review when the market shows a sibling the offer fits too."""

    def __init__(self, catalog: Sequence[Profile], idf: Idf, thresholds: Thresholds) -> None:
        self.catalog = catalog
        self.idf = idf
        self.thresholds = thresholds

    @classmethod
    def of(cls, matcher: Matcher) -> SiblingGuard:
        """The guard for ``matcher``'s catalog, IDF and thresholds."""
        return cls(matcher.catalog, matcher.idf, matcher.thresholds)

    def questions(self, proposals: Sequence[Proposal], offers: Sequence[Profile]) -> list[int]:
        """Positions in ``proposals`` of the matches in question (see :func:`in_question`)."""
        return [
            i
            for i, p in enumerate(proposals)
            if in_question(p, offers[p.offer], self.catalog[p.product])
        ]

    def review(
        self,
        proposals: Sequence[Proposal],
        offers: Sequence[Profile],
        market: Market,
    ) -> list[Proposal]:
        """``proposals`` with each accepted match in question demoted to review when a sibling
        of our product in the market fits the offer as well. ``market(words)`` gives the
        market's records, at least those whose title has one of ``words``; it is called only
        when there is a question."""
        looks: dict[str, dict[frozenset[str], list[_Look]]] = defaultdict(lambda: defaultdict(list))
        for i in self.questions(proposals, offers):
            p = proposals[i]
            look = _Look.of(i, self.catalog[p.product], offers[p.offer], self.idf)
            if look is not None:
                looks[look.word][look.ours.brand_words].append(look)
        out = list(proposals)
        if not looks:
            return out
        for look, sibling, title in _find_siblings(looks, market(sorted(looks))):
            p = out[look.position]
            if (
                p.decision.is_match
                and decide(sibling, look.offer, self.idf, self.thresholds).is_match
            ):
                code = sorted(_strong_codes(sibling))[0]
                # The sibling's own title, cut short: what a manager compares the offer with.
                shown = str(title)[:TITLE_SHOWN] if title else None
                evidence = dict(p.decision.evidence) | {"also_fits": code, "sibling": shown}
                decision = replace(p.decision, verdict="review", evidence=evidence)
                out[look.position] = replace(p, decision=decision)
        return out


@dataclass(frozen=True, slots=True)
class _Look:
    """One match in question: which market titles may hold a sibling of our product."""

    position: int  # in the proposals
    word: str  # the rarest word offer and product share: a sibling that fits says it too
    ours: Profile
    offer: Profile
    lines: frozenset[str]  # our codes' letters ("rot" of "rot2135"): a sibling's code has them
    says: frozenset[str]  # the offer's sizes and variant words ("0", "75l", "11", "xxl")
    colours: frozenset[str]

    @classmethod
    def of(cls, position: int, ours: Profile, offer: Profile, idf: Idf) -> _Look | None:
        """What to look for; None when our codes name no line or nothing rare is shared."""
        word = _key_word(offer, ours, idf)
        lines = frozenset(filter(None, map(_line, _strong_codes(ours))))
        if not word or not lines:
            return None
        says = {t for t in offer.title_text.split() if _DIGIT.search(t)}
        says |= offer.words & _VARIANT_WORDS & set(offer.title_text.split())
        return cls(position, word, ours, offer, lines, frozenset(says), offer.colours)

    def may_hold(self, words: set[str], mpn: object) -> bool:
        """Cheap test before profiling (our brand's words are checked before): the offer's
        sizes, variant words and colours ("0.75l", "xxl", "red": a sibling that fits the offer
        says them too, if it says them at all the way the offer does), and a token or MPN
        starting with our code's letters."""
        if not self.says <= words:
            return False
        if not any(w.startswith(x) for w in words for x in self.lines):
            norm = normalize_mpn(mpn)
            if not (norm and any(norm.startswith(x) for x in self.lines)):
                return False
        return not self.colours or self.colours <= {colour_of(w) for w in words}


def _find_siblings(
    looks: dict[str, dict[frozenset[str], list[_Look]]], market: Iterable[MarketRow]
) -> Iterator[tuple[_Look, Profile, object]]:
    """Each (match in question, market record that is a sibling of our product, its title)."""
    profiled: dict[tuple, Profile] = {}
    keys = looks.keys()
    for row in market:
        title, brand, gtin, mpn = row
        text = str(title) if title is not None else ""
        text = text.lower() if text.isascii() else fold(text)
        words = set(tokens(text))
        hits = words & keys
        if not hits:
            continue
        if brand:
            words.update(tokens(fold(brand)))
        for word in hits:
            for brand_words, group in looks[word].items():
                if not brand_words <= words:
                    continue
                for look in group:
                    if not look.may_hold(words, mpn):
                        continue
                    other = profiled.get(row)
                    if other is None:  # the same listing in many shops: one profile
                        other = profiled[row] = profile(title, brand, gtin, mpn)
                    if is_sibling(look.ours, other):
                        yield look, other, title
