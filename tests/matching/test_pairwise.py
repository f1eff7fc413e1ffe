"""The pairwise decision: attributes must agree; identifiers decide; prices never do."""

from __future__ import annotations

from pricing.matching.attributes import profile
from pricing.matching.pairwise import Idf, Thresholds, decide

CORPUS = [
    profile("Apple iPhone 15 128GB Black", "Apple"),
    profile("Apple iPhone 15 256GB Black", "Apple"),
    profile("Samsung Galaxy S24 256GB Onyx Black", "Samsung"),
    profile("Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black", "Sony"),
    profile("Sony SoundMax SOS-1244 Wireless Headphones Over-Ear Black", "Sony"),
    profile('Lenovo ThinkPad LET-4410 Laptop 13.3" Silver', "Lenovo"),
    profile("Adobe Photoshop Elements 4.0 (Mac)", "Adobe"),
]
IDF = Idf.from_profiles(CORPUS)


def d(a, b, **kw):
    return decide(
        profile(*a) if isinstance(a, tuple) else profile(a),
        profile(*b) if isinstance(b, tuple) else profile(b),
        IDF,
        **kw,
    )


def test_capacity_variants_are_not_matched():
    r = d(("Apple iPhone 15 128GB Black", "Apple"), ("Apple iPhone 15 256GB Black", "Apple"))
    assert r.verdict == "no"
    assert any("bytes" in c for c in r.evidence["conflicts"])


def test_same_phone_reworded_is_matched_and_units_normalize():
    r = d(
        ("Apple iPhone 15 128GB Black", "Apple"),
        ("iPhone 15 Smartphone 128 GB (Blk)", None),
    )
    assert r.verdict in {"match", "review"}
    assert r.confidence >= Thresholds().review


def test_sibling_model_codes_are_not_matched():
    r = d(
        "Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black",
        "Sony SoundMax SOS-1244 Wireless Headphones Over-Ear Black",
    )
    assert r.verdict == "no"
    assert any("sibling" in c for c in r.evidence["conflicts"])


def test_agreeing_model_code_with_rewording_is_accepted_with_evidence():
    r = d(
        "Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black",
        "SONY Soundmax Wrls Hdphn - SOS1234 (Black) Over-Ear",
    )
    assert r.is_match and r.method == "code"
    assert r.evidence["code"] == "sos1234"


def test_other_size_colour_or_version_is_vetoed():
    base = 'Lenovo ThinkPad LET-4410 Laptop 13.3" Silver'
    assert d(base, 'Lenovo ThinkPad LET-4410 Laptop 15.6" Silver').verdict == "no"
    assert d(base, 'Lenovo ThinkPad LET-4410 Laptop 13.3" Rose Gold').verdict == "no"
    assert (
        d("Adobe Photoshop Elements 4.0 (Mac)", "Adobe Photoshop Elements 5.0 Mac").verdict == "no"
    )
    assert (
        d(
            "Sony SoundMax SOS-1234 Headphones On-Ear", "Sony SoundMax SOS-1234 Headphones Over-Ear"
        ).verdict
        == "no"
    )


def test_gtin_decides_both_ways():
    same = d(
        ("Totally different words", None, "4006381333931"),
        ("Nothing alike", None, "04006381333931"),
    )
    assert same.is_match and same.method == "gtin" and same.confidence == 1.0
    other = d(
        ("Apple iPhone 15 128GB Black", "Apple", "4006381333931"),
        ("Apple iPhone 15 128GB Black", "Apple", "0036000291452"),
    )
    assert other.verdict == "no" and "gtin_conflict" in other.evidence


def test_invalid_gtin_is_ignored_not_trusted():
    r = d(
        ("Apple iPhone 15 128GB Black", None, "4006381333932"),
        ("Samsung Galaxy S24 256GB", None, "4006381333932"),
    )
    assert r.method != "gtin" and r.verdict == "no"


def test_hostile_title_markup_is_ignored():
    r = d(
        "Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black",
        'Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black <script>alert("1")</script>',
    )
    assert r.is_match


def test_expander_spells_out_unambiguous_abbreviations_only():
    from pricing.matching.matcher import Expander

    expand = Expander({"wireless", "headphones", "black", "blue", "blender", "professional"})
    p = expand(profile("Sony Wrls Hdphn Blk"))
    assert {"wireless", "headphones", "black"} <= p.words
    assert expand.word("blnd") == "blender"
    assert expand.word("bl") is None  # too short to trust
    assert Expander({"blender", "blinder"}).word("blnd") is None  # ambiguous: left alone
