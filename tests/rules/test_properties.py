"""Property tests: whatever the strategy and the market, no suggestion breaks a guard, and
offers from broken runs or in unconvertible currencies never change a suggestion."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pricing.rules.config import StrategyFile
from pricing.rules.evaluate import evaluate
from pricing.rules.guards import ENDINGS
from tests.rules.conftest import NOW, frames, strategy_file

SITES = ["s1", "s2", "s3", "s4"]
RATES = {"base": "USD", "rates": {"EUR": 1.1, "GBP": 1.3}}
money = st.floats(0.5, 150, allow_nan=False).map(lambda v: round(v, 2))
maybe = lambda s: st.none() | s  # noqa: E731
mostly = lambda value: st.sampled_from([value] * 4 + [not value])  # noqa: E731


@st.composite
def strategies(draw) -> dict:
    kind = draw(st.sampled_from(
        ["lowest", "median", "average", "nth_lowest", "competitor", "lowest_in_stock", "cost_plus", "current"]
    ))  # fmt: skip
    reference = {"kind": kind}
    if kind == "nth_lowest":
        reference["n"] = draw(st.integers(1, 3))
    if kind == "competitor":
        reference["competitor"] = draw(st.sampled_from(SITES))
    if kind == "cost_plus":
        reference["margin_pct"] = draw(st.floats(0, 100))
    adj_kind = draw(st.sampled_from(["match", "undercut", "premium", "rank"]))
    if adj_kind == "rank" and kind in ("cost_plus", "current"):
        adj_kind = "match"
    adjustment = {"kind": adj_kind}
    if adj_kind in ("undercut", "premium"):
        if draw(st.booleans()):
            adjustment["pct"] = draw(st.floats(0, 30))
        else:
            adjustment["amount"] = draw(st.floats(0, 5))
    if adj_kind == "rank":
        adjustment["rank"] = draw(st.integers(1, 3))
    floor, ceiling = draw(maybe(st.floats(0, 60))), draw(maybe(st.floats(10, 200)))
    assume(floor is None or ceiling is None or floor <= ceiling)
    guards = {
        "floor": floor,
        "ceiling": ceiling,
        "min_margin_pct": draw(maybe(st.floats(0, 60))),
        "max_margin_pct": draw(maybe(st.floats(60, 300))),
        "respect_map": draw(st.booleans()),
        "max_change_pct": draw(maybe(st.floats(0.5, 50))),
        "max_change_amount": draw(maybe(st.floats(0.1, 20))),
        "ending": draw(st.sampled_from([None, ".99", ".95", "whole"])),
        "outlier_pct": draw(maybe(st.floats(10, 100))),
        "min_confidence": draw(st.floats(0, 0.6)),
        "use_substitutes": draw(st.booleans()),
        "min_competitors": draw(maybe(st.integers(0, 3))),
    }
    strategy = {"reference": reference, "adjustment": adjustment, "guards": guards}
    if draw(st.booleans()):
        strategy["stock"] = {"raise_pct": draw(st.floats(1, 20))}
    if draw(st.booleans()):
        strategy["demand"] = {
            "objective": draw(st.sampled_from(["profit", "revenue"])),
            "max_deviation_pct": draw(maybe(st.floats(1, 30))),
        }
    return strategy


product = st.fixed_dictionaries(
    {
        "price": money,
        "cost": maybe(money),
        "floor": maybe(money),
        "ceiling": maybe(money),
        "map_price": maybe(money),
        "in_stock": mostly(True),
        "elasticity": maybe(st.floats(-4, -0.2)),
    }
)
offer = st.fixed_dictionaries(
    {
        "product_id": st.integers(1, 4),
        "site": st.sampled_from(SITES),
        "price": maybe(money),
        "currency": st.sampled_from(["USD", "USD", "EUR", "GBP", "JPY"]),  # JPY has no rate
        "availability": st.sampled_from(["in_stock", "out_of_stock"]),
        "broken": mostly(False),
        "suspect": mostly(False),
        "age_h": st.floats(0, 60),
        "confidence": st.floats(0.3, 1),
        "substitute": mostly(False),
    }
)
market = st.tuples(
    st.lists(product, min_size=4, max_size=4), st.lists(offer, min_size=8, max_size=24)
)


def run(sf: StrategyFile, products: list[dict], offers: list[dict]):
    prods, offer_frame = frames(products, offers, sf.settings.currency_rates)
    return prods, offer_frame, evaluate(prods, offer_frame, sf, NOW)


def limits(row: dict, s) -> tuple[float, float, float]:
    """(floor, MAP, ceiling) the strategy promises, computed here from the inputs alone."""
    g = s.guards
    cost = row["cost"] if row["cost"] is not None else math.nan
    floors = [
        row["floor"],
        g.floor,
        cost * (1 + g.min_margin_pct / 100) if g.min_margin_pct is not None else None,
    ]
    ceilings = [
        row["ceiling"],
        g.ceiling,
        cost * (1 + g.max_margin_pct / 100) if g.max_margin_pct is not None else None,
    ]
    floor = max((f for f in floors if f is not None and not math.isnan(f)), default=0.0)
    ceiling = min((c for c in ceilings if c is not None and not math.isnan(c)), default=math.inf)
    map_price = row["map_price"] if g.respect_map and row["map_price"] is not None else 0.0
    return floor, map_price, ceiling


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(strategy=strategies(), data=market)
def test_no_suggestion_breaks_a_guard(strategy, data):
    products, offers = data
    sf = strategy_file(strategy, currency_rates=RATES)
    s = sf.strategies[0]
    _, _, ev = run(sf, products, offers)
    step, offset = ENDINGS[s.guards.ending]
    for pid, row in ev.suggestions.iterrows():
        given_ = products[pid - 1]
        final, current = float(row["final"]), given_["price"]
        floor, map_price, ceiling = limits(given_, s)
        assert final >= floor - 1e-9, row["explanation"]
        assert final >= map_price - 1e-9, row["explanation"]
        assert final <= ceiling + 1e-9, row["explanation"]
        assert final > 0
        cents = round(final * 100)
        assert abs(cents - final * 100) < 1e-6 and (cents - offset) % step == 0, (
            final,
            s.guards.ending,
        )
        allowed = math.inf
        if s.guards.max_change_pct is not None:
            allowed = current * s.guards.max_change_pct / 100
        if s.guards.max_change_amount is not None:
            allowed = min(allowed, s.guards.max_change_amount)
        if abs(final - current) > allowed + 1e-9:
            # Only a hard bound our current price violates may override the maximum change.
            assert current < max(floor, map_price) or current > ceiling, row["explanation"]
            assert "wins over max change" in row["explanation"]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(strategy=strategies(), data=market)
def test_broken_runs_and_unconvertible_currencies_never_count(strategy, data):
    products, offers = data
    sf = strategy_file(strategy, currency_rates=RATES)
    _, offer_frame, ev = run(sf, products, offers)
    used = offer_frame[ev.used.to_numpy()]
    assert not used["broken"].any()
    assert used["convertible"].all() and used["price"].notna().all()
    assert not used["orig_currency"].astype(object).isin(["JPY"]).any()
    # Removing those offers entirely changes no price and no outcome.
    trusted = [o for o in offers if not o["broken"] and o["currency"] != "JPY"]
    _, _, clean = run(sf, products, trusted)
    pd.testing.assert_series_equal(ev.products["outcome"], clean.products["outcome"])
    np.testing.assert_array_equal(
        ev.products["final"].to_numpy(), clean.products["final"].to_numpy()
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(strategy=strategies(), data=market)
def test_foreign_offers_count_exactly_as_their_converted_price(strategy, data):
    products, offers = data
    sf = strategy_file(strategy, currency_rates=RATES)
    rate = {"USD": 1.0, **RATES["rates"]}
    converted = [
        {
            **o,
            "currency": "USD",
            "price": o["price"] * rate[o["currency"]] if o["price"] is not None else None,
        }
        if o["currency"] in rate
        else o
        for o in offers
    ]
    _, _, a = run(sf, products, offers)
    _, _, b = run(sf, products, converted)
    np.testing.assert_array_equal(a.products["final"].to_numpy(), b.products["final"].to_numpy())
