"""A crash mid-crawl keeps what was committed, and the run says it was interrupted.

The crawl runs in a real child process (``python -m crawler.runner``, what `pricewatch crawl`
starts), which is then sent SIGTERM (graceful: Scrapy closes the spider with reason
"shutdown") or SIGKILL (nothing runs: the reaper finds the dead pid later).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from pricing.store.db import make_engine
from pricing.store.models import Offer
from pricing.store.runs import get_run, reap_stale_runs
from pricing.store.schema import init_db
from shopsim import Market
from shopsim.server import serve_in_thread
from tests.crawler.support import rewrite_config

SITE = "shop-06"  # product mode: one page per offer, so the crawl lasts a while


@pytest.fixture(scope="module")
def slow_shop(tmp_path_factory):
    market = Market.generate(sites=6, products=600, seed=3, faults="none")
    with serve_in_thread(market) as server:
        sites_dir = tmp_path_factory.mktemp("sites")
        server.write_site_configs(sites_dir)
        rewrite_config(sites_dir, SITE, politeness={"concurrency": 1, "delay": 0.05})
        yield sites_dir


def start_crawl(sites_dir, db_url) -> subprocess.Popen:
    init_db(make_engine(db_url))
    command = [
        sys.executable, "-m", "crawler.runner", "--db", db_url, "--sites-dir", str(sites_dir),
        "--trigger", "test", "--set", "PRICEWATCH_STORE_BATCH=5",
        "--set", "PRICEWATCH_RUN_FLUSH_INTERVAL=0.5", SITE,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=os.getcwd()
    )


def wait_for_items(child: subprocess.Popen, items: int) -> dict:
    for raw in child.stdout:
        line = json.loads(raw)
        if line["items"] >= items:
            return line
    raise AssertionError("the crawl ended before it stored anything")


def offers(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Offer)).scalar()


def test_sigterm_closes_the_run_as_interrupted_and_keeps_the_data(slow_shop, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    child = start_crawl(slow_shop, db_url)
    line = wait_for_items(child, 10)
    child.send_signal(signal.SIGTERM)
    rest = child.communicate(timeout=60)[0].splitlines()
    last = json.loads(rest[-1])
    assert last["state"] == "closed" and last["reason"] == "shutdown"
    engine = make_engine(db_url)
    run = get_run(engine, line["run_id"])
    assert run.status == "interrupted" and run.finish_reason == "shutdown"
    assert run.items >= 10 and run.finished_at is not None
    assert "degraded: run interrupted (shutdown)" in run.health_reasons
    assert offers(engine) == run.items  # everything parsed before the stop was written


def test_sigkill_leaves_committed_batches_and_the_reaper_marks_the_run(slow_shop, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    child = start_crawl(slow_shop, db_url)
    line = wait_for_items(child, 15)
    engine = make_engine(db_url)
    child.kill()
    child.wait(timeout=30)
    run = get_run(engine, line["run_id"])
    assert run.status == "running"  # nobody closed it
    assert offers(engine) >= 10  # batches of 5 committed before the kill are kept
    assert reap_stale_runs(engine) == 1
    run = get_run(engine, line["run_id"])
    assert run.status == "interrupted" and run.finish_reason == "process died"
