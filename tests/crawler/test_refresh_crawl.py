"""Refresh crawls: exactly the planned pages are re-read, and health judges them on rates only.

Real HTTP against the simulator, real SQLite store, the crawl in a child process as the
scheduler runs it. After a full crawl, a refresh of N of its offers must fetch N pages (no
sitemap, no listing, no pagination), observe exactly those N offers and come out healthy,
although a full run of the site saw many more.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crawler.health import RunFacts, evaluate
from crawler.middlewares.refresh import (
    REFRESH_SETTING,
    RefreshUrlsError,
    read_refresh_urls,
    write_refresh_urls,
)
from crawler.runner import crawl_sites
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun, Offer
from shopsim import Market
from shopsim.server import serve_in_thread

N = 12


@pytest.fixture(scope="module")
def full_crawl(tmp_path_factory):
    market = Market.generate(sites=2, products=300, seed=11, faults="none")
    site = market.sites[0].name
    with serve_in_thread(market) as server:
        sites_dir = tmp_path_factory.mktemp("sites")
        server.write_site_configs(sites_dir)
        db_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'store.db'}"
        results = crawl_sites([site], db_url=db_url, sites_dir=sites_dir, processes=1)
        assert results[site].health == "healthy", results[site]
        engine = make_engine(db_url)
        yield site, server, sites_dir, db_url, engine
        engine.dispose()


def test_refresh_run_reads_exactly_the_planned_pages_and_is_healthy(full_crawl, tmp_path):
    site, server, sites_dir, db_url, engine = full_crawl
    with engine.connect() as conn:
        urls = sorted(conn.scalars(select(Offer.url)))
    assert len(urls) > 5 * N  # the full run saw many more offers than the refresh will
    planned = urls[::7][:N]
    before = server.stats(site)["counts"]
    path = write_refresh_urls(tmp_path / "refresh.txt", planned)

    results = crawl_sites(
        [site],
        db_url=db_url,
        sites_dir=sites_dir,
        processes=1,
        trigger="schedule",
        overrides={REFRESH_SETTING: str(path)},
    )
    result = results[site]
    assert result.status == "finished", result
    assert result.health == "healthy", result

    after = server.stats(site)["counts"]
    served = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert served["requests"] == N  # nothing but the planned pages ...
    assert served.get("product", 0) == N  # ... all of them product pages
    assert served.get("listing", 0) == 0 and served.get("sitemap", 0) == 0

    with engine.connect() as conn:
        run = conn.execute(
            select(CrawlRun.id, CrawlRun.kind, CrawlRun.health, CrawlRun.health_reasons)
            .order_by(CrawlRun.id.desc())
            .limit(1)
        ).one()
        observed = set(conn.scalars(select(Offer.url).where(Offer.cur_run_id == run.id)))
        full = conn.scalar(select(CrawlRun.kind).order_by(CrawlRun.id).limit(1))
    assert run.kind == "refresh" and full == "full"
    assert run.health == "healthy", run.health_reasons
    assert observed == set(planned)  # exactly those offers, each confirmed or re-read


def _facts(**kw) -> RunFacts:
    base = dict(
        status="finished", finish_reason="finished", pages=100, parsed_pages=100, items=100,
        offers_seen=100, no_price=0, http_errors=0, parse_failures=0, ban_pages=0,
        truncated_pages=0, given_up=0, suspect_items=0, streak=0, streak_start=None,
    )  # fmt: skip
    return RunFacts(**{**base, **kw})


def test_refresh_runs_are_judged_on_rates_never_on_counts():
    full_history = [_facts(pages=5000, items=5000, offers_seen=5000) for _ in range(3)]
    small = dict(pages=40, parsed_pages=40, items=40, offers_seen=40)
    assert evaluate(_facts(kind="refresh", **small), full_history).health == "healthy"
    # The same numbers as a full run: an offer count collapse.
    verdict = evaluate(_facts(**small), full_history)
    assert verdict.health == "broken" and "usually 5000" in verdict.reasons[0]
    # Rates still count for a refresh: a ban wall is broken whatever the kind.
    banned = evaluate(_facts(kind="refresh", **small, ban_pages=20), full_history)
    assert banned.health == "broken" and "ban/captcha" in banned.reasons[0]
    # A few planned pages gone (404/410) is news about those products, not a crawl error ...
    few_gone = _facts(kind="refresh", **small, http_errors=3, gone=3)
    assert evaluate(few_gone, []).health == "healthy"
    # ... most of them gone means the URLs changed.
    most_gone = evaluate(_facts(kind="refresh", **small, http_errors=30, gone=30), [])
    assert most_gone.health == "broken" and "gone (404/410)" in most_gone.reasons[0]


def test_bad_refresh_file_is_refused_before_anything_runs(tmp_path, full_crawl):
    site, _server, sites_dir, db_url, _engine = full_crawl
    path = tmp_path / "bad.txt"
    path.write_text("# planned\nhttp://127.0.0.2/p/a.html\n\nftp://example.com/x\n")
    with pytest.raises(RefreshUrlsError, match=r"bad.txt: line 4: 'ftp://example.com/x'"):
        read_refresh_urls(path)
    with pytest.raises(RefreshUrlsError, match="line 4"):
        crawl_sites(
            [site], db_url=db_url, sites_dir=sites_dir, overrides={REFRESH_SETTING: str(path)}
        )
    with pytest.raises(RefreshUrlsError, match="missing.txt"):
        read_refresh_urls(tmp_path / "missing.txt")
