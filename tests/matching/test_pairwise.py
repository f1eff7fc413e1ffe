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


def test_platform_requirements_are_not_versions():
    p = profile("Data Eliminator (Win 95 98 ME NT 2000 XP)")
    assert not p.numbers and "windows" in p.words
    mac = profile("Adobe Photoshop CS3 (Mac OS X v. 10.4.8 or later)")
    assert mac.numbers == {"cs3"}  # the release stays, the OS version goes
    r = d("Data Eliminator 2 (Win 98 2000 XP)", "Data Eliminator 3 (Win 95 98 ME)")
    assert r.verdict == "no"  # the product's own versions still conflict


def test_licence_counts_conflict_only_when_both_state_them():
    five = ("ScanSoft PaperPort Professional 11 5 User License", None)
    assert profile(*five).measures["seats"] == {5.0}
    r = d(five, ("PaperPort Professional v. 11 complete package 1-user", None))
    assert r.verdict == "no" and any("seats" in c for c in r.evidence["conflicts"])
    unstated = d(five, ("ScanSoft PaperPort Professional 11", None))
    assert "conflicts" not in unstated.evidence


def test_release_names_and_spellings_are_normalised():
    assert profile("Adobe Creative Suite 3 Web Standard").words >= {"cs3", "web", "standard"}
    assert profile("MS Office 2007 Edu").words >= {"microsoft", "office", "academic"}
    assert profile("Crystal Reports XI").numbers == {"11"}
    assert profile("case w/o strap").words == {"case", "without", "strap"}
    assert d("Adobe Photoshop CS3", "Adobe Photoshop CS2").verdict == "no"
    assert d("Adobe After Effects 7.0 Professional", "After Effects CS3 Pro").verdict == "no"
    assert d("Adobe Acrobat 8 Professional", "Adobe Acrobat 8 Pro").is_match


def test_an_edition_named_by_one_side_only_is_never_accepted_automatically():
    r = d("Adobe InDesign CS3 (Mac)", "Adobe InDesign CS3 for Mac Academic")
    assert not r.is_match and r.evidence["edition_one_side"] == ["academic"]
    glued = d("Print Shop 22 Pro Publisher Deluxe", "Print Shop 22 Pro PublisherDeluxe")
    assert "edition_one_side" not in glued.evidence
    assert d("Acrobat 8 Upgrade", "Acrobat 8 Renewal").verdict == "no"


def test_house_style_words_do_not_count_against_a_match():
    ours = [
        profile(f"Game {w} (Jewel Case)") for w in ["alpha", "beta", "gamma", "delta", "epsilon"]
    ]
    theirs = [
        profile(f"Game {w} complete package") for w in ["alpha", "beta", "gamma", "delta", "zeta"]
    ]
    idf = Idf.from_profiles(ours + theirs)
    styled = idf.with_house_style(ours, theirs)
    assert {"jewel", "case", "complete", "package"} <= styled.house_style
    assert "game" not in styled.house_style and "alpha" not in styled.house_style
    plain = decide(ours[0], theirs[0], idf)
    aware = decide(ours[0], theirs[0], styled)
    assert aware.evidence["text"] == 1.0 > plain.evidence["text"]
    assert decide(ours[0], theirs[1], styled).verdict == "no"
