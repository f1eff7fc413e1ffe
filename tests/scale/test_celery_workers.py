"""Two real Celery workers crawl one cycle of the simulator into PostgreSQL; one is SIGKILLed.

Real Redis (PRICEWATCH_TEST_REDIS_URL) with a key prefix and queue of this test run's own (so
other tests' workers and keys are untouched), real PostgreSQL (the session's throw-away
database), real `pricewatch worker` processes, the shop simulator over HTTP.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from sqlalchemy import func, select

from crawler.distributed import ledger
from crawler.distributed.executor import CeleryBatchExecutor, plan_cycle
from pricing.store.models import CrawlRun, Offer, Site
from pricing.store.views import OfferState
from tests.conftest import REDIS_ENV, require_env
from tests.scale.support import Worker, write_configs

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

LEASE = 5  # seconds: a dead worker's batch may be claimed again after this
VISIBILITY = 6  # seconds: Redis re-delivers an unacknowledged task after this
FAST_FLUSH = {"PRICEWATCH_RUN_FLUSH_INTERVAL": 0.5}  # runs show their progress quickly


@pytest.fixture
def broker(monkeypatch):
    """The test Redis, with this run's key prefix; only those keys are deleted afterwards."""
    url = require_env(REDIS_ENV)
    prefix = f"pwtest-{uuid.uuid4().hex[:10]}:"
    env = {
        "PRICEWATCH_BROKER_PREFIX": prefix,
        "PRICEWATCH_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "PRICEWATCH_BATCH_LEASE": str(LEASE),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield url, prefix, env
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))  # queue, results, politeness
    if keys:
        client.delete(*keys)
    client.close()


def _site_counts(engine, site: str) -> tuple[set[str], int]:
    with engine.connect() as conn:
        urls = set(
            conn.scalars(
                select(Offer.url).join(Site, Site.id == Offer.site_id).where(Site.name == site)
            )
        )
        observations = conn.execute(
            select(func.count(OfferState.id))
            .join(Offer, Offer.id == OfferState.offer_id)
            .join(Site, Site.id == Offer.site_id)
            .where(Site.name == site)
        ).scalar_one()
    return urls, observations


def test_two_workers_one_killed_mid_batch(tmp_path, sim, pg_engine, pg_database_url, broker):
    url, prefix, env = broker
    queue = f"pricewatch-test-{uuid.uuid4().hex[:8]}"
    sites_dir = write_configs(sim, tmp_path / "sites")
    workers = [
        Worker("--broker", url, "--queue", queue, "--concurrency", "1", env=env) for _ in range(2)
    ]
    try:
        for worker in workers:
            worker.wait_for(r"ready\.", timeout=60)
        executor = CeleryBatchExecutor(
            pg_database_url, sites_dir, broker_url=url, queue=queue, crawl_settings=FAST_FLUSH
        )
        cycle = f"test-{uuid.uuid4().hex[:8]}"
        batches = plan_cycle(
            pg_engine, ["shop-01", "shop-02"], sites_dir, cycle=cycle, default_batches=2
        )
        assert [(b.site, b.number) for b in batches] == [
            ("shop-01", 0),
            ("shop-01", 1),
            ("shop-02", 0),
            ("shop-02", 1),
        ]
        results = executor.submit(batches)

        # Wait until a product-page batch of shop-02 is crawling, then kill its worker.
        victim_batch, victim, crawl_pid = None, None, None
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            for row in ledger.cycle_rows(pg_engine, cycle, "shop-02"):
                items, pid = _running_crawl(pg_engine, row) if row.status == "running" else (0, 0)
                if items > 0:
                    victim_batch, crawl_pid = row.batch_no, pid
                    victim = next(w for w in workers if f"pricewatch-{w.pid}@" in row.worker)
                    break
            time.sleep(0.1)
        assert victim is not None, "no shop-02 batch was seen running"
        survivor = next(w for w in workers if w is not victim)
        # SIGKILL the worker as a machine dies: the Celery main and pool processes, and the
        # crawl process (a session of its own) of the batch it was running.
        victim.kill(crawl_pid)

        replies = [r.get(timeout=60, propagate=True) for r in results]
        # The same cycle enqueued again (a restarted scheduler, say): nothing runs twice.
        runs_before = _run_count(pg_engine)
        executor.submit(batches)
        survivor.wait_for(r"succeeded in .*'state': 'skipped'", timeout=30, count=len(batches))
        assert _run_count(pg_engine) == runs_before
    finally:
        for worker in workers:
            worker.stop()

    assert {r["state"] for r in replies} == {"done"}, replies
    rows = ledger.cycle_rows(pg_engine, cycle)
    assert [(r.site, r.batch_no, r.status) for r in rows] == [
        (b.site, b.number, "done") for b in batches
    ]
    killed = next(r for r in rows if r.site == "shop-02" and r.batch_no == victim_batch)
    assert killed.attempts == 2 and f"pricewatch-{survivor.pid}@" in killed.worker

    with pg_engine.connect() as conn:
        runs = conn.execute(
            select(
                Site.name.label("site"),
                CrawlRun.trigger,
                CrawlRun.status,
                CrawlRun.items,
                CrawlRun.stats,
            ).join(Site, Site.id == CrawlRun.site_id)
        ).all()
    # The killed attempt's run is recorded as interrupted, and every batch has one finished run.
    victim_trigger = next(
        b.trigger for b in batches if b.site == "shop-02" and b.number == victim_batch
    )
    killed_runs = [r for r in runs if r.site == "shop-02" and r.trigger == victim_trigger]
    assert sorted(r.status for r in killed_runs) == ["finished", "interrupted"]
    finished = [r for r in runs if r.status == "finished"]
    assert sorted((r.site, r.trigger) for r in finished) == sorted(
        (b.site, b.trigger) for b in batches
    )

    for site in ("shop-01", "shop-02"):
        truth = sim.market.truth(site)
        expected = set(truth["url"])
        urls, observations = _site_counts(pg_engine, site)
        assert urls == expected  # nothing lost, nothing extra
        assert observations == len(expected)  # one state per offer: nothing duplicated
        site_runs = [r for r in finished if r.site == site]
        # The batches partition the site: finished runs together saw every offer exactly once.
        assert sum(r.items for r in site_runs) == len(expected)
    # The site's politeness was shared through Redis by both workers' crawls.
    assert all((r.stats or {}).get("pricewatch/politeness/shared_slots", 0) > 0 for r in finished)


def _running_crawl(engine, row) -> tuple[int, int | None]:
    """Items the batch's crawl has stored so far (runs flush every 0.5 s here) and its pid."""
    trigger = f"batch {row.batch_no}/{row.batch_count} {row.cycle}"
    with engine.connect() as conn:
        found = conn.execute(
            select(CrawlRun.items, CrawlRun.pid)
            .join(Site, Site.id == CrawlRun.site_id)
            .where(Site.name == row.site, CrawlRun.trigger == trigger, CrawlRun.status == "running")
        ).first()
    return (found.items or 0, found.pid) if found else (0, None)


def _run_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count(CrawlRun.id))).scalar_one()
