"""``pricewatch bench suggest``: the rules engine end to end on SQLite at full scale.

Builds a temporary store (170,000 products, ~5 matched competitor offers each, 72 sites,
some broken runs, foreign currencies, stale and suspect offers) with Core bulk inserts, then
times one ``run_suggestions`` with 10 strategies: read, evaluate, write.

Baselines measured in the same run, on samples and extrapolated:
* ``baseline_loop_evaluate_s``: the same engine called once per product (what evaluating
  product by product costs); the sample's results must equal the vectorized ones.
* ``baseline_orm_write_s``: writing the same suggestions as ORM objects (session.add_all);
  ``write_ratio`` compares it with the bulk write's whole time: ``write_overlapped_s`` (SQLite
  work on the writer thread while the evaluation went on) plus ``write_s`` (the rest).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
import pandas as pd
from sqlalchemy import Boolean, DateTime, Engine, Float, Numeric, delete, func, insert, select

from pricing.bench.report import emit, json_option, peak_rss_mb
from pricing.rules.writer import stamps
from pricing.store.bulk import sink_for
from pricing.store.db import make_engine, session_scope
from pricing.store.models import (
    AuditLog,
    CrawlRun,
    Decision,
    ElasticityEstimate,
    Match,
    Offer,
    Product,
    Site,
    Suggestion,
)
from pricing.store.schema import init_db

CATEGORIES = [
    "Electronics",
    "Computers",
    "Home",
    "Garden",
    "Toys",
    "Books",
    "Sports",
    "Beauty",
    "Grocery",
    "Fashion",
]
SITE_CURRENCY = {3: "EUR", 7: "GBP", 11: "ZAR"}  # ZAR is not in the rates table: never compared
BROKEN_SITES = {5, 40}

BENCH_STRATEGIES = Path(__file__).with_name("suggest_strategies.yaml")


def generate(
    engine: Engine, products: int, per_product: float, now: datetime, seed: int = 1
) -> int:
    """Fill an empty store; returns the number of matched offers."""
    rng = np.random.default_rng(seed)
    sites = [
        {
            "id": i,
            "name": f"shop-{i:02d}",
            "base_url": f"http://shop-{i:02d}.test",
            "currency": SITE_CURRENCY.get(i, "USD"),
        }
        for i in range(1, 73)
    ]
    runs = [
        {
            "id": i,
            "site_id": i,
            "started_at": now - timedelta(hours=2),
            "status": "finished",
            "health": "broken" if i in BROKEN_SITES else "healthy",
        }
        for i in range(1, 73)
    ]
    base = np.round(rng.lognormal(3.2, 0.8, products), 2) + 1
    cat = rng.integers(0, len(CATEGORIES), products)
    tag_draw = rng.random(products)
    price = np.round(base * rng.uniform(0.95, 1.1, products), 2)
    changed = rng.random(products) < 0.1
    prod_rows = pd.DataFrame(
        {
            "id": np.arange(1, products + 1),
            "sku": [f"SKU{i:07d}" for i in range(1, products + 1)],
            "title": "bench product",
            "brand": [f"Brand{b}" for b in rng.integers(0, 50, products)],
            "category": np.array(CATEGORIES, dtype=object)[cat],
            "tags": [
                ["key"] if t < 0.05 else ["private-label"] if t < 0.08 else None for t in tag_draw
            ],
            "cost": np.round(base * 0.6, 2),
            "price": price,
            "floor": np.where(rng.random(products) < 0.3, np.round(base * 0.8, 2), None),
            "ceiling": np.round(base * 1.5, 2),
            "map_price": np.where(rng.random(products) < 0.1, np.round(base * 0.9, 2), None),
            "currency": "USD",
            "in_stock": rng.random(products) > 0.03,
            "price_changed_at": np.where(changed, now - timedelta(hours=3), None),
            "created_at": now,
            "updated_at": now,
        }
    )
    counts = np.clip(rng.poisson(per_product, products), 1, 12)
    n = int(counts.sum())
    pid = np.repeat(np.arange(1, products + 1), counts)
    site = rng.integers(1, 73, n)
    seen = now - pd.to_timedelta(rng.uniform(0.1, 60, n), unit="h")
    oprice = np.round(np.repeat(base, counts) * rng.uniform(0.85, 1.2, n), 2)
    cur = np.array([SITE_CURRENCY.get(int(s), "USD") for s in range(73)], dtype=object)[site]
    oprice = np.where(
        cur == "EUR",
        np.round(oprice / 1.08, 2),
        np.where(cur == "GBP", np.round(oprice / 1.27, 2), oprice),
    )
    avail = np.where(rng.random(n) < 0.9, "in_stock", "out_of_stock")
    suspect = rng.random(n) < 0.01
    ids = np.arange(1, n + 1)
    seen_py = list(seen.to_pydatetime())
    offers = pd.DataFrame(
        {
            "id": ids,
            "site_id": site,
            "url": [f"http://x.test/{i}" for i in ids],
            "first_seen": seen_py,
            "last_seen": seen_py,
            # Each offer's one state is current: it lives in offers (no observations row).
            "current_observation_id": ids,
            "cur_valid_from": seen_py,
            "cur_price": oprice,
            "cur_currency": cur,
            "cur_availability": avail,
            "cur_suspect": suspect,
            "cur_first_run_id": site,
            "cur_run_id": site,
        }
    )
    matches = pd.DataFrame(
        {
            "id": ids,
            "product_id": pid,
            "offer_id": ids,
            "confidence": rng.uniform(0.7, 1.0, n),
            "method": "gtin",
            "status": np.where(rng.random(n) < 0.05, "review", "accepted"),
            "substitute": rng.random(n) < 0.03,
            "created_at": now,
            "updated_at": now,
        }
    )
    elasticity = [
        {
            "scope": "category",
            "key": c,
            "elasticity": -1.2 - 0.2 * i,
            "n_days": 90,
            "computed_at": now,
        }
        for i, c in enumerate(CATEGORIES)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Site), sites)
        conn.execute(insert(CrawlRun), runs)
        conn.execute(insert(ElasticityEstimate), elasticity)
        records = prod_rows.astype(object).where(prod_rows.notna(), None).to_dict("records")
        for start in range(0, len(records), 50_000):
            conn.execute(insert(Product), records[start : start + 50_000])
        sink = sink_for(conn)  # the store's bulk path: 3x faster than Core for 850k-row tables
        for table, frame in ((Offer, offers), (Match, matches)):
            _bulk(sink, table.__table__, frame)
    return n


def _bulk(sink, table, frame: pd.DataFrame) -> None:
    """Insert a frame through the sink, each column in the storage form its type needs."""
    cols = []
    for name in frame.columns:
        column = table.c[name]
        values = frame[name]
        if isinstance(column.type, DateTime):
            cols.append(stamps(sink, pd.Series(pd.to_datetime(values, utc=True))))
        elif isinstance(column.type, Boolean):
            cols.append([sink.flag(v) for v in values.tolist()])
        elif isinstance(column.type, Numeric) and not isinstance(column.type, Float):
            cols.append([None if v is None or v != v else sink.money(v) for v in values.tolist()])
        else:
            cols.append(values.tolist())
    sink.insert(table, list(frame.columns), list(zip(*cols, strict=True)))


def _reset(engine: Engine) -> int:
    with engine.begin() as conn:
        for table in (Decision, AuditLog, Suggestion):
            conn.execute(delete(table))
        return conn.execute(select(func.count()).select_from(Match)).scalar_one()


def _loop_baseline(sample: int, sf, now: datetime, engine: Engine) -> tuple[float, bool]:
    """Evaluate ``sample`` products one call each; True if results equal the vectorized ones."""
    from pricing.rules.evaluate import evaluate
    from pricing.rules.inputs import load_inputs

    with_tags = any(s.applies_to.tags for s in sf.strategies)
    products, offers = load_inputs(engine, sf.settings.currency_rates, with_tags=with_tags)
    ids = products.index[:: max(1, len(products) // sample)][:sample]
    full = evaluate(products.loc[ids], offers[offers["product_id"].isin(ids)], sf, now).products
    by_product = dict(tuple(offers.groupby("product_id")))
    t0 = time.perf_counter()
    finals = []
    for pid in ids:
        one = by_product.get(pid, offers.iloc[:0])
        finals.append(evaluate(products.loc[[pid]], one, sf, now).products["final"].iloc[0])
    elapsed = time.perf_counter() - t0
    agree = np.allclose(
        np.array(finals, dtype=float), full["final"].to_numpy(dtype=float), equal_nan=True
    )
    return elapsed, bool(agree)


def _orm_write_baseline(engine: Engine, rows: pd.DataFrame, sample: int) -> float:
    from pricing.rules.writer import records

    part = records(rows.head(sample))
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        session.add_all([Suggestion(**r) for r in part])
    elapsed = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(delete(Suggestion).where(Suggestion.suggest_run == "orm-baseline"))
    return elapsed


@click.command("suggest")
@click.option("--products", default=170_000, show_default=True, help="Our products.")
@click.option(
    "--offers-per-product",
    default=5.0,
    show_default=True,
    help="Mean matched competitor offers per product.",
)
@click.option(
    "--sample", default=300, show_default=True, help="Products in the per-product loop baseline."
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the generated store in this folder; a later run reuses it (skips generating).",
)
@json_option
def bench_suggest(
    products: int, offers_per_product: float, sample: int, keep: Path | None, as_json: bool
) -> None:
    """Suggest end to end (read, evaluate 10 strategies, write) on a generated SQLite store."""
    from pricing.rules.config import load_strategies
    from pricing.rules.run import cpu_time, run_suggestions

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday: the weekend strategy is idle
    sf = load_strategies(BENCH_STRATEGIES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench_suggest.db"
        reuse = keep is not None and path.exists()
        engine = make_engine(f"sqlite:///{path}")
        if not reuse:
            init_db(engine)
        t0 = time.perf_counter()
        if reuse:  # a store kept by an earlier run: forget its suggestions, keep the market
            n_offers = _reset(engine)
            click.echo(f"reusing {path}: {n_offers} matched offers")
        else:
            n_offers = generate(engine, products, offers_per_product, now)
            click.echo(
                f"generated {products} products, {n_offers} matched offers in {time.perf_counter() - t0:.1f}s"
            )

        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), cpu_time()
        report = run_suggestions(engine, sf, now=now)
        total, cpu = time.perf_counter() - t0, cpu_time() - c0
        click.echo(report.summary())

        loop_s, agree = _loop_baseline(sample, sf, now, engine)
        rows = report.suggestions.assign(suggest_run="orm-baseline")
        orm_sample = min(5_000, len(rows))
        orm_s = _orm_write_baseline(engine, rows, orm_sample) if orm_sample else 0.0
        engine.dispose()

    t = report.timings
    baseline_eval = loop_s / max(sample, 1) * products
    baseline_write = orm_s / max(orm_sample, 1) * len(rows)
    # The bulk write's whole time: the writer thread's beside the evaluation, and the rest.
    write_work = t["write_s"] + t.get("write_overlapped_s", 0.0)
    emit(
        "suggest",
        {
            "products": products,
            "offers": n_offers,
            "strategies": len(sf.strategies),
            "suggestions": report.suggested,
            "total_s": round(total, 3),
            "read_s": round(t["read_s"], 3),
            "evaluate_s": round(t["evaluate_s"], 3),
            "write_s": round(t["write_s"], 3),  # the part on the run's critical path
            "write_overlapped_s": round(t.get("write_overlapped_s", 0.0), 3),
            "evaluate_share": round(t["evaluate_s"] / total, 3),
            "cpu_s": round(cpu, 3),
            # CPU of all threads during each phase: comparable when other jobs load the machine
            "read_cpu_s": round(t["read_cpu_s"], 3),
            "evaluate_cpu_s": round(t["evaluate_cpu_s"], 3),  # with the overlapped write
            "write_cpu_s": round(t["write_cpu_s"], 3),
            "load_avg_1m": round(load, 2),  # other work on the machine slows wall times
            "baseline_loop_evaluate_s": round(baseline_eval, 1),
            "ratio": round(baseline_eval / t["evaluate_s"], 1),
            "loop_agrees": agree,
            "baseline_orm_write_s": round(baseline_write, 2),
            "write_ratio": round(baseline_write / write_work, 2) if write_work else 0,
            "peak_rss_mb": peak_rss_mb(),
        },
        as_json,
    )
