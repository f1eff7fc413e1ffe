"""GTIN/MPN normalization: the identifiers exact matching trusts."""

from __future__ import annotations

import pytest

from pricing.matching.identifiers import mpn_agrees, normalize_gtin, normalize_mpn


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4006381333931", "04006381333931"),  # EAN-13
        ("036000291452", "00036000291452"),  # UPC-A
        ("0036000291452", "00036000291452"),  # the same UPC written as EAN-13
        ("36000291452", "00036000291452"),  # ... with its leading zero lost by a spreadsheet
        ("4006381333931.0", "04006381333931"),  # ... or turned into a float
        ("96385074", "00000096385074"),  # EAN-8
        ("4006-3813-3393-1", "04006381333931"),  # separators
    ],
)
def test_valid_gtins_normalize_to_14_digits(raw, expected):
    assert normalize_gtin(raw) == expected


@pytest.mark.parametrize(
    "raw", ["4006381333932", "036000291453", "", None, "nan", "12345", "0000000000000", "abc"]
)
def test_invalid_gtins_are_dropped(raw):
    assert normalize_gtin(raw) is None


def test_mpn_normalization_and_agreement():
    assert normalize_mpn(" MX-4500/B ") == "mx4500b"
    assert normalize_mpn("A2") is None
    assert mpn_agrees("5035b001", "5035b001aa")  # regional suffix
    assert not mpn_agrees("5035b001", "5035b002")
    assert not mpn_agrees("t249", "t249abcd")  # base too short to trust a suffix
