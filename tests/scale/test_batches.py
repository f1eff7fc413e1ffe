"""Batches: planning, sharding, and a local cycle (no broker) against the simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crawler.batches import Batch, batch_key, parse_shard, plan_batches, shard_of
from crawler.distributed import ledger
from crawler.distributed.executor import LocalBatchExecutor, plan_cycle
from crawler.siteconfig import find_site_config
from pricing.store.models import CrawlRun, Offer
from pricing.store.views import OfferState
from tests.scale.support import write_configs


def test_shards_are_stable_and_cover_every_url():
    urls = [f"http://127.0.0.9/p/item-{i}.html" for i in range(2000)]
    shards = [shard_of(u, 4) for u in urls]
    assert shards == [shard_of(u, 4) for u in urls]  # the same in every process (no hash())
    assert sorted(set(shards)) == [0, 1, 2, 3]
    assert min(shards.count(k) for k in range(4)) > 400  # roughly even
    assert shard_of("http://a/p/1.html#reviews", 7) == shard_of("http://a/p/1.html", 7)


def test_batch_ids_and_shard_errors():
    batch = Batch("20260101T000000Z", "shop-01", 2, 5)
    assert batch.id == "20260101T000000Z:shop-01:2/5"
    assert batch_key(batch.trigger) == "batch 2/5" and batch_key("schedule") is None
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "x/2", "3", "-1/2"):
        with pytest.raises(ValueError, match="NUMBER/COUNT"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="not in 0..4"):
        Batch("c", "s", 5, 5)


def test_plan_sizes_batches_from_the_store(tmp_path, sim):
    sites = write_configs(sim, tmp_path / "sites")
    listing = find_site_config("shop-01", sites)  # listing mode: 12 category listings
    product = find_site_config("shop-02", sites)  # product mode
    assert len(plan_batches(listing, "c")) == 4  # first cycle: the default
    assert len(plan_batches(listing, "c", known_offers=50_000, per_batch=1000)) == len(
        listing.start.listings
    )  # never more batches than listings to deal out
    assert len(plan_batches(product, "c", known_offers=2500, per_batch=1000)) == 3
    assert len(plan_batches(product, "c", known_offers=10**6, per_batch=10)) == 64  # capped


def test_a_local_cycle_observes_every_offer_once(tmp_path, sim, sqlite_engine):
    """No broker: the same batches run in local child processes."""
    sites = write_configs(sim, tmp_path / "sites")
    url = sqlite_engine.url.render_as_string(hide_password=False)
    batches = plan_cycle(sqlite_engine, ["shop-02"], sites, cycle="local", default_batches=2)
    outcomes = LocalBatchExecutor(url, sites, parallel=2).run_batches(batches)
    assert [o.state for o in outcomes] == ["done", "done"]
    truth = set(sim.market.truth("shop-02")["url"])
    with sqlite_engine.connect() as conn:
        urls = set(conn.scalars(select(Offer.url)))
        observations = conn.execute(select(func.count(OfferState.id))).scalar_one()
        items = conn.execute(select(func.sum(CrawlRun.items))).scalar_one()
    assert urls == truth and observations == len(truth)
    assert items == len(truth)  # the two batches did not overlap
    assert [r.status for r in ledger.cycle_rows(sqlite_engine, "local")] == ["done", "done"]
