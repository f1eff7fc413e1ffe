"""Near-duplicates of one model: a shared model code names the model, not which variant it is.

Hand-written shapes of the simulator's remaining near-duplicate errors (issue #5): the title
codes agree, our part number goes on past the code (the model's variants share it), one side
states a capacity or form factor the other leaves out, and the catalog carries only one of the
model's variants; and a code-less title that fits many catalog products equally well must not
lose the equal ones in blocking.
"""

from __future__ import annotations

from pricing.matching.attributes import profile
from pricing.matching.blocking import Blocker
from pricing.matching.matcher import Matcher
from pricing.matching.pairwise import Idf, decide

CATALOG = [
    profile("Miele Stratos MIS-9345 Cordless Vacuum Cleaner Red", "Miele", mpn="MIS-9345-RD0"),
    profile("Bose Tune BOT-3490 Wireless Headphones In-Ear White", "Bose", mpn="BOT-3490-WH3"),
    profile("JBL Liberty JBL-7519 Wireless Headphones Silver", "JBL", mpn="JBL-7519-SV0"),
    profile("Samsung Galaxy S24 SM-S921B Smartphone 256GB Onyx Black", "Samsung"),
    profile("Canon EOS R CAE-2210 Mirrorless Camera Body Only Black", "Canon"),
    profile("Nikon Z NIZ-512 Mirrorless Camera Kit 24-105mm Black", "Nikon"),
    profile("Dyson V15 DYV-3385 Cordless Vacuum Cleaner 0.75L Grey", "Dyson"),
]
IDF = Idf.from_profiles(CATALOG)


def d(ours: tuple[str, str | None], theirs: str, their_mpn: str | None = None):
    """Our SKU (title, MPN) against a shop's title: brand from the title, as many shops do."""
    title, mpn = ours
    return decide(profile(title, mpn=mpn), profile(theirs, mpn=their_mpn), IDF)


def test_capacity_stated_by_one_side_only_is_not_settled_by_the_model_code():
    r = d(
        ("Miele Stratos MIS-9345 Cordless Vacuum Cleaner Red", "MIS-9345-RD0"),
        "Miele Stratos MIS-9345 Cordl. Vacuum 0.5L Red",
    )
    assert r.method == "code" and not r.is_match and r.verdict == "review"
    assert r.evidence["variant_one_side"] == ["volume"]
    phone = d(
        ("Samsung Galaxy S24 SM-S921B Smartphone 256GB Onyx Black", "SM-S921BZKDEUB"),
        "Samsung Galaxy S24 SM-S921B Onyx Black",
    )
    assert not phone.is_match and phone.evidence["variant_one_side"] == ["bytes"]


def test_form_factor_stated_by_one_side_only_is_not_settled_by_the_model_code():
    over = d(
        ("JBL Liberty JBL-7519 Wireless Headphones Silver", "JBL-7519-SV0"),
        "JBL Liberty JBL-7519 Wireless Headphones Over-Ear Silver",
    )
    assert over.method == "code" and not over.is_match
    assert over.evidence["variant_one_side"] == ["overear"]
    plain = d(
        ("Bose Tune BOT-3490 Wireless Headphones In-Ear White", "BOT-3490-WH3"),
        "Bose Tune BOT-3490 Wireless Headphones White",
    )
    assert not plain.is_match and plain.evidence["variant_one_side"] == ["inear"]
    body = d(
        ("Canon EOS R CAE-2210 Mirrorless Camera Body Only Black", "CAE-2210-BK0"),
        "Canon EOS R CAE-2210 Mirrorless Camera Black",
    )
    assert not body.is_match and body.evidence["variant_one_side"] == ["body"]


def test_the_same_variant_reworded_is_still_accepted_on_its_code():
    assert d(
        ("Miele Stratos MIS-9345 Cordless Vacuum Cleaner 0.5L Red", "MIS-9345-RD1"),
        "MIELE Stratos Cordless Vacuum - MIS9345 (Red) 0.5 L",
    ).is_match
    assert d(
        ("Nikon Z NIZ-512 Mirrorless Camera Kit 24-105mm Black", "NIZ-512-BK2"),
        "Nikon Z NIZ-512 Mirrorless Cam Kit 24-105mm Black Free Shipping",
    ).is_match
    # Both silent on the size: nothing is unexplained.
    assert d(
        ("JBL Liberty JBL-7519 Wireless Headphones Silver", "JBL-7519-SV0"),
        "JBL-7519 Liberty Wireless Headphones (Silver)",
    ).is_match


