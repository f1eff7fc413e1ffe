"""End to end: real HTTP crawls of the shop simulator into a real SQLite store.

Every markup family (JSON-LD, microdata, OpenGraph, plain HTML with selectors, JSON API, and
pages whose structured data disagrees with what they show) is crawled by the generic spider in
child processes, exactly as `pricewatch crawl` runs it; the store is then compared with the
simulator's truth.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crawler.runner import crawl_sites
from pricing.store.db import make_engine
from pricing.store.models import CrawlRun, Offer, PageValidator, Site
from pricing.store.runs import list_runs
from pricing.store.views import OfferState
from shopsim import Market
from shopsim.server import serve_in_thread
from tests.crawler.support import compare

STRUCTURED = ("jsonld", "microdata", "api")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    market = Market.generate(sites=12, products=900, seed=5, faults="none")
    with serve_in_thread(market) as server:
        sites_dir = tmp_path_factory.mktemp("sites")
        server.write_site_configs(sites_dir)
        yield market, server, sites_dir


@pytest.fixture(scope="module")
def crawled(sim, tmp_path_factory):
    market, _server, sites_dir = sim
    db_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'store.db'}"
    names = [s.name for s in market.sites]
    results = crawl_sites(names, db_url=db_url, sites_dir=sites_dir, processes=2, trigger="test")
    engine = make_engine(db_url)
    yield engine, results, db_url
    engine.dispose()


def test_every_site_crawled_and_recorded(sim, crawled):
    market, server, _ = sim
    engine, results, _ = crawled
    for site in market.sites:
        result = results[site.name]
        assert result.state == "closed" and result.status == "finished", result
        assert result.health == "healthy", (site.name, result)
        assert result.items > 0 and result.pages > 0
        # Polite: robots.txt forbids /cart, /account/, /search; never fetched.
        assert server.stats(site.name)["disallowed_hits"] == []
    runs = {name: run for run, name in list_runs(engine, limit=50)}
    assert set(runs) == {s.name for s in market.sites}
    for name, run in runs.items():
        assert run.status == "finished" and run.finish_reason == "finished"
        assert run.items == results[name].items and run.pages == results[name].pages
        assert run.finished_at is not None and run.health == "healthy"
    with engine.connect() as conn:
        unlinked = conn.execute(
            select(func.count()).select_from(OfferState).where(OfferState.run_id.is_(None))
        ).scalar()
        stored = dict(
            conn.execute(
                select(Site.name, func.count(Offer.id))
                .join(Offer, Offer.site_id == Site.id)  # no foreign key to infer it from
                .group_by(Site.name)
            ).all()
        )
    assert unlinked == 0  # every observation is tied to the run that saw it
    # A page's offers travel as one item (OfferBatch), yet a run's items count offers: on a
    # first crawl of listings, exactly the offers stored (a product-page crawl may reach one
    # offer by two URLs, so at least as many).
    for site in market.sites:
        items = runs[site.name].items
        listing = site.mode == "listing" or site.family == "api"
        assert items == stored[site.name] if listing else items >= stored[site.name], site.name


def test_extracted_prices_and_stock_equal_the_truth(sim, crawled):
    market, _, _ = sim
    engine, _, _ = crawled
    frames = {s.name: compare(market, engine, s.name) for s in market.sites}
    total = sum(len(f) for f in frames.values())
    correct = sum(int(f.ok.sum()) for f in frames.values())
    wrong = {
        name: f.loc[~f.ok, ["url", "price", "cur_price", "availability", "cur_availability"]]
        for name, f in frames.items()
        if (~f.ok).any()
    }
    assert total > 800
    assert correct / total >= 0.995, wrong
    for site in market.sites:
        if site.family in STRUCTURED:  # structured data states price, currency and stock
            assert frames[site.name].ok.all(), (site.name, wrong.get(site.name))


def test_call_for_price_is_stored_as_missing_never_zero(sim, crawled):
    market, _, _ = sim
    engine, _, _ = crawled
    calls = 0
    for site in market.sites:
        frame = compare(market, engine, site.name)
        call = frame[frame.shown_price_kind == "call"]
        calls += len(call)
        assert call.cur_price.isna().all(), call[["url", "cur_price"]]
        assert (frame.cur_price.dropna() > 0).all()
    assert calls > 0  # the market does have "Call for price" offers


def test_second_crawl_revalidates_with_304s(sim, crawled):
    market, _, sites_dir = sim
    engine, first, db_url = crawled
    with engine.connect() as conn:
        rows_before = conn.execute(select(func.count()).select_from(OfferState)).scalar()
        validators = conn.execute(select(func.count()).select_from(PageValidator)).scalar()
    assert validators > 0
    names = [s.name for s in market.sites]
    again = crawl_sites(names, db_url=db_url, sites_dir=sites_dir, processes=2, trigger="test")
    for name in names:
        assert again[name].status == "finished", again[name]
        assert again[name].health in ("healthy", "degraded"), again[name]
    not_modified = sum(r.not_modified for r in again.values())
    assert not_modified > 0
    with engine.connect() as conn:
        rows_after = conn.execute(select(func.count()).select_from(OfferState)).scalar()
        runs = conn.execute(select(CrawlRun.stats).order_by(CrawlRun.id.desc()).limit(12)).all()
    # Nothing changed in the simulated market: no new history rows, only extended ones.
    assert rows_after == rows_before
    touched = sum(stats.get("pricewatch/offers_touched", 0) for (stats,) in runs)
    assert touched > 0
    # Every offer is still refreshed, whether by a 200 or a 304.
    for site in market.sites:
        frame = compare(market, engine, site.name)
        assert frame.ok.mean() >= 0.99, site.name


@pytest.mark.postgres
def test_crawl_into_postgresql(sim, pg_engine, pg_database_url):
    market, _, sites_dir = sim
    names = ["shop-01", "shop-05"]  # JSON-LD listings and the JSON API
    results = crawl_sites(names, db_url=pg_database_url, sites_dir=sites_dir, processes=1)
    assert all(results[name].status == "finished" for name in names), results
    for name in names:
        frame = compare(market, pg_engine, name)
        assert frame.ok.all(), frame.loc[~frame.ok, ["url", "price", "cur_price"]]
    runs = {name: run for run, name in list_runs(pg_engine)}
    assert set(runs) == set(names) and all(r.health == "healthy" for r in runs.values())
