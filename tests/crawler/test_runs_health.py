"""Crawl-run records (SQLite and PostgreSQL) and the health verdict."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from crawler.health import RunFacts, evaluate, evaluate_run
from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.models import CrawlRun, RunHealth, RunStatus
from pricing.store.runs import (
    RunCounters,
    finish_run,
    get_run,
    latest_runs,
    list_runs,
    reap_stale_runs,
    set_health,
    start_run,
    trusted_observation,
    update_run,
)
from pricing.store.views import OfferState


def facts(**kw) -> RunFacts:
    base = dict(
        status="finished",
        finish_reason="finished",
        pages=200,
        parsed_pages=200,
        items=1000,
        offers_seen=1000,
        no_price=10,
        http_errors=0,
        parse_failures=0,
        ban_pages=0,
        truncated_pages=0,
        given_up=0,
        suspect_items=0,
        streak=0,
        streak_start=None,
        health="healthy",
    )
    return RunFacts(**{**base, **kw})


def test_run_lifecycle_and_status_from_reason(db_engine):
    site_id = ensure_site(db_engine, "shop-a", "http://127.0.0.2")
    run_id = start_run(db_engine, site_id, "test")
    run = get_run(db_engine, run_id)
    assert run.status == "running" and run.pid is not None and run.trigger == "test"
    update_run(db_engine, run_id, RunCounters(pages=5, items=40))
    assert get_run(db_engine, run_id).items == 40
    status = finish_run(
        db_engine, run_id, finish_reason="finished", counters=RunCounters(pages=9, items=80)
    )
    run = get_run(db_engine, run_id)
    assert status == RunStatus.finished and run.status == "finished" and run.items == 80
    assert run.finished_at is not None

    second = start_run(db_engine, site_id, "test")
    assert finish_run(db_engine, second, finish_reason="shutdown") == RunStatus.interrupted
    third = start_run(db_engine, site_id, "test")
    assert finish_run(db_engine, third, finish_reason="store_error") == RunStatus.failed
    newest = latest_runs(db_engine)
    assert [(run.id, name) for run, name in newest] == [(third, "shop-a")]
    assert [run.id for run, _ in list_runs(db_engine, site="shop-a")] == [third, second, run_id]


def test_reaper_marks_runs_of_dead_processes_interrupted(db_engine):
    site_id = ensure_site(db_engine, "shop-b", "http://127.0.0.3")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = start_run(db_engine, site_id, "test")
    alive = start_run(db_engine, site_id, "test")  # this process: alive
    with db_engine.begin() as conn:
        conn.execute(update(CrawlRun).where(CrawlRun.id == orphan).values(pid=dead.pid))
    assert reap_stale_runs(db_engine) == 1
    assert get_run(db_engine, orphan).status == "interrupted"
    assert get_run(db_engine, orphan).finish_reason == "process died"
    assert get_run(db_engine, alive).status == "running"
    # A run from another host is only reaped once old.
    with db_engine.begin() as conn:
        conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == alive)
            .values(host="elsewhere", started_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert reap_stale_runs(db_engine) == 1
    assert get_run(db_engine, alive).status == "interrupted"


def test_pricing_filter_ignores_states_seen_only_in_broken_runs(db_engine):
    site_id = ensure_site(db_engine, "shop-c", "http://127.0.0.4")
    writer = HistoryWriter(db_engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def crawl(price: str, url: str, at: datetime, health: RunHealth) -> int:
        run_id = start_run(db_engine, site_id, "test")
        record = ObservationRecord(url=url, observed_at=at, price=Decimal(price), currency="EUR")
        writer.write(site_id, run_id, [record])
        finish_run(db_engine, run_id, finish_reason="finished")
        set_health(db_engine, run_id, health, [])
        return run_id

    crawl("10.00", "http://127.0.0.4/p/1", t0, RunHealth.healthy)
    crawl("99.00", "http://127.0.0.4/p/1", t0 + timedelta(hours=1), RunHealth.broken)
    crawl("20.00", "http://127.0.0.4/p/2", t0, RunHealth.broken)
    crawl("20.00", "http://127.0.0.4/p/2", t0 + timedelta(hours=1), RunHealth.degraded)
    crawl("30.00", "http://127.0.0.4/p/3", t0, RunHealth.broken)
    with db_engine.connect() as conn:
        prices = sorted(
            conn.execute(select(OfferState.price).where(trusted_observation())).scalars()
        )
    # 99 was seen only by a broken run; 20 was confirmed by a later degraded run; 30 only broken.
    assert prices == [Decimal("10.00"), Decimal("20.00")]


def test_health_layout_change_mid_run_is_broken_with_reason():
    run = facts(parse_failures=80, streak=80, streak_start=121, items=600, offers_seen=600)
    verdict = evaluate(run, [facts()])
    assert verdict.health == RunHealth.broken
    assert any("stopped parsing at page 121" in r and "last 80 pages" in r for r in verdict.reasons)


def test_health_without_history_and_healthy_run():
    assert evaluate(facts(), []).health == RunHealth.healthy
    assert evaluate(facts(), [facts(), facts(items=1010)]).reasons == []


def test_health_item_drop_ban_errors_and_interruption():
    history = [facts(), facts(), facts()]
    drop = evaluate(facts(items=300, offers_seen=300), history)
    assert drop.health == RunHealth.broken and any("usually 1000" in r for r in drop.reasons)
    dip = evaluate(facts(items=700, offers_seen=700), history)
    assert dip.health == RunHealth.degraded
    banned = evaluate(facts(ban_pages=100), history)
    assert banned.health == RunHealth.broken and any("ban" in r for r in banned.reasons)
    errors = evaluate(facts(http_errors=20), history)
    assert errors.health == RunHealth.degraded
    stopped = evaluate(
        facts(status="interrupted", finish_reason="shutdown", items=100, no_price=1), history
    )
    assert stopped.health == RunHealth.degraded
    assert stopped.reasons == ["degraded: run interrupted (shutdown)"]  # no item-drop alarm
    prices_gone = evaluate(facts(no_price=600), history)
    assert prices_gone.health == RunHealth.broken
    assert any("no price on 60% of offers (usually 1%)" in r for r in prices_gone.reasons)


def test_health_ignores_broken_runs_as_baseline(db_engine):
    site_id = ensure_site(db_engine, "shop-d", "http://127.0.0.5")
    for items, health in ((1000, RunHealth.healthy), (50, RunHealth.broken)):
        run_id = start_run(db_engine, site_id, "test")
        finish_run(
            db_engine,
            run_id,
            finish_reason="finished",
            counters=RunCounters(pages=100, items=items),
            stats={"pricewatch/pages_parsed": 100},
        )
        set_health(db_engine, run_id, health, [])
    run_id = start_run(db_engine, site_id, "test")
    finish_run(
        db_engine,
        run_id,
        finish_reason="finished",
        counters=RunCounters(pages=100, items=980),
        stats={"pricewatch/pages_parsed": 100},
    )
    verdict = evaluate_run(db_engine, run_id)
    assert verdict.health == RunHealth.healthy, verdict.reasons
    assert get_run(db_engine, run_id).health == "healthy"
