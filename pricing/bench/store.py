"""``pricewatch bench store``: how fast one crawl cycle lands in the store.

Cycle 1 creates N offers, each with its first state (current: kept in the offers row);
cycle 2 sees the same N offers a day later with 10% of them changed (price, stock or rank), so
it archives ~N/10 replaced states into ``observations`` and extends the rest. History rows are
counted in the view ``offer_states`` (replaced plus current states): N after cycle 1, 1.1 N
after cycle 2. Both run on SQLite (a fresh file) and PostgreSQL (a throw-away database). The
baseline, measured in the same run, is the plain ORM way (``session.add_all`` of Offer objects
with their current state) on a subset of cycle 1, on SQLite.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy import Engine, func, select

from pricing.bench.report import emit, json_option, peak_rss_mb
from pricing.store.db import make_engine, scratch_database, session_scope
from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.models import Observation, Offer
from pricing.store.schema import init_db
from pricing.store.views import OfferState

PG_ENV = "PRICEWATCH_TEST_PG_URL"
AVAIL = ("in_stock", "in_stock", "in_stock", "out_of_stock", "backorder")


def make_cycles(n: int, seed: int = 1) -> tuple[list[ObservationRecord], list[ObservationRecord]]:
    """Two cycles of ``n`` observations; the second differs in 10% of offers."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    step = timedelta(seconds=3600 / n)  # a cycle's pages are fetched over an hour
    first = []
    for i in range(n):
        first.append(
            ObservationRecord(
                url=f"https://shop-{i % 72:02d}.example/p/{i:07d}-product-{i}",
                observed_at=start + i * step,
                title=f"Product {i}",
                brand=f"Brand {i % 300}",
                gtin=None,
                mpn=f"MPN-{i}",
                price=Decimal(rng.randrange(199, 99999)) / 100,
                regular_price=None,
                currency="USD",
                availability=rng.choice(AVAIL),
                stock_quantity=rng.randrange(0, 50),
                review_count=rng.randrange(0, 5000),
                rating=round(rng.uniform(1, 5), 1),
                rank=i % 500,
                price_source="jsonld",
                confidence=0.98,
            )
        )
    second = []
    changed = set(rng.sample(range(n), n // 10))
    for i, rec in enumerate(first):
        new = ObservationRecord(**{f: getattr(rec, f) for f in ObservationRecord.__slots__})
        new.observed_at = rec.observed_at + timedelta(days=1)
        if i in changed:
            kind = i % 3
            if kind == 0:
                new.price = (rec.price * Decimal("0.95")).quantize(Decimal("0.01"))
            elif kind == 1:
                new.stock_quantity = (rec.stock_quantity or 0) + 7
            else:
                new.rank = (rec.rank or 0) + 1000
        second.append(new)
    return first, second


def _rows(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _server_cpu(engine: Engine) -> dict[int, float] | None:
    """CPU seconds of each PostgreSQL backend on this database (None unless local)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).scalars()
        cpu = {}
        try:
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:  # a remote server, or no /proc
            return None
    return cpu


def run_cycles(engine: Engine, cycles) -> dict[str, float]:
    init_db(engine)
    site_id = ensure_site(engine, "bench", "https://bench.example")
    writer = HistoryWriter(engine)
    out: dict[str, float] = {}
    for n, records in enumerate(cycles, 1):
        server0 = _server_cpu(engine)
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = writer.write(site_id, None, records)
        out[f"cycle{n}_s"] = time.perf_counter() - t0
        # CPU seconds are less sensitive than wall time to other work on the machine. This
        # process's CPU includes SQLite; a local PostgreSQL server's is counted apart.
        out[f"cycle{n}_cpu_s"] = time.process_time() - cpu0
        server1 = _server_cpu(engine)
        if server0 is not None and server1 is not None:
            out[f"cycle{n}_server_cpu_s"] = sum(
                cpu - server0.get(pid, 0.0) for pid, cpu in server1.items()
            )
        out[f"cycle{n}_rows_per_s"] = len(records) / out[f"cycle{n}_s"]
        out[f"cycle{n}_inserted"] = result.rows_inserted
        out[f"history_rows_after_cycle{n}"] = _rows(engine, OfferState)
        out[f"archived_rows_after_cycle{n}"] = _rows(engine, Observation)  # replaced states
    return out


def orm_baseline(engine: Engine, records: list[ObservationRecord]) -> float:
    """Rows/s of the plain ORM way: add_all Offer objects with their current state, flush."""
    init_db(engine)
    site_id = ensure_site(engine, "baseline", "https://baseline.example")
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        session.add_all(
            Offer(
                site_id=site_id,
                url=r.url,
                title=r.title,
                brand=r.brand,
                mpn=r.mpn,
                first_seen=r.observed_at,
                last_seen=r.observed_at,
                current_observation_id=n,
                cur_valid_from=r.observed_at,
                cur_price=r.price,
                cur_currency=r.currency,
                cur_availability=r.availability,
                cur_stock_quantity=r.stock_quantity,
                cur_review_count=r.review_count,
                cur_rating=r.rating,
                cur_rank=r.rank,
                cur_price_source=r.price_source,
                cur_confidence=r.confidence,
            )
            for n, r in enumerate(records, 1)
        )
        session.flush()
    return len(records) / (time.perf_counter() - t0)


@click.command("store")
@click.option("--rows", default=170_000, show_default=True, help="Offers per cycle.")
@click.option(
    "--baseline-rows", default=20_000, show_default=True, help="Rows for the ORM baseline."
)
@click.option(
    "--pg-url",
    envvar=PG_ENV,
    help=f"PostgreSQL server URL (default: ${PG_ENV}); a throw-away database is created on it.",
)
@json_option
def bench_store(rows: int, baseline_rows: int, pg_url: str | None, as_json: bool) -> None:
    """Write two crawl cycles (the second 10% changed) on SQLite and PostgreSQL."""
    cycles = make_cycles(rows)
    figures: dict[str, object] = {"rows": rows}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        res = run_cycles(sqlite, cycles)
        sqlite.dispose()
        baseline_engine = make_engine(f"sqlite:///{Path(tmp) / 'baseline.db'}")
        baseline = orm_baseline(baseline_engine, cycles[0][:baseline_rows])
        baseline_engine.dispose()
    _report("sqlite", res)
    figures.update({f"sqlite_{k}": v for k, v in res.items() if not k.endswith("inserted")})
    if pg_url:
        with scratch_database(pg_url, prefix="pricewatch_bench") as pg:
            pres = run_cycles(pg, cycles)
        _report("postgresql", pres)
        figures.update({f"pg_{k}": v for k, v in pres.items() if not k.endswith("inserted")})
    else:
        click.echo(f"PostgreSQL skipped: give --pg-url or set {PG_ENV}")
    figures["history_rows_after_cycle2"] = res["history_rows_after_cycle2"]
    figures["baseline_orm_sqlite_rows_per_s"] = baseline
    figures["ratio"] = res["cycle1_rows_per_s"] / baseline
    figures["peak_rss_mb"] = peak_rss_mb()
    # Other work on the machine slows every figure: say how busy it was.
    figures["loadavg_1m"] = os.getloadavg()[0]
    click.echo(f"baseline (ORM add_all, {baseline_rows} rows, SQLite): {baseline:,.0f} rows/s")
    emit("store", figures, as_json)


def _report(db: str, res: dict[str, float]) -> None:
    for n in (1, 2):
        click.echo(
            f"{db:10} cycle {n}: {res[f'cycle{n}_s']:.2f} s, {res[f'cycle{n}_rows_per_s']:,.0f} rows/s, "
            f"{res[f'cycle{n}_inserted']:,} states added, "
            f"{res[f'history_rows_after_cycle{n}']:,} history states in total, "
            f"{res[f'archived_rows_after_cycle{n}']:,} of them archived"
        )
