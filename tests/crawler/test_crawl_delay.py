"""robots.txt's Crawl-delay is obeyed by default, even when the site's YAML asks for no delay.

Real HTTP against the simulator: one shop in eight has ``Crawl-delay: 0.25`` in its robots.txt.
The pace is checked from the shop's side (when each request arrived), never on total wall time.
"""

from __future__ import annotations

import statistics

import pytest
from sqlalchemy import select

from crawler.extensions.crawl_delay import STAT_DELAY, STAT_ROBOTS
from crawler.runner import crawl_sites
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun
from shopsim import Market
from shopsim.server import serve_in_thread
from tests.crawler.support import rewrite_config

PAGES = 10


@pytest.fixture(scope="module")
def delayed_shop(tmp_path_factory):
    market = Market.generate(sites=8, products=400, seed=3, faults="none")
    shop = next(s for s in market.sites if s.crawl_delay)
    with serve_in_thread(market) as server:
        sites_dir = tmp_path_factory.mktemp("sites")
        server.write_site_configs(sites_dir)
        yield shop, server, sites_dir


def _crawl(tmp_path, shop, sites_dir, pages=PAGES, **politeness) -> dict:
    rewrite_config(sites_dir, shop.name, politeness=politeness, max_pages=pages)
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    results = crawl_sites([shop.name], db_url=db_url, sites_dir=sites_dir, processes=1)
    assert results[shop.name].status == "finished", results[shop.name]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stats = conn.scalar(select(CrawlRun.stats).order_by(CrawlRun.id.desc()).limit(1))
    engine.dispose()
    return stats


def test_robots_crawl_delay_wins_over_a_smaller_configured_delay(tmp_path, delayed_shop):
    shop, server, sites_dir = delayed_shop
    assert shop.crawl_delay == 0.25
    before = len(server.stats(shop.name)["arrivals"])
    stats = _crawl(tmp_path, shop, sites_dir, delay=0, obey_robots=True)

    assert stats[STAT_ROBOTS] == pytest.approx(0.25)
    assert stats[STAT_DELAY] == pytest.approx(0.25)  # the slot's delay: max(0, 0.25)
    arrivals = server.stats(shop.name)["arrivals"][before:]
    assert len(arrivals) >= 5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # Crawl-delay is a minimum: the slot keeps it without Scrapy's ±50% jitter (which made gaps
    # of 0.125 s). Arrival stamps can shift a little on a busy machine, so individual gaps get
    # some slack; their mean cannot drift (without the delay, 8 concurrent requests would
    # arrive within milliseconds of each other).
    assert statistics.mean(gaps) >= 0.25 - 0.01, gaps
    assert min(gaps) >= 0.25 - 0.06, gaps


def test_opting_out_of_robots_keeps_only_the_configured_delay(tmp_path, delayed_shop):
    shop, _server, sites_dir = delayed_shop
    stats = _crawl(tmp_path, shop, sites_dir, pages=3, delay=0, obey_robots=False)
    assert STAT_ROBOTS not in stats  # the extension was off: robots.txt not consulted
    assert stats.get(STAT_DELAY) is None
    assert "robotstxt/request_count" not in stats


def test_a_larger_configured_delay_is_kept(tmp_path, delayed_shop):
    shop, _server, sites_dir = delayed_shop
    stats = _crawl(tmp_path, shop, sites_dir, pages=3, delay=0.3, obey_robots=True)
    assert stats[STAT_ROBOTS] == pytest.approx(0.25)
    assert stats[STAT_DELAY] == pytest.approx(0.3)
