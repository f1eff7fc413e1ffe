"""Freshness between full crawls: the scheduler plans a refresh and crawls exactly those pages.

Real parts throughout: the simulator over HTTP, a real SQLite store, real crawl processes. The
executor is the real LocalExecutor, subclassed only to note which URLs each crawl was given.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crawler.middlewares.refresh import read_refresh_urls
from crawler.runner import crawl_sites
from crawler.siteconfig import SiteConfigError, parse_site_config
from pricing.freshness import plan_refresh
from pricing.schedule import LocalExecutor, Scheduler, ScheduleSettings
from pricing.schedule.listing import list_jobs
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun, Offer
from pricing.store.schema import init_db
from tests.schedule.conftest import write_sites

SITE = "shop-01"
PAGES = 15
CADENCE = {"cadence": {"every": "6h", "refresh": {"every": "1h", "pages": PAGES}}}


class NotingExecutor(LocalExecutor):
    """The real local executor; also keeps the URL list each refresh crawl was given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refreshes: list[list[str]] = []

    def run(self, request):
        if request.refresh_file is not None:
            self.refreshes.append(read_refresh_urls(request.refresh_file))
        return super().run(request)


@pytest.fixture
def crawled_once(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    init_db(engine)
    sites = write_sites(sim, tmp_path / "sites", **{SITE: CADENCE})
    results = crawl_sites([SITE], db_url=url, sites_dir=sites, processes=1, trigger="schedule")
    assert results[SITE].health == "healthy", results[SITE]
    yield url, engine, sites
    engine.dispose()


def test_scheduler_refreshes_exactly_the_planned_urls(crawled_once, sim):
    url, engine, sites = crawled_once
    executor = NotingExecutor(engine, url, sites)
    scheduler = Scheduler(
        engine, ScheduleSettings(db_url=url, sites_dir=sites, post_steps=False), executor
    )
    now = datetime.now(UTC)
    # What the cycle should re-read: its budget (cadence.refresh.pages), 24 refreshes a day.
    planned = plan_refresh(engine, SITE, budget=PAGES, cycles_per_day=24, now=now).urls
    assert len(planned) == PAGES
    served_before = sim.stats(SITE)["requests"]

    record = scheduler.refresh_site(SITE, now=now)

    assert executor.refreshes == [planned]  # the crawl was given the plan, in its order
    assert record is not None and record.kind == "refresh" and record.planned == PAGES
    assert record.outcome.ok and len(record.outcome.run_ids) == 1
    assert sim.stats(SITE)["requests"] - served_before == PAGES  # those pages, nothing else
    run_id = record.outcome.run_ids[0]
    with engine.connect() as conn:
        run = conn.execute(
            select(CrawlRun.kind, CrawlRun.health, CrawlRun.health_reasons).where(
                CrawlRun.id == run_id
            )
        ).one()
        observed = set(conn.scalars(select(Offer.url).where(Offer.cur_run_id == run_id)))
    assert run.kind == "refresh" and run.health == "healthy", run.health_reasons
    assert observed == set(planned)


def test_refresh_job_is_stored_beside_the_full_crawl_job(tmp_path, sim):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    init_db(engine)
    sites = write_sites(sim, tmp_path / "sites", **{SITE: CADENCE, "shop-02": {}})
    scheduler = Scheduler(engine, ScheduleSettings(db_url=url, sites_dir=sites, scale=3600))
    scheduler.start()
    scheduler.stop()
    rows = {row.site: row for row in list_jobs(engine)}
    assert rows[SITE].refresh == "refresh every 1:00:00, fast clock x3600, 15 pages"
    assert rows[SITE].next_refresh is not None and rows[SITE].next_run is not None
    assert rows["shop-02"].refresh is None  # no cadence.refresh: full crawls only
    engine.dispose()


@pytest.mark.parametrize(
    ("refresh", "message"),
    [
        ({"every": "6h", "pages": 10}, "refresh.every (6:00:00) must be shorter than every"),
        ({"every": "1h"}, "cadence.refresh.pages: required key is missing"),
        ({"every": "1h", "pages": 0}, "cadence.refresh.pages: Input should be greater than"),
        ({"every": "soon", "pages": 5}, "'soon' is not a duration like 90s"),
    ],
)
def test_refresh_cadence_errors_name_the_key(refresh, message):
    data = {
        "name": "shop",
        "base_url": "http://127.0.0.2",
        "start": {"listings": ["/c/1"]},
        "cadence": {"every": "6h", "refresh": refresh},
    }
    with pytest.raises(SiteConfigError, match="shop.yaml: cadence") as error:
        parse_site_config(data, "sites/shop.yaml")
    assert message in str(error.value)
