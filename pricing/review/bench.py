"""``pricewatch bench review``: the filtered suggestions page at 170,000 suggestions.

A real SQLite file, the real app under uvicorn, real HTTP with a logged-in session. The
baseline, measured in the same run, is the unfiltered first page (default sort), so the ratio
shows what filters, sorts and deep pages cost on top of the plainest page.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import Engine, insert

from pricing.bench.report import emit, json_option, peak_rss_mb
from pricing.store.models import Product, Suggestion

CATEGORIES = [
    "audio",
    "cameras",
    "computers",
    "gaming",
    "garden",
    "home",
    "kitchen",
    "lighting",
    "office",
    "outdoor",
    "phones",
    "sports",
    "tools",
    "toys",
    "tv",
    "wearables",
]
STRATEGIES = ["match-lowest", "beat-lowest-1pct", "margin-floor", "premium-brand", "clearance"]
STATUS_WEIGHTS = {"pending": 70, "approved": 10, "rejected": 8, "superseded": 10, "exported": 2}


def seed_suggestions(
    engine: Engine, n: int, *, seed: int = 1, now: datetime | None = None, batch: int = 10_000
) -> None:
    """``n`` products with one suggestion each, realistic spreads, written with Core executemany."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    brands = [f"Brand{i:03d}" for i in range(300)]
    sites = [f"shop-{i:02d}" for i in range(1, 73)]
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    with engine.begin() as conn:
        for start in range(0, n, batch):
            products, suggestions = [], []
            for i in range(start, min(n, start + batch)):
                price = Decimal(rng.randint(500, 200_000)) / 100
                cost = (price * Decimal(rng.uniform(0.55, 0.9))).quantize(Decimal("0.01"))
                change = rng.gauss(0, 6)
                proposed = max(
                    Decimal("0.50"), (price * Decimal(1 + change / 100)).quantize(Decimal("0.01"))
                )
                products.append(
                    {
                        "id": i + 1,
                        "sku": f"SKU-{i + 1:06d}",
                        "title": f"Product {i + 1} {rng.choice(CATEGORIES)}",
                        "brand": rng.choice(brands),
                        "category": rng.choice(CATEGORIES),
                        "cost": cost,
                        "price": price,
                        "currency": "EUR",
                        "floor": cost,
                        "ceiling": price * 2,
                    }
                )
                suggestions.append(
                    {
                        "product_id": i + 1,
                        "created_at": now - timedelta(minutes=rng.randint(0, 600)),
                        "suggest_run": "bench",
                        "strategy": rng.choice(STRATEGIES),
                        "current_price": price,
                        "proposed_price": proposed,
                        "currency": "EUR",
                        "change_pct": float((proposed - price) / price * 100),
                        "margin_before": float((price - cost) / price * 100),
                        "margin_after": float((proposed - cost) / proposed * 100),
                        "competitor_count": rng.randint(1, 6),
                        "lowest_competitor": rng.choice(sites),
                        "oldest_data_at": now - timedelta(hours=rng.expovariate(1 / 12)),
                        "explanation": "lowest competitor price, minus 1 %, within floor and ceiling",
                        "status": rng.choices(statuses, weights)[0],
                    }
                )
            conn.execute(insert(Product), products)
            conn.execute(insert(Suggestion), suggestions)


def _measure(client, urls: list[str], repeat: int) -> dict[str, list[float]]:
    """Milliseconds per request, by URL; the URLs interleave so load drifts hit them alike."""
    times: dict[str, list[float]] = {url: [] for url in urls}
    for _ in range(repeat):
        for url in urls:
            t0 = time.perf_counter()
            response = client.get(url)
            times[url].append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise click.ClickException(f"{url}: HTTP {response.status_code}")
    return times


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


BASELINE = "/suggestions?status=all"  # unfiltered, default sort: the plainest page
FILTERED = [
    "/suggestions?category=tools",
    "/suggestions?brand=Brand042&status=all",
    "/suggestions?strategy=clearance&change_min=-5&change_max=5",
    "/suggestions?competitor=shop-07&margin_min=20",
    "/suggestions?category=audio&sort=margin&dir=asc",
    "/suggestions?status=approved&sort=age",
    "/suggestions?change_max=-3&sort=change&dir=asc&page=40",
    "/suggestions?status=all&sort=sku&page=2000",
    "/suggestions?category=kitchen&brand=Brand007&strategy=match-lowest",
    "/suggestions?margin_min=10&margin_max=30&sort=price",
]


@click.command("review")
@click.option("--rows", default=170_000, show_default=True, help="Suggestions to create.")
@click.option("--repeat", default=20, show_default=True, help="Rounds over the filter set.")
@json_option
def bench_review(rows: int, repeat: int, as_json: bool) -> None:
    """p50/p95 of the filtered suggestions page over HTTP, against the unfiltered first page."""
    import httpx

    from pricing.review.app import create_app
    from pricing.review.auth import create_user
    from pricing.review.serving import serve_in_thread
    from pricing.store.db import make_engine
    from pricing.store.schema import init_db

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        init_db(engine)
        t0 = time.perf_counter()
        seed_suggestions(engine, rows)
        seed_s = time.perf_counter() - t0
        create_user(engine, "bench", "bench-password", "manager")
        app = create_app(engine, secret_key="bench")
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            token = client.get("/api/csrf").json()["csrf_token"]
            client.post(
                "/login", data={"name": "bench", "password": "bench-password", "csrf_token": token}
            )
            _measure(client, FILTERED + ["/suggestions"], 1)  # warm caches and the page cache
            by_url = _measure(client, [BASELINE, *FILTERED], repeat)
        engine.dispose()
    baseline = by_url.pop(BASELINE)
    filtered = [t for times in by_url.values() for t in times]
    worst = max(by_url, key=lambda u: statistics.median(by_url[u]))
    figures = {
        "p95_ms": round(_pct(filtered, 95), 1),
        "p50_ms": round(_pct(filtered, 50), 1),
        "rows": rows,
        "requests": len(filtered),
        "baseline_p95_ms": round(_pct(baseline, 95), 1),
        "baseline_p50_ms": round(_pct(baseline, 50), 1),
        "ratio_p95": round(_pct(filtered, 95) / _pct(baseline, 95), 2),
        "max_ms": round(max(filtered), 1),
        "slowest_median_ms": round(statistics.median(by_url[worst]), 1),
        "slowest": worst.removeprefix("/suggestions?"),
        "seed_s": round(seed_s, 1),
        "peak_rss_mb": peak_rss_mb(),
    }
    emit("review", figures, as_json)
