"""The scheduler against the simulator, as ops run it: `pricewatch schedule run` in a process.

A fast clock compresses the sites' cadences (an hour passes in a second), so the schedule's
cycles happen within seconds while every crawl is a real Scrapy crawl over HTTP into a real
SQLite store, followed by real matching and suggestions.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from sqlalchemy import func, select, text

from pricing.schedule.daemon import JOBS_TABLE
from pricing.schedule.listing import list_jobs
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun, Site, Suggestion
from pricing.store.schema import init_db
from pricing.store.views import OfferState
from tests.schedule.conftest import write_sites
from tests.schedule.procs import Proc, run
from tests.webhook import Receiver

pytestmark = pytest.mark.slow

DONE = r"crawl {site}: exit 0; run (\d+) finished"


def _runs(engine, site: str) -> list[CrawlRun]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(CrawlRun)
                .join(Site, Site.id == CrawlRun.site_id)
                .where(Site.name == site)
                .order_by(CrawlRun.id)
            )
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _pending(engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Suggestion.product_id, Suggestion.proposed_price).where(
                Suggestion.status == "pending"
            )
        ).all()
    return {product: f"{price:.2f}" for product, price in rows}


def _done_runs(proc: Proc, site: str) -> list[int]:
    pattern = re.compile(DONE.format(site=site))
    return [int(m[1]) for line in list(proc.lines) if (m := pattern.search(line))]


def _wait(condition, timeout: float, what: str, proc: Proc):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; output:\n{proc.output[-4000:]}")
        if proc.popen.poll() is not None:
            raise AssertionError(f"scheduler exited {proc.popen.returncode}:\n{proc.output}")
        time.sleep(0.1)


def _store(tmp_path, sim, *, catalog: bool = True):
    db = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    if not catalog:
        return db, engine
    from pricing.catalog import import_catalog

    catalog = tmp_path / "catalog.csv"
    sim.market.catalog_frame().to_csv(catalog, index=False)
    import_catalog(engine, catalog)
    return db, engine


def test_fast_clock_cycles_each_site_at_its_cadence_and_suggestions_follow_prices(tmp_path, sim):
    db, engine = _store(tmp_path, sim)
    receiver = Receiver()
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(
        yaml.safe_dump(
            {
                "group_window": "1s",
                "channels": [
                    {
                        "name": "pricing",
                        "urls": [receiver.url("pricing")],
                        "kinds": ["price_move", "review_waiting"],
                        "price_move_pct": 1,
                    }
                ],
            }
        )
    )
    sites = write_sites(
        sim,
        tmp_path / "sites",
        **{"shop-01": {"cadence": {"every": "4h"}}, "shop-02": {"cadence": {"every": "60h"}}},
    )
    proc = Proc(
        *("--db", str(db), "schedule", "run", "--sites-dir", str(sites), "--fast-clock"),
        *("--alerts", str(alerts)),
    )
    try:
        _wait(
            lambda: _done_runs(proc, "shop-01") and _done_runs(proc, "shop-02"),
            90,
            "first cycle",
            proc,
        )
        before = _pending(engine)
        assert before, "the first cycle produced no suggestions"

        # The market moves three days on; the next crawls must see it and suggestions follow.
        last_seen = max(_done_runs(proc, "shop-01"))
        reply = httpx.post(f"{sim.base_url('shop-01')}/__sim/advance", params={"hours": 72})
        assert reply.status_code == 200  # one clock for the whole market
        advanced = datetime.now(UTC)

        def crawled_after_advance() -> bool:
            done = _done_runs(proc, "shop-01")
            return any(
                r.id > last_seen and _aware(r.started_at) > advanced and r.id in done
                for r in _runs(engine, "shop-01")
            )

        _wait(crawled_after_advance, 90, "crawls after the market moved", proc)
        after = _pending(engine)
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        assert changed, "suggestions did not change after competitors' prices changed"

        _wait(lambda: len(_done_runs(proc, "shop-01")) >= 3, 90, "three cycles of shop-01", proc)
    finally:
        assert proc.stop(signal.SIGTERM) == 0, proc.output[-3000:]
        receiver.server.shutdown()

    # Alerts went out grouped: one message per burst, not one per finding or per crawl.
    messages = receiver.messages("pricing")
    assert messages and any("wait for review" in m for m in messages)
    assert any("Competitor price moves" in m for m in messages), messages
    crawls = sum(len(_done_runs(proc, s)) for s in ("shop-01", "shop-02"))
    assert len(messages) < crawls

    runs = {s: _runs(engine, s) for s in ("shop-01", "shop-02")}
    # Each site at its own cadence: every 4h (4 s here) ran three times or more while the
    # every-60h site ran once, and its next run is 60 s after its first.
    assert len(runs["shop-01"]) >= 3 and len(runs["shop-02"]) == 1, proc.output[-3000:]
    jobs = {row.site: row for row in list_jobs(engine)}
    first = _aware(runs["shop-02"][0].started_at)
    # (the run records its start once the crawl process is up, a few seconds after the fire)
    assert 50 < (jobs["shop-02"].next_run - first).total_seconds() <= 60
    assert jobs["shop-01"].next_run > _aware(runs["shop-01"][-1].started_at)
    listing = run("--db", str(db), "schedule", "list").stdout
    assert "scheduler: not running" in listing
    assert re.search(r"shop-01 +every 4:00:00, fast clock x3600 .* finished healthy", listing)
    for site, site_runs in runs.items():
        assert {r.trigger for r in site_runs} == {"schedule"}
        assert all(r.status != "running" for r in site_runs), site
        # Never two crawls of one site at once.
        for previous, current in zip(site_runs, site_runs[1:], strict=False):
            assert _aware(current.started_at) >= _aware(previous.finished_at), (site, previous.id)
    # No cycle errored in matching or suggesting.
    assert "error:" not in proc.output


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """An empty store's URL and engine: an SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        db, engine = _store(tmp_path, None, catalog=False)
        return str(db), engine
    engine = request.getfixturevalue("pg_engine")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {JOBS_TABLE}"))  # jobs of an earlier test
    return engine.url.render_as_string(hide_password=False), engine


