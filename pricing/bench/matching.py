"""``pricewatch bench match`` and ``pricewatch bench elasticity``.

bench match: (1) the pairwise decision on the public Amazon-Google and Walmart-Amazon test pairs
against a plain rapidfuzz token_set_ratio >= 80 baseline run on the same pairs; (2) store
matching of the simulator's market (default 170,000 offers in 72 shops) in a fresh SQLite
store, scored against the simulator's truth, then an incremental run after 1% of offers change
their titles and 1% are new.

bench elasticity: the estimator on the simulator's click data against the true elasticities,
beside a naive baseline (pooled log-log least squares without SKU effects).
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import click
import numpy as np
import pandas as pd

from pricing.bench.report import emit, json_option, peak_rss_mb


def realdata_figures() -> dict[str, object]:
    from pricing.matching.benchmarks import BENCHMARKS, evaluate, realdata_dir

    figures: dict[str, object] = {}
    for key, (name, published) in BENCHMARKS.items():
        r = evaluate(realdata_dir() / name)
        ours, base = r["pairwise"], r["baseline"]
        click.echo(
            f"{name}: precision={ours.precision:.3f} recall={ours.recall:.3f} F1={100 * ours.f1:.1f} "
            f"(DeepMatcher {published}, baseline token_set_ratio>=80 F1={100 * base.f1:.1f})"
        )
        figures |= {
            f"{key}_precision": round(ours.precision, 4),
            f"{key}_recall": round(ours.recall, 4),
            f"{key}_f1": round(100 * ours.f1, 1),
            f"{key}_deepmatcher_f1": published,
            f"{key}_baseline_f1": round(100 * base.f1, 1),
            f"{key}_f1_ratio": round(ours.f1 / base.f1, 2) if base.f1 else None,
        }
    return figures


def _market_frames(market) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Our catalog, and every listed offer with its true SKU and its product's family."""
    frames = []
    state = market.state()
    for site in market.sites:
        truth = market.truth(site.name)
        a, b = market.offers.start[site.index], market.offers.end[site.index]
        idx = a + np.flatnonzero(state.listed[a:b])
        product = market.offers.product[idx]
        frames.append(truth.assign(site=site.name, family=market.products.family[product]))
    offers = pd.concat(frames, ignore_index=True)
    return market.catalog_frame(), offers


def _load_store(engine, catalog: pd.DataFrame, offers: pd.DataFrame, seen) -> None:
    from sqlalchemy import insert, select

    from pricing.store.models import Offer, Product, Site

    def text(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v)

    with engine.begin() as conn:
        conn.execute(
            insert(Product),
            [
                {
                    "sku": r.sku,
                    "title": r.title,
                    "brand": text(r.brand),
                    "gtin": text(r.gtin),
                    "mpn": text(r.mpn),
                    "category": r.category,
                    "created_at": seen - timedelta(days=1),
                }
                for r in catalog.itertuples(index=False)
            ],
        )
        conn.execute(
            insert(Site), [{"name": s, "base_url": f"http://{s}"} for s in offers["site"].unique()]
        )
        site_ids = dict(conn.execute(select(Site.name, Site.id)).all())
        rows = [
            {
                "site_id": site_ids[r.site],
                "url": r.url or r.path,
                "title": text(r.title)[:500],
                "brand": text(r.brand),
                "gtin": (text(r.gtin) or "")[:14] or None,
                "mpn": (text(r.mpn) or "")[:100] or None,
                "first_seen": seen,
                "last_seen": seen,
            }
            for r in offers.itertuples(index=False)
        ]
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(Offer), rows[i : i + 10_000])


def _score(engine, offers: pd.DataFrame) -> dict[str, object]:
    from sqlalchemy import select

    from pricing.store.models import Match, Offer, Product, Site

    with engine.connect() as conn:
        got = pd.DataFrame(
            conn.execute(
                select(Site.name.label("site"), Offer.url, Product.sku, Match.method, Match.status)
                .join(Offer, Offer.id == Match.offer_id)
                .join(Site, Site.id == Offer.site_id)
                .join(Product, Product.id == Match.product_id)
            ).all(),
            columns=["site", "url", "sku", "method", "status"],
        )
    truth = offers.assign(url=offers["url"].where(offers["url"] != "", offers["path"]))
    merged = truth.merge(got, on=["site", "url"], how="left")
    accepted = merged[merged["status"] == "accepted"]
    right = accepted["sku"] == accepted["true_sku"]
    sku_family = pd.Series(offers.dropna(subset=["true_sku"]).groupby("true_sku")["family"].first())
    wrong = accepted[~right]
    near_dup = int((wrong["sku"].map(sku_family) == wrong["family"]).sum())
    ident = accepted[accepted["method"] == "gtin"]
    matchable = int(offers["true_sku"].notna().sum())
    return {
        "sim_precision": round(float(right.mean()), 4) if len(accepted) else 0.0,
        "sim_recall": round(float(right.sum() / max(matchable, 1)), 4),
        "sim_review": int((merged["status"] == "review").sum()),
        "identifier_matches": len(ident),
        "identifier_precision": round(float((ident["sku"] == ident["true_sku"]).mean()), 4)
        if len(ident)
        else 0.0,
        "near_dup_matched": near_dup,
        "near_dup_share": round(near_dup / max(len(accepted), 1), 5),
    }


