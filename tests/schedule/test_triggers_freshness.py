"""Cadences become the right triggers; the freshness planner spends the budget where it matters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pytest

from crawler.siteconfig import Cadence
from pricing.freshness import FreshnessPolicy, allocate, importance, plan_refresh, smoothed_rates
from pricing.schedule.triggers import describe, trigger_for
from pricing.store.db import session_scope
from pricing.store.models import ClickDaily, Match, Observation, Offer, Product, Site
from tests.history_states import promote_latest_states

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _fires(trigger, start: datetime, n: int) -> list[datetime]:
    out, previous, now = [], None, start
    for _ in range(n):
        fire = trigger.get_next_fire_time(previous, now)
        out.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)
    return out


def test_interval_cadence_with_active_hours_only_fires_inside_the_window():
    cadence = Cadence(every="2h", active_hours="22:00-06:00")
    fires = _fires(trigger_for(cadence, timezone=UTC, start=NOW), NOW, 12)
    assert all(f.time() >= time(22) or f.time() < time(6) for f in fires), fires
    assert fires[0] == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # moved to the window's start
    assert {b - a for a, b in zip(fires, fires[1:], strict=False)} >= {timedelta(hours=2)}


def test_cron_cadence_and_fast_clock():
    cadence = Cadence(cron="30 */6 * * *")
    fires = _fires(trigger_for(cadence, timezone=UTC), NOW, 3)
    assert [f.hour for f in fires] == [12, 18, 0] and {f.minute for f in fires} == {30}
    fast = trigger_for(cadence, timezone=UTC, scale=3600, start=NOW)
    a, b = _fires(fast, NOW, 2)
    assert b - a == timedelta(seconds=6)  # six hours pass in six seconds
    assert describe(cadence, 3600) == "cron 30 */6 * * *, fast clock x3600"


def test_allocation_spends_exactly_the_budget_by_the_square_root_rule():
    policy = FreshnessPolicy()
    rates = np.array([4.0, 1.0, 1.0, 0.01])
    weights = np.array([1.0, 4.0, 1.0, 1.0])
    per_day = allocate(rates, weights, budget_per_day=4.0, policy=policy)
    assert per_day.sum() == pytest.approx(4.0)
    assert per_day[0] == pytest.approx(per_day[1])  # sqrt(4*1) == sqrt(1*4)
    assert per_day[1] > per_day[2] > per_day[3]
    assert per_day[3] >= 1 / 7  # everything is read at least weekly
    # Less budget than a weekly read of everything: spread evenly.
    assert allocate(rates, weights, 0.4, policy) == pytest.approx(np.full(4, 0.1))


def test_a_new_offer_inherits_its_products_volatility():
    changes = np.array([20.0, 0.0, 0.0, 0.0])
    days = np.array([10.0, 0.1, 10.0, 0.1])
    product = np.array([1, 1, 2, 2])
    rates = smoothed_rates(changes, days, product, FreshnessPolicy())
    assert rates[1] > 3 * rates[3]


def test_importance_weights_sales_and_key_items():
    w = importance(
        matched=np.array([True, True, True, False]),
        demand=np.array([10.0, 10.0, 0.0, 50.0]),
        key=np.array([True, False, False, False]),
        policy=FreshnessPolicy(),
    )
    assert w[0] == pytest.approx(4 * w[1]) and w[1] > w[2] > w[3]


def test_plan_refresh_puts_volatile_key_best_sellers_first(db_engine):
    """Four offers of one site, read a day ago: who goes first with a budget of two?"""
    with session_scope(db_engine) as s:
        site = Site(name="shop-a", base_url="http://127.0.0.2")
        s.add(site)
        s.flush()
        specs = {  # url: (changes in the window, key item, orders)
            "key-volatile": (6, True, 5),
            "seller-volatile": (6, False, 50),
            "seller-static": (0, False, 50),
            "unmatched-volatile": (6, None, 0),
        }
        for url, (changes, key, orders) in specs.items():
            offer = Offer(
                site_id=site.id,
                url=url,
                first_seen=NOW - timedelta(days=10),
                last_seen=NOW - timedelta(days=1),
            )
            s.add(offer)
            s.flush()
            for k in range(changes + 1):
                at = NOW - timedelta(days=10) + timedelta(days=k)
                s.add(
                    Observation(
                        offer_id=offer.id,
                        valid_from=at,
                        # The last state is current: valid to the offer's last_seen.
                        valid_to=offer.last_seen if k == changes else at + timedelta(hours=20),
                        price=Decimal(10 + k),
                    )
                )
            if key is None:
                continue
            product = Product(sku=url, title=url, key_item=key)
            s.add(product)
            s.flush()
            s.add(
                Match(
                    product_id=product.id,
                    offer_id=offer.id,
                    confidence=1,
                    method="gtin",
                    status="accepted",
                )
            )
            s.add(ClickDaily(product_id=product.id, day=date(2026, 3, 1), orders=orders))
        s.flush()
        promote_latest_states(s.connection())
    plan = plan_refresh(db_engine, "shop-a", budget=2, cycles_per_day=1, now=NOW)
    assert plan.offers == 4
    assert plan.urls == ["key-volatile", "seller-volatile"]
    everything = plan_refresh(db_engine, "shop-a", budget=10, cycles_per_day=1, now=NOW)
    assert (
        everything.urls[-1] in {"unmatched-volatile", "seller-static"} and len(everything.urls) == 4
    )


def test_freshness_bench_compares_policies_at_the_same_budget():
    from click.testing import CliRunner

    from pricing.bench.freshness import bench_freshness

    args = ["--sites", "2", "--products", "600", "--train-days", "2", "--days", "1", "--json"]
    result = CliRunner().invoke(bench_freshness, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["bench"] == "freshness"
    assert figures["requests_flat"] == figures["requests_fresh"] > 0
    assert 0 <= figures["stale_weighted_fresh"] <= 1 and figures["ratio"] > 0
