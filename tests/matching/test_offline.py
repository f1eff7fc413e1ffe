"""Offline mode through the real CLI: CSV in, CSV out, bad input refused whole."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from pricing.cli import main

OURS = """sku,title,brand,gtin,mpn,category,price
A1,Apple iPhone 15 128GB Black,Apple,,,smartphones,799
A2,Apple iPhone 15 256GB Black,Apple,,,smartphones,899
S1,Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black,Sony,,,headphones,199
S2,Sony SoundMax SOS-1244 Wireless Headphones Over-Ear Black,Sony,,,headphones,219
G1,Garmin Forerunner GAF-2100 Smartwatch 44mm Black,Garmin,4006381333931,,watches,349
"""
THEIRS = """offer_id,site,title,brand,gtin,mpn,price,currency,url
o1,shop-01,iPhone 15 (256 GB) - Black,Apple,,,1.00,USD,http://x/1
o2,shop-01,SONY Soundmax SOS1244 Wrls Hdphn Over-Ear (Blk),,,,150,USD,http://x/2
o3,shop-02,Smartwatch,,4006381333931,,349,USD,http://x/3
o4,shop-02,Bose QuietComfort BOQ-7777 Headphones,,,,99999,USD,http://x/4
o5,shop-03,iPhone 15 (256 GB) - Black,Apple,,,9999.00,USD,http://x/5
"""


def run(tmp_path, ours=OURS, theirs=THEIRS):
    (tmp_path / "ours.csv").write_text(ours)
    (tmp_path / "theirs.csv").write_text(theirs)
    out = tmp_path / "matches.csv"
    args = [
        "match",
        "--catalog",
        str(tmp_path / "ours.csv"),
        "--offers",
        str(tmp_path / "theirs.csv"),
    ]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    return result, out


def test_offline_matches(tmp_path):
    result, out = run(tmp_path)
    assert result.exit_code == 0, result.output
    m = pd.read_csv(out, dtype=str)
    assert list(m.columns) == ["sku", "offer_id", "confidence", "method", "status"]
    got = dict(zip(m.offer_id, m.sku, strict=True))
    # prices (1.00 vs 9999.00) play no part: both offers of the 256GB phone match it
    assert got["o1"] == "A2" and got["o5"] == "A2"
    assert got["o2"] == "S2"  # not the SOS-1234 sibling
    assert got["o3"] == "G1"
    assert m.set_index("offer_id").loc["o3", "method"] == "gtin"
    assert "o4" not in got
    assert set(m.status) <= {"accepted", "review"}


def test_bad_files_are_refused_whole_with_line_numbers(tmp_path):
    ours = OURS + ",No SKU here,,,,,\nA1,Duplicate sku,,,,,\n"
    theirs = THEIRS + "o9,shop-01,,,,,1,USD,http://x/9\n"
    result, out = run(tmp_path, ours, theirs)
    assert result.exit_code != 0
    assert "ours.csv:7: sku is empty" in result.output
    assert "ours.csv:8: duplicate sku 'A1'" in result.output
    assert "theirs.csv:7: title is empty" in result.output
    assert not out.exists()


def test_missing_key_column_is_reported(tmp_path):
    result, out = run(tmp_path, "title,brand\nX,Y\n")
    assert result.exit_code != 0
    assert "missing column(s) sku" in result.output
    assert not out.exists()
