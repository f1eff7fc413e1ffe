"""Alerts reach a real local webhook receiver (apprise json://), grouped and de-duplicated."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from pricing.alerts import AlertDispatcher, AlertsConfigError, load_alerts_config
from pricing.alerts.config import parse_alerts_config
from pricing.store.db import session_scope
from pricing.store.history import HistoryWriter, ObservationRecord
from pricing.store.models import (
    CrawlRun,
    Match,
    Offer,
    Product,
    Site,
    Suggestion,
)
from tests.webhook import Receiver

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def _observe(engine, offer_id, at, price, availability="in_stock", run=None, suspect=False):
    """The offer is seen at ``at`` in this state, stored as a crawl stores it."""
    with engine.connect() as conn:
        site_id, url = conn.execute(
            select(Offer.site_id, Offer.url).where(Offer.id == offer_id)
        ).one()
    record = ObservationRecord(
        url=url, observed_at=at, price=Decimal(price), currency="USD",
        availability=availability, suspect=suspect,
    )  # fmt: skip
    HistoryWriter(engine).write(site_id, run, [record])


@pytest.fixture
def store(db_engine):
    """One site, four matched-or-not offers with a little history, three pending suggestions."""
    with session_scope(db_engine) as s:
        site = Site(name="shop-a", base_url="http://127.0.0.2")
        s.add(site)
        s.flush()
        ok = CrawlRun(site_id=site.id, started_at=T0, finished_at=T0, status="finished")
        ok.health = "healthy"
        bad = CrawlRun(site_id=site.id, started_at=T0, finished_at=T0 + timedelta(hours=1))
        bad.status, bad.health, bad.health_reasons = "finished", "degraded", ["items fell 40%"]
        s.add_all([ok, bad])
        products = [
            Product(sku=sku, title=sku, price=Decimal(100), map_price=map_price, currency="USD")
            for sku, map_price in [("A1", Decimal(100)), ("B2", None), ("C3", None), ("D4", None)]
        ]
        s.add_all(products)
        offers = [
            Offer(
                site_id=site.id,
                url=f"http://127.0.0.2/p/{i}",
                title=f"Gadget {i}",
                first_seen=T0,
                last_seen=T0,
            )
            for i in range(4)
        ]
        s.add_all(offers)
        s.flush()
        status = ["accepted", "confirmed", "review", "accepted"]
        s.add_all(
            Match(product_id=p.id, offer_id=o.id, confidence=0.9, method="gtin", status=st)
            for p, o, st in zip(products, offers, status, strict=True)
        )
        s.add_all(
            Suggestion(
                product_id=products[0].id,
                strategy="match-lowest",
                proposed_price=Decimal(95),
                currency="USD",
                change_pct=-5.0,
                explanation="x",
            )
            for _ in range(3)
        )
        s.flush()
        ids = [o.id for o in offers]
        ok_id, bad_id = ok.id, bad.id
    later = T0 + timedelta(hours=1)
    _observe(db_engine, ids[0], T0, "120", run=ok_id)
    _observe(db_engine, ids[0], later, "90", run=bad_id)  # -25% and under MAP 100
    _observe(db_engine, ids[1], T0, "50", run=ok_id)
    _observe(db_engine, ids[1], later, "51", "out_of_stock", run=bad_id)  # +2%: under threshold
    _observe(db_engine, ids[2], T0, "10", run=ok_id)
    _observe(db_engine, ids[2], later, "30", run=bad_id)  # only "review": not ours yet
    _observe(db_engine, ids[3], T0, "10", run=ok_id)
    _observe(db_engine, ids[3], later, "1", run=bad_id, suspect=True)  # suspect: never alerts
    return db_engine


def _config(receiver, window="0s", **pricing):
    return parse_alerts_config(
        {
            "group_window": window,
            "channels": [
                {"name": "ops", "urls": [receiver.url("ops")], "kinds": ["crawl_health"]},
                {
                    "name": "pricing",
                    "urls": [receiver.url("pricing")],
                    "kinds": ["price_move", "under_map", "out_of_stock", "review_waiting"],
                    "price_move_pct": 10,
                    **pricing,
                },
            ],
        }
    )


def test_alerts_grouped_per_channel_and_sent_once(store, receiver):
    dispatcher = AlertDispatcher(store, _config(receiver))
    sent = dispatcher.check(since=T0 + timedelta(minutes=30))
    assert {a.kind.value for a in sent} == {
        "crawl_health",
        "price_move",
        "under_map",
        "out_of_stock",
        "review_waiting",
    }
    [ops] = receiver.messages("ops")
    assert "shop-a: crawl run" in ops and "degraded" in ops and "items fell 40%" in ops
    [pricing] = receiver.messages("pricing")  # one message for the whole burst
    assert "Pricewatch: 4 alerts" in pricing
    assert "120.00 → 90.00 USD (-25.0%)" in pricing
    assert "under our MAP 100.00" in pricing
    assert "out of stock of 'Gadget 1'" in pricing
    assert "3 price suggestion(s) wait for review" in pricing
    assert "Gadget 2" not in pricing  # a match still in review is not ours yet
    assert "Gadget 3" not in pricing  # a suspect price raises nothing
    assert "+2.0%" not in pricing  # under the channel's threshold

    # Next cycle, nothing changed: nothing is sent again.
    dispatcher.check(since=T0 + timedelta(minutes=30))
    assert len(receiver.received) == 2

    # The competitor moves again: only what is new goes out, in one message.
    _observe(store, 1, T0 + timedelta(hours=2), "80")
    dispatcher.check(since=T0 + timedelta(minutes=30))
    assert len(receiver.received) == 3
    [_, latest] = receiver.messages("pricing")
    assert "90.00 → 80.00 USD (-11.1%)" in latest and "at 80.00 USD, under our MAP" in latest
    assert "out of stock" not in latest and "wait for review" not in latest


def test_a_burst_within_the_window_is_one_message(store, receiver):
    dispatcher = AlertDispatcher(store, _config(receiver, window="1s"))
    since = T0 + timedelta(minutes=30)
    dispatcher.check(since=since)  # e.g. one site's crawl finished ...
    _observe(store, 2, T0 + timedelta(hours=2), "70")  # ... then another
    dispatcher.check(since=T0 + timedelta(hours=1, minutes=30))
    assert receiver.received == []  # held for the window
    deadline = time.monotonic() + 10
    while len(receiver.messages("pricing")) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    [pricing] = receiver.messages("pricing")
    assert "51.00 → 70.00 USD (+37.3%)" in pricing and "120.00 → 90.00" in pricing


def test_a_failed_send_is_retried_next_cycle(store, receiver):
    config = _config(receiver)
    dead = config.model_copy(
        update={
            "channels": [config.channels[0].model_copy(update={"urls": ["json://127.0.0.1:9/x"]})]
        }
    )
    AlertDispatcher(store, dead).check(since=T0)
    assert receiver.received == []
    AlertDispatcher(store, config).check(since=T0)
    assert len(receiver.messages("ops")) == 1  # not marked sent by the failed attempt


def test_thresholds_are_per_channel(store, receiver):
    dispatcher = AlertDispatcher(store, _config(receiver, price_move_pct=30))
    dispatcher.check(since=T0 + timedelta(minutes=30))
    [pricing] = receiver.messages("pricing")
    assert "-25.0%" not in pricing and "under our MAP" in pricing


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("channels: []", "channels: List should have at least 1 item"),
        (
            "channels:\n  - name: x\n    urls: ['nope://zz']",
            "channels.0.urls: 'nope://zz' is not an apprise URL",
        ),
        (
            "channels:\n  - name: x\n    urls: ['json://h/x']\n    kinds: [weather]",
            "channels.0.kinds.0",
        ),
        (
            "channels:\n  - name: x\n    urls: ['json://h/x']\n    colour: red",
            "channels.0.colour: unknown key",
        ),
        (
            "group_window: soon\nchannels:\n  - name: x\n    urls: ['json://h/x']",
            "group_window: 'soon' is not a duration",
        ),
        ("channels: [\n", "line "),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path, text, where):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(AlertsConfigError) as err:
        load_alerts_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert where in str(err.value)
