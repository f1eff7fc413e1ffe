"""Every reference and adjustment on hand-worked examples (evaluation only, no store)."""

from __future__ import annotations

import math

import pytest

from tests.rules.conftest import evaluate_one

# Four competitors: A 20.00, B 22.00, C 25.00 in stock; D 18.00 out of stock. We charge 23.00.
MARKET = [
    {"site": "A", "price": 20.00},
    {"site": "B", "price": 22.00},
    {"site": "C", "price": 25.00},
    {"site": "D", "price": 18.00, "availability": "out_of_stock"},
]


def one(strategy: dict, offers=MARKET, product: dict | None = None, **settings):
    """The evaluation row of the single product (price 23.00 unless given)."""
    return evaluate_one(strategy, offers, {"price": 23.00, **(product or {})}, **settings)


@pytest.mark.parametrize(
    ("reference", "expected", "text"),
    [
        ({"kind": "lowest"}, 18.00, "lowest competitor D 18.00"),
        ({"kind": "lowest_in_stock"}, 20.00, "lowest in-stock competitor A 20.00"),
        ({"kind": "median"}, 21.00, "median of 4 competitor prices 21.00"),  # (20 + 22) / 2
        ({"kind": "average"}, 21.25, "average of 4 competitor prices 21.25"),  # 85 / 4
        ({"kind": "nth_lowest", "n": 2}, 20.00, "2nd-lowest competitor A 20.00"),
        ({"kind": "nth_lowest", "n": 3}, 22.00, "3rd-lowest competitor B 22.00"),
        ({"kind": "competitor", "competitor": "C"}, 25.00, "competitor C 25.00"),
        ({"kind": "cost_plus", "margin_pct": 50}, 18.00, "cost 12.00 + 50% = 18.00"),
        ({"kind": "current"}, 23.00, "our current price 23.00"),
    ],
)
def test_reference(reference, expected, text):
    row = one({"reference": reference}, product={"cost": 12.00})
    assert row["ref"] == pytest.approx(expected)
    assert row["explanation"].startswith(text)
    if expected == 23.00:  # matching our own price changes nothing
        assert row["outcome"] == "unchanged"
        assert row["explanation"].endswith("= current price: no change")
    else:
        assert row["outcome"] == "suggest"
        assert row["final"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ({"kind": "nth_lowest", "n": 5}, "no reference: fewer than 5 valid competitor prices"),
        (
            {"kind": "competitor", "competitor": "Z"},
            "no reference: competitor Z has no valid price",
        ),
        ({"kind": "cost_plus", "margin_pct": 20}, "no reference: no cost known for cost-plus"),
    ],
)
def test_missing_reference_proposes_nothing(reference, reason):
    row = one({"reference": reference})
    assert row["outcome"] == "no_reference"
    assert math.isnan(row["final"])
    assert row["explanation"] == f"{reason}: nothing proposed"


def test_lowest_in_stock_with_nobody_in_stock():
    offers = [{**o, "availability": "out_of_stock"} for o in MARKET]
    row = one({"reference": {"kind": "lowest_in_stock"}}, offers=offers)
    assert row["outcome"] == "no_reference"
    assert row["explanation"] == "no reference: no competitor in stock: nothing proposed"


def test_cost_plus_needs_no_competitors():
    row = one(
        {"reference": {"kind": "cost_plus", "margin_pct": 25}}, offers=[], product={"cost": 16.00}
    )
    assert row["outcome"] == "suggest"
    assert row["final"] == pytest.approx(20.00)


IN_STOCK = MARKET[:3]  # A 20, B 22, C 25; we charge 23


@pytest.mark.parametrize(
    ("adjustment", "expected", "text"),
    [
        ({"kind": "match"}, 20.00, "match → 20.00"),
        ({"kind": "undercut", "pct": 5}, 19.00, "undercut 5% → 19.00"),
        ({"kind": "undercut", "amount": 0.5}, 19.50, "undercut 0.50 → 19.50"),
        ({"kind": "premium", "pct": 10}, 22.00, "premium 10% → 22.00"),
        ({"kind": "premium", "amount": 1.25}, 21.25, "premium 1.25 → 21.25"),
        ({"kind": "rank", "rank": 1}, 19.99, "rank 1: under 20.00 → 19.99"),
        ({"kind": "rank", "rank": 2}, 21.99, "rank 2: under 22.00 → 21.99"),
        ({"kind": "rank", "rank": 3}, 24.99, "rank 3: under 25.00 → 24.99"),
        ({"kind": "rank", "rank": 2, "gap": 0.5}, 21.50, "rank 2: under 22.00 → 21.50"),
    ],
)
def test_adjustment(adjustment, expected, text):
    row = one({"reference": {"kind": "lowest"}, "adjustment": adjustment}, offers=IN_STOCK)
    assert row["outcome"] == "suggest"
    assert row["final"] == pytest.approx(expected)
    assert row["explanation"] == f"lowest competitor A 20.00; {text}"


def test_rank_never_goes_below_the_competitor_ranked_just_above():
    # Two competitors tie at 20.00: "2nd cheapest" cannot undercut the tie; it matches it.
    offers = [
        {"site": "A", "price": 20.00},
        {"site": "B", "price": 20.00},
        {"site": "C", "price": 25.00},
    ]
    row = one(
        {"reference": {"kind": "lowest"}, "adjustment": {"kind": "rank", "rank": 2}}, offers=offers
    )
    assert row["final"] == pytest.approx(20.00)


def test_rank_beyond_the_number_of_competitors():
    row = one(
        {"reference": {"kind": "lowest"}, "adjustment": {"kind": "rank", "rank": 4}},
        offers=IN_STOCK,
    )
    assert row["outcome"] == "no_reference"
    assert row["explanation"] == "rank 4 needs 4 valid competitor prices, have 3: nothing proposed"