def test_a_code_is_read_as_the_model_only_when_a_part_number_goes_on_past_it():
    vacuum = "Miele Stratos MIS-9345 Cordless Vacuum Cleaner Red"
    # The offer's own part number names the variant: it agrees, so the pair is the same item.
    assert d((vacuum, "MIS-9345-RD0"), "Stratos MIS-9345 Vacuum 0.5L Red", "MIS9345RD0").is_match
    # No part number longer than the code: the code may be the item's own, as most are.
    assert d((vacuum, None), "Miele Stratos MIS-9345 Cordless Vacuum Cleaner 0.5L Red").is_match
    assert d((vacuum, "MIS-9345"), "Miele Stratos MIS-9345 Cordless Vacuum 0.5L Red").is_match


def test_one_sided_variant_only_goes_to_review_when_the_rest_agrees():
    # Different volumes stated by both: still a conflict, far below review.
    r = d(
        ("Dyson V15 DYV-3385 Cordless Vacuum Cleaner 0.75L Grey", "DYV-3385-GY2"),
        "Dyson V15 DYV-3385 Cordless Vacuum Cleaner 0.5L Grey",
    )
    assert r.verdict == "no" and "variant_one_side" not in r.evidence


COLOURS = ["beige", "red", "blue", "green", "grey", "navy", "white", "black", "silver", "gold"]
COLOURS += ["pink", "brown"]
KINDS = ["steel", "glass", "travel", "electric", "stove", "smart", "mini", "family"]
KINDS += ["retro", "tall", "wide", "slim", "quiet", "dual"]


def _tied_catalog(n: int) -> list:
    """``n`` vacuums alike but for a colour too common to be a blocking key (every colour is on
    14 kettles too), with more words than blocking pairs up: so all of them share the same
    blocking keys with any one's offer, and only the rerank by all words tells them apart."""
    group = [profile(f"Acme Stratos Turbo Cordless Vacuum Cleaner {c}", "Acme") for c in COLOURS]
    kettles = [profile(f"Zeta {k} Kettle {c}", "Zeta") for c in COLOURS for k in KINDS]
    return group[:n] + kettles


def test_blocking_keeps_candidates_tied_with_the_last_one_kept():
    catalog = _tied_catalog(8)
    blocker = Blocker(catalog, Idf.from_profiles(catalog), top_k=1, max_df=8)  # pool of 5
    offers = [profile(f"Acme Stratos Turbo Cordless Vacuum Cleaner {c}") for c in COLOURS[:8]]
    assert [cands[0] for cands in blocker.candidates(offers)] == list(range(8))


def test_an_offer_fitting_two_products_equally_is_not_accepted_after_blocking():
    catalog = _tied_catalog(12)
    catalog.append(profile("Acme Stratos Turbo Cordless Vacuum Cleaner Beige", "Acme"))
    matcher = Matcher(catalog, top_k=2)
    matcher.blocker = Blocker(catalog, matcher.idf, top_k=2, max_df=13)  # pool of 10
    [prop] = matcher.propose([profile("Acme Stratos Turbo Cordless Vacuum Cleaner Beige")])
    assert {prop.product, prop.runner_up} == {0, len(catalog) - 1}
    assert not prop.decision.is_match


def test_a_code_followed_by_a_unit_like_word_is_still_a_code():
    """The digits of "SEL-6359 In-Ear" are no 6359 inches, those of "ADH-1444 L" no litres: read
    as measures they hid the code and made a capacity up on one side only."""
    headphones = profile("Wireless Headphones Sennheiser Liberty SEL-6359 In-Ear Beige")
    assert headphones.codes == {"sel6359"} and not headphones.measures
    shirt = profile("Cotton T-Shirt Adidas Housemark ADH-1444 L White")
    assert shirt.codes == {"adh1444"} and not shirt.measures
    assert profile("Canon EOS Kit 18-55mm").measures == {"length": {5.5}}
    assert profile("Office 2007 5-pack").measures == {"count": {5.0}}
    r = d(
        ("Sennheiser Liberty SEL-6359 Wireless Headphones In-Ear Beige", "SEL-6359-BG3"),
        "Wireless Headphones Sennheiser Liberty SEL-6359 In-Ear Beige",
    )
    assert r.is_match and "variant_one_side" not in r.evidence


def test_among_equally_sharing_products_the_ones_saying_no_more_come_first():
    """A code-less title shares its words with every variant of the line; the variants that
    add nothing to it are its real rivals, so both plain ones must reach the decision (and make
    it ambiguous) whatever their place in the catalog."""
    catalog = [
        profile("Bose Elite BOE-5203 Headphones Red Travel", "Bose"),
        profile("Bose Elite BOE-2019 Headphones Red", "Bose"),
        profile("Bose Elite BOE-7717 Headphones Red Sport", "Bose"),
        profile("Bose Elite BOE-1549 Headphones Red", "Bose"),
    ]
    matcher = Matcher(catalog, top_k=2)
    [prop] = matcher.propose([profile("Bose Elite Headphones Red", "Bose")])
    assert {prop.product, prop.runner_up} == {1, 3} and not prop.decision.is_match
