"""A match's evidence in words: what the review app shows a manager beside each match."""

from __future__ import annotations

from pricing.matching.attributes import profile
from pricing.matching.explain import reasons
from pricing.matching.pairwise import Idf, decide


def test_each_kind_of_evidence_is_said_strongest_first():
    said = reasons(
        {
            "text": 0.835,
            "code": "rot2135",
            "conflicts": ["colour: ['red'] vs ['blue']"],
            "differ": [["nightlife", "seasons"], ["castaway"]],
            "edition_one_side": ["academic"],
            "variant_one_side": ["volume"],
            "ambiguous_with": "PW-1",
            "also_fits": "rot2136",
            "sibling": "Rowenta Triflex ROT-2136 Vacuum",
        }
    )
    assert said == [
        "model code rot2135 agrees",
        "titles 84% alike",
        "differs: colour: ['red'] vs ['blue']",
        "each names what the other lacks: nightlife, seasons / castaway",
        "edition named on one side only: academic",
        "the code names the model, but only one side says which variant (volume)",
        "fits our SKU PW-1 as well",
        "also fits rot2136, another model of the line listed in the market "
        '("Rowenta Triflex ROT-2136 Vacuum"): the offer does not say which it is',
    ]
    assert reasons({"also_fits": "x1234", "sibling": None})[0].startswith(
        "also fits x1234, another model of the line listed in the market: "
    )


def test_a_real_decision_reads_well_and_odd_evidence_is_skipped():
    a = profile("Apple iPhone 15 128GB Black", "Apple")
    b = profile("Apple iPhone 15 256GB Black", "Apple")
    d = decide(a, b, Idf.from_profiles([a, b]))
    said = reasons(d.evidence)
    assert said[0].startswith("titles ") and said[1].startswith("differs: bytes")
    assert reasons({"gtin": "4006381333931"}) == ["same GTIN 4006381333931"]
    assert reasons(None) == [] and reasons({"text": "n/a", "differ": "x", "new_key": 1}) == []
