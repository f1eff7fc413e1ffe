"""Analytics over a real store (SQLite and PostgreSQL): conversion, price index, competitors,
and elasticity estimates written to the table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from pricing.analytics import estimate_elasticities
from pricing.analytics.competitors import competitor_behaviour
from pricing.analytics.conversion import conversion
from pricing.analytics.data import load_clicks, load_observations
from pricing.analytics.price_index import price_index
from pricing.cli import main
from pricing.store.models import (
    ClickDaily,
    CrawlRun,
    ElasticityEstimate,
    Match,
    Observation,
    Offer,
    Product,
    Site,
)
from tests.history_states import promote_latest_states

D0 = dt.date(2026, 3, 1)
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def store(db_engine):
    rng = np.random.default_rng(3)
    with db_engine.begin() as conn:
        conn.execute(
            insert(Product),
            [
                {"sku": "A", "title": "a", "category": "phones", "price": 100},
                {"sku": "B", "title": "b", "category": "phones", "price": 50},
                {"sku": "C", "title": "c", "category": "cases", "price": 10},
            ],
        )
        ids = dict(conn.execute(select(Product.sku, Product.id)).all())
        rows = []
        for sku, base in (("A", 100.0), ("B", 50.0), ("C", 10.0)):
            for d in range(70):
                price = base * (1.1 if (d // 14) % 2 else 0.9) if sku != "C" else base
                views = 400
                orders = int(rng.binomial(views, min(0.05 * (price / base) ** -2.0, 0.9)))
                rows.append(
                    {
                        "product_id": ids[sku],
                        "day": D0 + dt.timedelta(days=d),
                        "views": views,
                        "clicks": views // 4,
                        "add_to_cart": orders * 2,
                        "orders": orders,
                        "revenue": round(orders * price, 2),
                        "price": round(price, 2),
                    }
                )
        conn.execute(insert(ClickDaily), rows)
        s1, s2 = (
            conn.execute(
                insert(Site).values(name=n, base_url=f"http://{n}").returning(Site.id)
            ).scalar()
            for n in ("shop-01", "shop-02")
        )
        good = conn.execute(
            insert(CrawlRun).values(site_id=s1, health="healthy").returning(CrawlRun.id)
        ).scalar()
        broken = conn.execute(
            insert(CrawlRun).values(site_id=s2, health="broken").returning(CrawlRun.id)
        ).scalar()
        o1, o2 = (
            conn.execute(
                insert(Offer)
                .values(site_id=s, url=u, first_seen=T0, last_seen=T0)
                .returning(Offer.id)
            ).scalar()
            for s, u in ((s1, "/a"), (s2, "/a"))
        )
        conn.execute(
            insert(Match),
            [
                {
                    "product_id": ids["A"],
                    "offer_id": o1,
                    "confidence": 1,
                    "method": "gtin",
                    "status": "accepted",
                },
                {
                    "product_id": ids["A"],
                    "offer_id": o2,
                    "confidence": 1,
                    "method": "gtin",
                    "status": "confirmed",
                },
            ],
        )

        def obs(offer, start_h, end_h, price, run=good, suspect=False):
            return {
                "offer_id": offer,
                "valid_from": T0 + dt.timedelta(hours=start_h),
                "valid_to": T0 + dt.timedelta(hours=end_h),
                "price": price,
                "currency": "USD",
                "run_id": run,
                "suspect": suspect,
            }

        conn.execute(
            insert(Observation),
            [
                obs(o1, 0, 47, 95),  # shop-01 moves first (day 2) ...
                obs(o1, 48, 24 * 70, 90),
                obs(o2, 0, 59, 105, run=None),
                obs(o2, 60, 24 * 70, 99, run=None),  # ... shop-02 follows 12 hours later
                obs(o2, 24 * 10, 24 * 11, 1, run=broken),  # a broken run's price: ignored
            ],
        )
        promote_latest_states(conn)
    return db_engine


def test_conversion_by_sku_and_category(store):
    clicks = load_clicks(store)
    by_sku = conversion(clicks, "sku").set_index("sku")
    assert by_sku.loc["C", "days"] == 70 and by_sku.loc["C", "views"] == 70 * 400
    assert by_sku.loc["A", "conversion"] == pytest.approx(by_sku.loc["A", "orders"] / (70 * 400))
    by_cat = conversion(clicks, "category").set_index("category")
    assert by_cat.loc["phones", "orders"] == by_sku.loc[["A", "B"], "orders"].sum()
    with pytest.raises(ValueError):
        conversion(clicks, "site")


def test_price_index_uses_matched_competitors_and_skips_broken_runs(store):
    index = price_index(load_clicks(store), load_observations(store, matched_only=True))
    a = index[index["sku"] == "A"].set_index("day")
    day0 = a.loc["2026-03-01"]
    assert day0["competitors"] == 2 and day0["lowest"] == 95 and day0["median"] == 100
    assert day0["index_lowest"] == pytest.approx(100 * 90 / 95)  # our price that day: 90
    later = a.loc["2026-03-05"]
    assert later["lowest"] == 90 and later["median"] == pytest.approx(94.5)
    assert (a["lowest"] > 1).all()  # the broken run's price 1 never counts
    assert (index[index["sku"] == "B"]["competitors"] == 0).all()


def test_competitor_behaviour_moves_and_leader(store):
    table = competitor_behaviour(load_observations(store)).set_index("site")
    assert table.loc["shop-01", "moves"] == 1 and table.loc["shop-02", "moves"] == 1
    assert table.loc["shop-01", "leads"] == 1 and table.loc["shop-02", "follows"] == 1
    assert table.loc["shop-01", "median_abs_change_pct"] == pytest.approx(100 * (1 - 90 / 95))
    assert table.loc["shop-01", "share_down"] == 1.0


def test_elasticity_estimates_are_written(store):
    cats, skus = estimate_elasticities(store)
    with store.connect() as conn:
        rows = {(r.scope, r.key): r for r in conn.execute(select(ElasticityEstimate)).all()}
    phones = rows[("category", "phones")]
    assert phones.ci_low < -2.0 < phones.ci_high and abs(phones.elasticity + 2) < 0.4
    assert rows[("category", "cases")].elasticity is None
    assert "not enough data" in rows[("category", "cases")].note
    assert rows[("sku", "C")].elasticity is None and not rows[("sku", "C")].pooled
    assert rows[("sku", "A")].elasticity is not None
    # Re-running replaces, never duplicates.
    estimate_elasticities(store)
    with store.connect() as conn:
        assert len(conn.execute(select(ElasticityEstimate.id)).all()) == len(rows)


def test_analytics_cli_prints_and_writes_csv(store, tmp_path):
    url = store.url.render_as_string(hide_password=False)
    runner = CliRunner()
    for args in (
        ["conversion", "--by", "category"],
        ["price-index", "--sku", "A", "--since", "2026-03-01"],
        ["elasticity"],
        ["competitors"],
    ):
        out = tmp_path / f"{args[0]}.csv"
        result = runner.invoke(main, ["--db", url, "analytics", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.exists() and out.read_text().count("\n") >= 2, args
    assert "phones" in runner.invoke(main, ["--db", url, "analytics", "elasticity"]).output