@click.command("match")
@click.option("--sites", default=72, show_default=True)
@click.option("--products", default=170_000, show_default=True, help="Competitor offers in all.")
@click.option("--seed", default=1, show_default=True)
@click.option("--skip-sim", is_flag=True, help="Only the public real-data benchmarks.")
@json_option
def bench_match(sites: int, products: int, seed: int, skip_sim: bool, as_json: bool) -> None:
    """Matching accuracy (real data + simulator truth) and store matching speed."""
    figures = realdata_figures()
    if not skip_sim:
        from sqlalchemy import update

        from pricing.matching import run_matching
        from pricing.store.db import make_engine
        from pricing.store.models import Offer
        from pricing.store.schema import init_db
        from shopsim.market import Market

        t = time.perf_counter()
        market = Market.generate(sites=sites, products=products, seed=seed)
        catalog, offers = _market_frames(market)
        click.echo(
            f"simulator: {len(catalog)} SKUs, {len(offers)} offers in {sites} shops ({time.perf_counter() - t:.1f}s)"
        )
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            init_db(engine)
            now = market.clock.now()
            _load_store(engine, catalog, offers, now)
            t = time.perf_counter()
            report = run_matching(engine, now=now + timedelta(minutes=1))
            match_s = time.perf_counter() - t
            click.echo(report.summary())
            figures |= _score(engine, offers)
            # Incremental: 1% of offers get a new title; the next run looks at those only.
            changed = max(1, len(offers) // 100)
            with engine.begin() as conn:
                conn.execute(
                    update(Offer)
                    .where(Offer.id <= changed)
                    .values(identity_changed_at=now + timedelta(hours=1))
                )
            t = time.perf_counter()
            again = run_matching(engine, now=now + timedelta(hours=2))
            incremental_s = time.perf_counter() - t
            engine.dispose()
        figures |= {
            "match_s": round(match_s, 1),
            "offers": len(offers),
            "skus": len(catalog),
            "offers_per_s": round(len(offers) / match_s),
            "incremental_offers": again.offers_examined,
            "incremental_s": round(incremental_s, 2),
            "siblings_to_review": report.siblings,
            "siblings_s": round(report.siblings_s, 2),
            "incremental_siblings_s": round(again.siblings_s, 2),
        }
    figures["peak_rss_mb"] = peak_rss_mb()
    emit("match", figures, as_json)


def naive_elasticity(frame: pd.DataFrame) -> float:
    """Baseline: least squares of ln(orders/views) on ln(price), zero-order days dropped."""
    d = frame[(frame["orders"] > 0) & (frame["views"] > 0)]
    y = np.log(d["orders"] / d["views"])
    x = np.log(d["price"].astype(float))
    return float(np.polyfit(x, y, 1)[0])


@click.command("elasticity")
@click.option("--products", default=170_000, show_default=True)
@click.option("--days", default=90, show_default=True, help="Days of click data.")
@click.option("--seed", default=1, show_default=True)
@json_option
def bench_elasticity(products: int, days: int, seed: int, as_json: bool) -> None:
    """Elasticity estimates against the simulator's true elasticities (within 20%, CI coverage)."""
    from pricing.analytics.elasticity import elasticities
    from shopsim.market import Market

    market = Market.generate(sites=10, products=products, seed=seed)
    clicks = market.clicks_frame(days=days).rename(columns={"date": "day"})
    clicks = clicks.merge(market.catalog_frame()[["sku", "category"]], on="sku")
    t = time.perf_counter()
    cats, skus = elasticities(clicks)
    fit_s = time.perf_counter() - t
    truth = market.true_elasticity
    cats["true"] = cats["key"].map(truth)
    cats["rel_err"] = (cats["elasticity"] / cats["true"] - 1).abs()
    cats["covers"] = (cats["ci_low"] <= cats["true"]) & (cats["true"] <= cats["ci_high"])
    cats["baseline"] = [naive_elasticity(clicks[clicks["category"] == c]) for c in cats["key"]]
    cats["baseline_rel_err"] = (cats["baseline"] / cats["true"] - 1).abs()
    cols = [
        "key",
        "true",
        "elasticity",
        "ci_low",
        "ci_high",
        "rel_err",
        "covers",
        "n_days",
        "baseline",
    ]
    click.echo(cats[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    eligible = cats[cats["n_days"] >= 60]
    emit(
        "elasticity",
        {
            "categories": len(eligible),
            "within_20pct": int((eligible["rel_err"] <= 0.2).sum()),
            "ci_covers": int(eligible["covers"].sum()),
            "max_rel_err": round(float(eligible["rel_err"].max()), 3),
            "median_rel_err": round(float(eligible["rel_err"].median()), 3),
            "baseline_within_20pct": int((eligible["baseline_rel_err"] <= 0.2).sum()),
            "baseline_median_rel_err": round(float(eligible["baseline_rel_err"].median()), 3),
            "skus": len(skus),
            "skus_own_estimate": int((~skus["pooled"] & skus["elasticity"].notna()).sum()),
            "days": days,
            "rows": len(clicks),
            "fit_s": round(fit_s, 1),
            "peak_rss_mb": peak_rss_mb(),
        },
        as_json,
    )