def test_sigkill_mid_crawl_loses_nothing_and_the_schedule_continues(tmp_path, sim, store_url):
    db, engine = store_url
    slow = {"politeness": {"concurrency": 1, "delay": 0.2}, "cadence": {"every": "2h"}}
    sites = write_sites(sim, tmp_path / "sites", **{"shop-01": slow})
    args = [
        "--db",
        str(db),
        "schedule",
        "run",
        "--sites-dir",
        str(sites),
        "--fast-clock",
        "--no-post",
    ]
    args += ["--set", "PRICEWATCH_STORE_BATCH=5"]  # commit every few offers

    first = Proc(*args)
    try:

        def committed_mid_crawl():
            with engine.connect() as conn:
                return conn.execute(
                    select(CrawlRun.id, func.count(OfferState.id))
                    .join(OfferState, OfferState.run_id == CrawlRun.id)
                    .where(CrawlRun.status == "running")
                    .group_by(CrawlRun.id)
                ).first()

        _wait(committed_mid_crawl, 60, "observations committed by a running crawl", first)
        killed_run, _ = committed_mid_crawl()
        with engine.connect() as conn:
            kept = set(conn.scalars(select(OfferState.id)))
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)

    second = Proc(*args)
    try:
        _wait(
            lambda: any(r > killed_run for r in _done_runs(second, "shop-01")),
            90,
            "a crawl after restart",
            second,
        )
        with engine.connect() as conn:
            assert (
                conn.scalar(select(CrawlRun.status).where(CrawlRun.id == killed_run))
                == "interrupted"
            )
            assert kept <= set(conn.scalars(select(OfferState.id))), (
                "committed observations were lost"
            )
        # The schedule goes on: another crawl starts; SIGTERM then stops it cleanly, recorded.
        finished = max(_done_runs(second, "shop-01"))
        _wait(
            lambda: any(
                r.id > finished and r.status == "running" for r in _runs(engine, "shop-01")
            ),
            60,
            "the next crawl",
            second,
        )
    finally:
        assert second.stop(signal.SIGTERM) == 0, second.output[-3000:]
    last = _runs(engine, "shop-01")[-1]
    assert last.id > finished and last.status == "interrupted", (
        last.id,
        last.status,
        last.finish_reason,
    )
    assert all(r.status != "running" for r in _runs(engine, "shop-01"))
