"""Every guard on hand-worked examples, conflicts included, each with the rule that won."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.rules.conftest import NOW, evaluate_one

A20 = [{"site": "A", "price": 20.00}, {"site": "B", "price": 22.00}, {"site": "C", "price": 25.00}]


def one(strategy: dict, offers=A20, product: dict | None = None, **settings):
    """The evaluation row of the single product (price 23.00 unless given)."""
    return evaluate_one(strategy, offers, {"price": 23.00, **(product or {})}, **settings)


UNDERCUT_10 = {
    "reference": {"kind": "lowest"},
    "adjustment": {"kind": "undercut", "pct": 10},
}  # → 18.00


# --- floor, ceiling, MAP -------------------------------------------------------------------


def test_target_below_floor_floor_wins():
    row = one({**UNDERCUT_10, "guards": {"floor": 19.00}})
    assert row["final"] == pytest.approx(19.00)
    assert (
        row["explanation"]
        == "lowest competitor A 20.00; undercut 10% → 18.00; floor 19.00 wins over 18.00"
    )


def test_target_below_floor_with_ending_goes_up_to_stay_above_floor():
    row = one({**UNDERCUT_10, "guards": {"floor": 19.00, "ending": ".99"}})
    assert row["final"] == pytest.approx(19.99)
    assert (
        "floor 19.00 wins over 18.00; ending .99 (upward, within limits) → 19.99"
        in row["explanation"]
    )


def test_floor_from_cost_plus_minimum_margin():
    row = one({**UNDERCUT_10, "guards": {"min_margin_pct": 30}}, product={"cost": 15.00})
    assert row["final"] == pytest.approx(19.50)  # 15 * 1.3
    assert "floor 19.50 wins over 18.00" in row["explanation"]


def test_product_floor_and_the_highest_floor_applies():
    row = one({**UNDERCUT_10, "guards": {"floor": 18.50}}, product={"floor": 19.25})
    assert row["final"] == pytest.approx(19.25)


def test_floor_not_reached_is_said():
    row = one({"reference": {"kind": "lowest"}, "guards": {"floor": 15.00}})
    assert row["final"] == pytest.approx(20.00)
    assert row["explanation"].endswith("floor 15.00 not reached")


def test_ceiling_caps_a_premium():
    strategy = {"reference": {"kind": "lowest"}, "adjustment": {"kind": "premium", "pct": 20}}
    row = one({**strategy, "guards": {"ceiling": 23.50}})
    assert row["final"] == pytest.approx(23.50)
    assert "ceiling 23.50 wins over 24.00" in row["explanation"]
    row = one(strategy, product={"ceiling": 22.75})
    assert row["final"] == pytest.approx(22.75)
    row = one({**strategy, "guards": {"max_margin_pct": 50}}, product={"cost": 15.00})
    assert row["final"] == pytest.approx(22.50)  # ceiling from cost: 15 * 1.5


def test_map_is_a_minimum():
    row = one(UNDERCUT_10, product={"map_price": 19.50})
    assert row["final"] == pytest.approx(19.50)
    assert "MAP 19.50 wins over 18.00" in row["explanation"]
    ignored = one({**UNDERCUT_10, "guards": {"respect_map": False}}, product={"map_price": 19.50})
    assert ignored["final"] == pytest.approx(18.00)


def test_map_above_ceiling_proposes_nothing_and_says_why():
    row = one(UNDERCUT_10, product={"map_price": 25.00, "ceiling": 24.00})
    assert row["outcome"] == "bounds_conflict"
    assert math.isnan(row["final"])
    assert row["explanation"] == (
        "MAP 25.00 above ceiling 24.00: MAP and ceiling cannot both hold, nothing proposed"
    )


def test_floor_above_ceiling_proposes_nothing():
    row = one({**UNDERCUT_10, "guards": {"ceiling": 25.00}}, product={"floor": 30.00})
    assert row["outcome"] == "bounds_conflict"
    assert row["explanation"] == "floor 30.00 above ceiling 25.00: nothing proposed"


# --- maximum change ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guards", "expected", "text"),
    [
        ({"max_change_pct": 10}, 20.70, "max change 10% caps 18.00 → 20.70"),  # 23 * 0.9
        ({"max_change_amount": 2}, 21.00, "max change 2.00 caps 18.00 → 21.00"),
        (
            {"max_change_pct": 10, "max_change_amount": 1},
            22.00,
            "max change 10% / 1.00 caps 18.00 → 22.00",
        ),
    ],
)
def test_max_change(guards, expected, text):
    row = one({**UNDERCUT_10, "guards": guards})
    assert row["final"] == pytest.approx(expected)
    assert text in row["explanation"]


def test_max_change_upward():
    strategy = {"reference": {"kind": "lowest"}, "adjustment": {"kind": "premium", "pct": 50}}
    row = one({**strategy, "guards": {"max_change_pct": 5}})  # 30.00 wanted, 24.15 allowed
    assert row["final"] == pytest.approx(24.15)


def test_floor_beats_max_change_when_our_price_is_below_the_floor():
    # We charge 10.00, the floor is 15.00 and one suggestion may move 10%: the floor wins.
    row = one(
        {**UNDERCUT_10, "guards": {"max_change_pct": 10, "floor": 15.00}}, product={"price": 10.00}
    )
    assert row["final"] == pytest.approx(15.00)
    assert bool(row["override"])
    assert "floor 15.00 wins over max change 10% → 15.00" in row["explanation"]


def test_ceiling_beats_max_change_when_our_price_is_above_the_ceiling():
    row = one(
        {**UNDERCUT_10, "guards": {"max_change_pct": 5, "ceiling": 15.00}}, product={"price": 30.00}
    )
    assert row["final"] == pytest.approx(15.00)
    assert "ceiling 15.00 wins over max change 5% → 15.00" in row["explanation"]


# --- endings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "expected"), [(".99", 18.99), (".95", 18.95), ("whole", 19.00), (None, 19.30)]
)
def test_endings_round_down(ending, expected):
    # The example: lowest in-stock ShopB 19.49, undercut 1% → 19.30, ending .99 → 18.99.
    offers = [
        {"site": "ShopB", "price": 19.49},
        {"site": "ShopA", "price": 18.00, "availability": "out_of_stock"},
    ]
    strategy = {
        "reference": {"kind": "lowest_in_stock"},
        "adjustment": {"kind": "undercut", "pct": 1},
        "guards": {"ending": ending, "floor": 17.60},
    }
    row = one(strategy, offers=offers)
    assert row["final"] == pytest.approx(expected)
    if ending == ".99":
        assert row["explanation"] == (
            "lowest in-stock competitor ShopB 19.49; undercut 1% → 19.30; ending .99 → 18.99; "
            "floor 17.60 not reached"
        )


def test_no_price_with_the_ending_fits_proposes_nothing():
    # 19.50 ± 1% is [19.31, 19.69]: neither 18.99 nor 19.99 is inside.
    row = one(
        {**UNDERCUT_10, "guards": {"max_change_pct": 1, "ending": ".99"}}, product={"price": 19.50}
    )
    assert row["outcome"] == "no_price_fits"
    assert "no price ending .99 fits between" in row["explanation"]


# --- data guards ---------------------------------------------------------------------------


def test_cooldown_since_our_last_change():
    changed = NOW - timedelta(hours=5)
    row = one(
        {**UNDERCUT_10, "guards": {"cooldown_hours": 24}}, product={"price_changed_at": changed}
    )
    assert row["outcome"] == "cooldown"
    assert row["explanation"] == "cooldown: last change 5 h ago, 24 h required: nothing proposed"
    later = one(
        {**UNDERCUT_10, "guards": {"cooldown_hours": 4}}, product={"price_changed_at": changed}
    )
    assert later["outcome"] == "suggest"


def test_min_competitors():
    row = one({"reference": {"kind": "lowest"}, "guards": {"min_competitors": 4}})
    assert row["outcome"] == "too_few_competitors"
    assert row["explanation"] == "3 valid competitor prices, 4 required: nothing proposed"


def test_include_and_exclude_lists():
    inc = one({"reference": {"kind": "lowest"}, "guards": {"include_competitors": ["B", "C"]}})
    assert inc["final"] == pytest.approx(22.00)
    exc = one({"reference": {"kind": "lowest"}, "guards": {"exclude_competitors": ["A"]}})
    assert exc["final"] == pytest.approx(22.00)
    assert exc["explanation"].startswith(
        "lowest competitor B 22.00; ignored 1 from excluded competitors"
    )


def test_outlier_far_from_median_is_dropped():
    offers = [*A20, {"site": "Z", "price": 5.00}]  # median 21.00; 5.00 is 76% away
    row = one({"reference": {"kind": "lowest"}, "guards": {"outlier_pct": 50}}, offers=offers)
    assert row["final"] == pytest.approx(20.00)
    assert "ignored 1 outliers" in row["explanation"]
    kept = one({"reference": {"kind": "lowest"}}, offers=offers)
    assert kept["final"] == pytest.approx(5.00)


def test_min_match_confidence_and_confirmed_matches():
    offers = [{"site": "A", "price": 20.00, "confidence": 0.80}, {"site": "B", "price": 22.00}]
    row = one({"reference": {"kind": "lowest"}, "guards": {"min_confidence": 0.9}}, offers=offers)
    assert row["final"] == pytest.approx(22.00)
    assert "ignored 1 below match confidence" in row["explanation"]
    # A manager-confirmed match counts whatever its score.
    offers[0]["match_status"] = "confirmed"
    row = one({"reference": {"kind": "lowest"}, "guards": {"min_confidence": 0.9}}, offers=offers)
    assert row["final"] == pytest.approx(20.00)


def test_substitutes_kept_apart_unless_allowed():
    offers = [{"site": "A", "price": 20.00, "substitute": True}, {"site": "B", "price": 22.00}]
    row = one({"reference": {"kind": "lowest"}}, offers=offers)
    assert row["final"] == pytest.approx(22.00)
    assert "ignored 1 substitutes" in row["explanation"]
    row = one({"reference": {"kind": "lowest"}, "guards": {"use_substitutes": True}}, offers=offers)
    assert row["final"] == pytest.approx(20.00)


@pytest.mark.parametrize(
    ("flag", "label"),
    [
        ({"age_h": 50}, "1 stale (>48 h)"),
        ({"suspect": True}, "1 suspect"),
        ({"broken": True}, "1 from broken crawl runs"),
        ({"price": None}, "1 without a price"),
        ({"currency": "GBP"}, "1 in an unconvertible currency"),
    ],
)
def test_untrusted_offers_are_ignored_and_counted(flag, label):
    offers = [{"site": "A", "price": 20.00, **flag}, {"site": "B", "price": 22.00}]
    row = one({"reference": {"kind": "lowest"}}, offers=offers)
    assert row["final"] == pytest.approx(22.00)
    assert row["explanation"].startswith(f"lowest competitor B 22.00; ignored {label}")
    assert int(row["n_used"]) == 1


def test_strategy_stale_hours_override_the_setting():
    offers = [{"site": "A", "price": 20.00, "age_h": 10}, {"site": "B", "price": 22.00}]
    assert one({"reference": {"kind": "lowest"}}, offers=offers)["final"] == pytest.approx(20.00)
    row = one({"reference": {"kind": "lowest"}, "guards": {"stale_hours": 6}}, offers=offers)
    assert row["final"] == pytest.approx(22.00)


def test_currency_conversion_with_the_rates_table():
    # 1 EUR = 1.10 USD: an offer at 18.00 EUR is 19.80 USD; GBP has no rate and is excluded.
    offers = [
        {"site": "EU", "price": 18.00, "currency": "EUR"},
        {"site": "UK", "price": 10.00, "currency": "GBP"},
        {"site": "US", "price": 21.00},
    ]
    rates = {"currency_rates": {"base": "USD", "rates": {"EUR": 1.10}}}
    row = one({"reference": {"kind": "lowest"}}, offers=offers, **rates)
    assert row["final"] == pytest.approx(19.80)
    assert row["explanation"] == (
        "lowest competitor EU 19.80; ignored 1 in an unconvertible currency; match → 19.80"
    )
    # Without the EUR rate the euro offer is not compared either.
    row = one({"reference": {"kind": "lowest"}}, offers=offers)
    assert row["final"] == pytest.approx(21.00)
    assert "ignored 2 in an unconvertible currency" in row["explanation"]


def test_stale_limit_from_settings_is_the_one_explained():
    offers = [{"site": "A", "price": 20.00, "age_h": 30}, {"site": "B", "price": 22.00}]
    row = one({"reference": {"kind": "lowest"}}, offers=offers, stale_hours=24)
    assert row["final"] == pytest.approx(22.00)
    assert "ignored 1 stale (>24 h)" in row["explanation"]


@pytest.mark.parametrize("price", [None, 0.0])
def test_no_usable_current_price_proposes_nothing(price):
    row = one({"reference": {"kind": "lowest"}}, product={"price": price})
    assert row["outcome"] == "no_current_price"
    assert row["explanation"] == "no current price: nothing proposed"
