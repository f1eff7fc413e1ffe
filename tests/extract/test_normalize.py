"""Availability, popularity and GTIN normalization, as shops write them."""

from __future__ import annotations

import pytest

from crawler.extract import normalize_gtin, parse_availability, parse_count, parse_rank


@pytest.mark.parametrize(
    ("text", "status", "quantity"),
    [
        ("http://schema.org/InStock", "in_stock", None),
        ("https://schema.org/OutOfStock", "out_of_stock", None),
        ("schema:PreOrder", "preorder", None),
        ("InStock", "in_stock", None),
        ("in stock", "in_stock", None),
        ("Only 3 left", "in_stock", 3),
        ("Only 3 left in stock - order soon.", "in_stock", 3),
        ("12 in stock", "in_stock", 12),
        ("Nur noch 2 Stück auf Lager", "in_stock", 2),
        ("Pre-order", "preorder", None),
        ("Ships in 2-3 weeks", "backorder", None),
        ("Usually ships in 5 days", "backorder", None),
        ("Out of stock", "out_of_stock", None),
        ("Currently unavailable.", "out_of_stock", None),
        ("Not in stock", "out_of_stock", None),
        ("Sold out", "out_of_stock", None),
        ("LimitedAvailability", "in_stock", None),
        ("SoldOut", "out_of_stock", None),
        ("BackOrder", "backorder", None),
        ("PreOrder", "preorder", None),
        ("Discontinued", "out_of_stock", None),
        ("Auf Lager", "in_stock", None),
        ("Rupture de stock", "out_of_stock", None),
        ("Agotado", "out_of_stock", None),
        ("0 left", "out_of_stock", 0),
        ("", "unknown", None),
        ("Blue", "unknown", None),
        (None, "unknown", None),
    ],
)
def test_availability(text, status, quantity):
    assert parse_availability(text) == (status, quantity)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("1.2k sold", 1200),
        ("10K+ bought in past month", 10000),
        ("2.5M views", 2_500_000),
        ("1,234 ratings", 1234),
        ("(1 234 reviews)", 1234),
        ("87 sold", 87),
        (42, 42),
        ("no reviews yet", None),
        (None, None),
    ],
)
def test_counts(text, count):
    assert parse_count(text) == count


def test_rank():
    assert parse_rank("#12 in Kitchen") == 12
    assert parse_rank("Best Sellers Rank: #1,234 in Toys & Games") == 1234
    assert parse_rank("Platz 3") == 3
    assert parse_rank("7") == 7
    assert parse_rank("#0") is None
    assert parse_rank(None) is None


@pytest.mark.parametrize(
    ("value", "gtin"),
    [
        ("4006381333931", "4006381333931"),  # EAN-13
        ("036000291452", "0036000291452"),  # UPC-A, as its EAN-13
        ("00036000291452", "0036000291452"),  # GTIN-14 with a zero indicator
        ("10036000291459", "10036000291459"),  # GTIN-14 of a case: kept
        ("96385074", "96385074"),  # EAN-8
        ("400-638-133393-1", "4006381333931"),
        ("EAN: 4006381333931", "4006381333931"),
        (4006381333931, "4006381333931"),
        ("4006381333932", None),  # wrong check digit
        ("123", None),
        ("SKU-4006381333931", None),
        ("４００６３８１３３３９３１", None),  # full-width digits are not a GTIN as written
        (None, None),
    ],
)
def test_gtin(value, gtin):
    assert normalize_gtin(value) == gtin
