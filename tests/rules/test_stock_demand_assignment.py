"""Stock and demand awareness, strategy assignment and time windows, on hand-worked examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pricing.rules.config import TimeWindow
from pricing.rules.evaluate import assign_strategies, evaluate
from tests.rules.conftest import NOW, evaluate_one, frames, strategy_file

OUT = [
    {"site": "A", "price": 20.00, "availability": "out_of_stock"},
    {"site": "B", "price": 22.00, "availability": "out_of_stock"},
]
STOCKY = {"reference": {"kind": "lowest"}, "stock": {"raise_pct": 5}}


def test_competitors_out_of_stock_raise_toward_ceiling():
    row = evaluate_one(STOCKY, OUT, {"price": 20.00, "ceiling": 30.00})
    assert row["final"] == pytest.approx(21.00)
    assert row["explanation"] == (
        "lowest competitor A 20.00; all 2 competitors out of stock → raise 5% toward ceiling → 21.00"
    )


def test_stock_raise_stops_at_the_ceiling():
    row = evaluate_one(STOCKY, OUT, {"price": 20.00, "ceiling": 20.50})
    assert row["final"] == pytest.approx(20.50)


def test_one_competitor_in_stock_means_no_raise():
    offers = [OUT[0], {"site": "B", "price": 22.00}]
    row = evaluate_one(STOCKY, offers, {"price": 23.00, "ceiling": 30.00})
    assert row["final"] == pytest.approx(20.00)
    assert not bool(row["stock_hit"])


def test_we_are_out_of_stock_propose_nothing():
    row = evaluate_one(STOCKY, OUT, {"price": 20.00, "in_stock": False})
    assert row["outcome"] == "we_out_of_stock"
    assert row["explanation"] == "we are out of stock: nothing proposed"


# Demand: constant elasticity e; profit peaks at cost * e / (1 + e).
DEMAND = {"reference": {"kind": "lowest"}, "demand": {"objective": "profit"}}
MARKET16 = [{"site": "A", "price": 16.00}]


def test_profit_maximizing_price():
    row = evaluate_one(DEMAND, MARKET16, {"price": 17.00, "cost": 10.00, "elasticity": -3.0})
    assert row["final"] == pytest.approx(15.00)  # 10 * -3 / -2
    assert "elasticity -3.00 → profit-maximizing 15.00" in row["explanation"]


def test_demand_kept_near_the_competitive_target():
    strategy = {**DEMAND, "demand": {"objective": "profit", "max_deviation_pct": 5}}
    row = evaluate_one(strategy, MARKET16, {"price": 17.00, "cost": 10.00, "elasticity": -3.0})
    assert row["final"] == pytest.approx(15.20)  # 16 * 0.95


def test_revenue_with_inelastic_demand_goes_up_within_guards():
    strategy = {**DEMAND, "demand": {"objective": "revenue"}, "guards": {"max_change_pct": 10}}
    row = evaluate_one(strategy, MARKET16, {"price": 20.00, "ceiling": 30.00, "elasticity": -0.5})
    assert row["final"] == pytest.approx(22.00)  # toward the ceiling, capped by max change


def test_revenue_with_elastic_demand_goes_to_the_floor():
    strategy = {**DEMAND, "demand": {"objective": "revenue"}, "guards": {"floor": 12.00}}
    row = evaluate_one(strategy, MARKET16, {"price": 20.00, "elasticity": -2.0})
    assert row["final"] == pytest.approx(12.00)


def test_no_elasticity_skips_the_demand_step_unless_a_default_is_set():
    row = evaluate_one(DEMAND, MARKET16, {"price": 17.00, "cost": 10.00})
    assert row["final"] == pytest.approx(16.00)
    assert "elasticity" not in row["explanation"]
    row = evaluate_one(DEMAND, MARKET16, {"price": 17.00, "cost": 10.00}, default_elasticity=-3.0)
    assert row["final"] == pytest.approx(15.00)


# --- assignment ----------------------------------------------------------------------------


def _assign(strategies: list[dict], products: list[dict], now: datetime = NOW) -> list:
    prods, _ = frames(products, [])
    return assign_strategies(prods, strategy_file(*strategies), now).tolist()


def test_highest_priority_matching_strategy_wins():
    strategies = [
        {"name": "all", "priority": 0},
        {"name": "toys", "priority": 10, "applies_to": {"categories": ["Toys"]}},
        {
            "name": "acme-toys",
            "priority": 20,
            "applies_to": {"categories": ["Toys"], "brands": ["Acme"]},
        },
        {"name": "tagged", "priority": 30, "applies_to": {"tags": ["key"]}},
        {"name": "listed", "priority": 40, "applies_to": {"skus": ["S5"]}},
    ]
    products = [
        {"category": "Toys", "brand": "Other"},
        {"category": "Toys", "brand": "Acme"},
        {"category": "Books"},
        {"category": "Books", "tags": ["key", "new"]},
        {"category": "Toys", "brand": "Acme", "tags": ["key"], "sku": "S5"},
    ]
    assert _assign(strategies, products) == ["toys", "acme-toys", "all", "tagged", "listed"]


def test_no_matching_strategy_means_no_suggestion():
    prods, offers = frames([{"category": "Books"}], [{"price": 10.0}])
    sf = strategy_file({"name": "toys", "applies_to": {"categories": ["Toys"]}})
    row = evaluate(prods, offers, sf, NOW).products.loc[1]
    assert row["outcome"] == "no_strategy"


def test_weekend_strategy_applies_only_at_weekends():
    strategies = [
        {"name": "weekday"},
        {
            "name": "weekend",
            "priority": 5,
            "when": {"days": ["sat", "sun"], "timezone": "Europe/Berlin"},
        },
    ]
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert _assign(strategies, [{}], NOW) == ["weekday"]  # a Wednesday
    assert _assign(strategies, [{}], saturday) == ["weekend"]
    # 23:30 UTC on Friday is already Saturday in Berlin.
    assert _assign(strategies, [{}], datetime(2026, 11, 27, 23, 30, tzinfo=UTC)) == ["weekend"]


def test_time_window_spanning_midnight():
    night = TimeWindow(days=["fri"], start="22:00", end="06:00")
    assert night.active(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday 23:00
    assert night.active(datetime(2026, 11, 28, 5, 0, tzinfo=UTC))  # Saturday 05:00
    assert not night.active(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    assert not night.active(datetime(2026, 11, 27, 5, 0, tzinfo=UTC))  # Friday early morning


def test_vectorized_evaluation_equals_one_product_at_a_time():
    # 2,000 products under two strategies evaluate to the same result as one product at a time.
    n = 2000
    products = [
        {"price": 20.0 + (i % 7), "category": "Toys" if i % 2 else "Books"} for i in range(n)
    ]
    offers = [{"product_id": i + 1, "price": 15.0 + (i * 37 % 11)} for i in range(n)]
    sf = strategy_file(
        {"name": "toys", "priority": 1, "applies_to": {"categories": ["Toys"]},
         "adjustment": {"kind": "undercut", "pct": 3}, "guards": {"ending": ".99"}},
        {"name": "rest", "guards": {"max_change_pct": 10}},
    )  # fmt: skip
    prods, offer_frame = frames(products, offers)
    whole = evaluate(prods, offer_frame, sf, NOW).products["final"]
    for pid in (1, 2, 777, 1500):
        single = evaluate(prods.loc[[pid]], offer_frame[offer_frame["product_id"] == pid], sf, NOW)
        assert (
            pd.isna(whole[pid])
            and pd.isna(single.products["final"].iloc[0])
            or (single.products["final"].iloc[0] == pytest.approx(whole[pid]))
        )


def test_stock_step_stands_over_the_demand_step():
    strategy = {**STOCKY, "demand": {"objective": "profit"}}
    row = evaluate_one(
        strategy, OUT, {"price": 20.00, "cost": 10.0, "ceiling": 30.0, "elasticity": -3.0}
    )
    assert row["final"] == pytest.approx(21.00)  # raised 5%, not the profit optimum 15.00
    assert "elasticity" not in row["explanation"]
