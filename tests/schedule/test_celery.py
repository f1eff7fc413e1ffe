"""Scheduled crawls through Celery: the scheduler enqueues, a `pricewatch worker` crawls.

Real Redis (PRICEWATCH_TEST_REDIS_URL), a real worker process, the simulator over HTTP.
A queue of its own keeps this test apart from anything else using the same Redis database.
"""

from __future__ import annotations

import signal
import uuid

import pytest
from sqlalchemy import select

from pricing.store.db import make_engine
from pricing.store.models import CrawlRun
from pricing.store.schema import init_db
from tests.conftest import REDIS_ENV, require_env
from tests.schedule.conftest import write_sites
from tests.schedule.procs import Proc

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_scheduler_enqueues_and_a_worker_crawls(tmp_path, sim):
    broker = require_env(REDIS_ENV)
    queue = f"pricewatch-test-{uuid.uuid4().hex[:8]}"
    db = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    sites = write_sites(sim, tmp_path / "sites", **{"shop-01": {"cadence": {"every": "100h"}}})

    worker = Proc("worker", "--broker", broker, "--queue", queue, "--concurrency", "1")
    scheduler = None
    try:
        worker.wait_for(r"ready\.", timeout=60)
        scheduler = Proc(
            *("--db", str(db), "schedule", "run", "--sites-dir", str(sites), "--no-post"),
            *("--fast-clock", "--queue", queue),
            env={"PRICEWATCH_BROKER_URL": broker},
        )
        done = scheduler.wait_for(r"crawl shop-01: exit 0; run (\d+) finished healthy", timeout=90)
        worker.wait_for(r"Task pricewatch\.crawl_site\[.*\] succeeded", timeout=30)
    finally:
        if scheduler is not None:
            assert scheduler.stop(signal.SIGTERM) == 0, scheduler.output[-2000:]
        worker.stop(signal.SIGTERM)
    with engine.connect() as conn:
        run = conn.execute(select(CrawlRun).where(CrawlRun.id == int(done[1]))).one()
    assert run.trigger == "schedule" and run.status == "finished" and run.items > 0
    assert run.pid not in (scheduler.pid, worker.pid)  # a crawl process of the worker's
