"""Backtest: a replay of stored history with a hand-worked price war and an oscillation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from pricing.cli import main
from pricing.rules.backtest import run_backtest
from pricing.store.models import ClickDaily, ElasticityEstimate, Match, Observation, Offer
from tests.history_states import promote_latest_states
from tests.rules.conftest import NOW, StoreBuilder, strategy_file

STRATEGIES = (
    {"name": "war", "applies_to": {"categories": ["war"]}, "reference": {"kind": "lowest"},
     "adjustment": {"kind": "undercut", "pct": 5}},
    {"name": "osc", "applies_to": {"categories": ["osc"]}, "reference": {"kind": "lowest"}},
)  # fmt: skip


def build_history(b: StoreBuilder, now: datetime) -> tuple[int, int]:
    """P1 'war' (floor 20) against A falling 28 → 25 → 22 → 19; P2 'osc' against B 18/22."""
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)
    p1 = b.product("P1", price=30, floor=20, cost=10, category="war")
    p2 = b.product("P2", price=20, category="osc")

    def offer(
        pid: int, site: str, states: list[tuple[float, float, float]], health="healthy"
    ) -> None:
        run = b.run(site, health)
        with b.engine.begin() as c:
            oid = c.execute(
                insert(Offer).values(
                    site_id=b.site(site),
                    url=f"http://{site}/{pid}",
                    first_seen=day0,
                    last_seen=now,
                    cur_price=states[-1][2],
                    cur_currency="USD",
                    cur_availability="in_stock",
                    cur_run_id=run,
                )  # fmt: skip
            ).inserted_primary_key[0]
            for start_h, end_h, price in states:
                c.execute(
                    insert(Observation).values(
                        offer_id=oid,
                        valid_from=day0 + timedelta(hours=start_h),
                        valid_to=day0 + timedelta(hours=end_h),
                        price=price,
                        currency="USD",
                        availability="in_stock",
                        run_id=run,
                        last_run_id=run,
                    )  # fmt: skip
                )
            c.execute(
                insert(Match).values(
                    product_id=pid, offer_id=oid, confidence=1.0, method="gtin", status="accepted"
                )
            )

    offer(p1, "A", [(-12, 12, 28.0), (12, 36, 25.0), (36, 60, 22.0), (60, 131, 19.0)])
    offer(p1, "C", [(-12, 131, 5.0)], health="broken")  # never counts
    offer(p2, "B", [(-12 + 24 * i, 12 + 24 * i, 18.0 if i % 2 == 0 else 22.0) for i in range(6)])
    with b.engine.begin() as c:
        promote_latest_states(c)  # each offer's last state is its current one
        c.execute(
            insert(ElasticityEstimate).values(
                scope="category", key="war", elasticity=-2.0, n_days=90
            )
        )
        c.execute(insert(ClickDaily), [
            {"product_id": p1, "day": date(2026, 10, d), "orders": n} for d, n in ((1, 4), (2, 6), (3, 5))
        ])  # fmt: skip
    return p1, p2


def test_replay_finds_the_price_war_and_the_oscillation(store):
    build_history(store, NOW)
    result = run_backtest(store.engine, strategy_file(*STRATEGIES), days=6, now=NOW)

    assert list(result.days["date"]) == [f"2026-11-{d}" for d in range(20, 26)]
    assert list(result.days["proposals"]) == [2, 2, 2, 2, 1, 1]  # P2 follows B every day
    flags = {f.sku: f for f in result.flags.itertuples()}
    assert flags["P1"].flag == "price_war"
    assert flags["P1"].detail == "4 cuts in a row 30.00 → 20.00, stopped only by the floor"
    assert flags["P2"].flag == "oscillation"
    assert flags["P2"].detail.startswith("changed direction 5 times: 20.00 → 18.00 → 22.00 → 18.00")

    # Day 1: P1 at 26.60 (28 - 5%) against 30.00; e = -2, 5 orders a day on average.
    first = result.days.iloc[0]
    assert first["units"] == pytest.approx(5 * (26.60 / 30) ** -2)
    assert first["revenue"] == pytest.approx(5 * (26.60 / 30) ** -2 * 26.60)
    assert first["margin"] == pytest.approx(5 * (26.60 / 30) ** -2 * 16.60)
    assert first["base_revenue"] == pytest.approx(150.0)
    assert result.totals["products_without_elasticity"] == 1  # P2: left out of the effects


def test_compare_two_strategy_files_side_by_side(sqlite_store, tmp_path):
    now = datetime.now(UTC)
    build_history(sqlite_store, now)
    war = tmp_path / "war.yaml"
    war.write_text(
        "strategies:\n"
        "  - {name: war, reference: {kind: lowest}, adjustment: {kind: undercut, pct: 5}}\n"
    )
    calm = tmp_path / "calm.yaml"
    calm.write_text(
        "strategies:\n  - {name: calm, reference: {kind: lowest}, guards: {max_change_pct: 2}}\n"
    )
    db = str(sqlite_store.engine.url.database)
    result = CliRunner().invoke(
        main,
        ["--db", db, "backtest", "--strategy", str(war), "--days", "6", "--compare", str(calm)],
    )
    assert result.exit_code == 0, result.output
    assert "war.yaml" in result.output and "calm.yaml" in result.output
    assert "price_war=1" in result.output  # war.yaml drives P1 to its floor
    lines = [line for line in result.output.splitlines() if line.startswith(str(now.year))]
    assert len(lines) == 6 and all(line.count("|") == 2 for line in lines)
