"""offers.site_id has no foreign key (migration 0004): what the constraint guaranteed still holds.

Deleting a site deletes its offers with their matches and history; a site id cannot change
under its offers nor an offer move to a site that does not exist; the writer refuses offers
for an unknown site, and on PostgreSQL a site cannot be deleted while a write for it is
open (it waits, then takes the written offers with it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from pricing.store.bulk import write_transaction
from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.models import (
    CrawlRun,
    Match,
    Observation,
    Offer,
    PageValidator,
    Product,
    Site,
)
from pricing.store.runs import start_run
from pricing.store.views import OfferState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _records(base: str, n: int, at: datetime, price: str = "10.00") -> list[ObservationRecord]:
    return [
        ObservationRecord(
            url=f"{base}/p/{i}", observed_at=at, price=Decimal(price), currency="EUR",
            availability="in_stock", title=f"Kettle {i}",
        )
        for i in range(n)
    ]  # fmt: skip


def _count(engine: Engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


def _two_sites_with_history(engine: Engine) -> tuple[int, int]:
    """Sites a (3 offers) and b (2): each offer has an archived state, a current one and a
    match; each site a crawl run and a page validator."""
    a = ensure_site(engine, "a", "https://a.example")
    b = ensure_site(engine, "b", "https://b.example")
    writer = HistoryWriter(engine)
    for site, base, n in ((a, "https://a.example", 3), (b, "https://b.example", 2)):
        run = start_run(engine, site)
        writer.write(site, run, _records(base, n, T0))
        writer.write(site, run, _records(base, n, T0 + timedelta(days=1), "11.00"))
    with engine.begin() as conn:
        product = conn.execute(
            insert(Product).values(sku="K1", title="Kettle").returning(Product.id)
        ).scalar_one()
        offers = conn.execute(select(Offer.id)).scalars().all()
        conn.execute(
            insert(Match),
            [dict(product_id=product, offer_id=o, confidence=0.9, method="fuzzy",
                  status="accepted") for o in offers],
        )  # fmt: skip
        conn.execute(
            insert(PageValidator),
            [dict(site_id=s, url=f"https://{n}.example/") for s, n in ((a, "a"), (b, "b"))],
        )
    return a, b


def test_deleting_a_site_deletes_its_offers_matches_and_history(db_engine):
    a, b = _two_sites_with_history(db_engine)
    assert (_count(db_engine, Offer), _count(db_engine, Observation)) == (5, 5)
    assert (_count(db_engine, OfferState), _count(db_engine, Match)) == (10, 5)
    with db_engine.begin() as conn:
        conn.execute(Site.__table__.delete().where(Site.id == a))
    assert _count(db_engine, Offer, Offer.site_id == a) == 0
    assert _count(db_engine, Offer) == _count(db_engine, Offer, Offer.site_id == b) == 2
    assert (_count(db_engine, Observation), _count(db_engine, Match)) == (2, 2)
    assert _count(db_engine, OfferState) == 4
    for table in (CrawlRun, PageValidator):  # these keep their own foreign keys
        assert _count(db_engine, table) == _count(db_engine, table, table.site_id == b) == 1
    with db_engine.connect() as conn:  # no offer, match or state names a deleted row
        orphans = conn.scalar(
            select(func.count()).select_from(Offer).where(Offer.site_id.not_in(select(Site.id)))
        )
        assert orphans == 0
        if db_engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []


def test_a_site_id_cannot_change_under_its_offers(db_engine):
    a, b = _two_sites_with_history(db_engine)
    with pytest.raises(IntegrityError, match="sites.id"), db_engine.begin() as conn:
        conn.execute(Site.__table__.update().where(Site.id == a).values(id=999))
    empty = ensure_site(db_engine, "empty", "https://empty.example")
    with db_engine.begin() as conn:  # no offers name it: free to change, as before
        conn.execute(Site.__table__.update().where(Site.id == empty).values(id=999))
        conn.execute(Site.__table__.update().where(Site.id == a).values(name="a2"))
    assert _count(db_engine, Offer, Offer.site_id == a) == 3


def test_an_offer_cannot_move_to_a_site_that_does_not_exist(db_engine):
    a, b = _two_sites_with_history(db_engine)
    with pytest.raises(IntegrityError, match="site_id"), db_engine.begin() as conn:
        conn.execute(Offer.__table__.update().where(Offer.site_id == a).values(site_id=424242))
    with db_engine.begin() as conn:
        conn.execute(Offer.__table__.update().where(Offer.site_id == a).values(site_id=b))
    assert _count(db_engine, Offer, Offer.site_id == b) == 5


def test_writing_for_an_unknown_site_is_refused_with_a_clear_error(db_engine):
    writer = HistoryWriter(db_engine)
    batch = _records("https://nowhere.example", 20, T0)
    with pytest.raises(IntegrityError, match="no row in sites with id 424242"):
        writer.write(424242, None, batch)
    with pytest.raises(IntegrityError, match="no row in sites with id 424242"):
        writer.touch(424242, None, [batch[0].url], T0)
    assert _count(db_engine, Offer) == _count(db_engine, OfferState) == 0
    site = ensure_site(db_engine, "somewhere", "https://nowhere.example")
    assert writer.write(site, None, batch).offers_created == 20


def _insert_offer(conn, site_id: int, url: str) -> None:
    conn.execute(
        insert(Offer).values(site_id=site_id, url=url, first_seen=T0, last_seen=T0,
                             cur_suspect=False)
    )  # fmt: skip


@pytest.mark.postgres
def test_a_site_waits_for_an_open_write_before_it_is_deleted(pg_engine):
    """The writer's check locks the site (FOR KEY SHARE) as the foreign key's check did."""
    site = ensure_site(pg_engine, "busy", "https://busy.example")
    with write_transaction(pg_engine) as sink:
        sink.check_references(site, None)
        with pg_engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                other.execute(Site.__table__.delete().where(Site.id == site))
            other.rollback()
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock timeout"):
                other.execute(Site.__table__.update().where(Site.id == site).values(id=999))
            other.rollback()
        _insert_offer(sink.conn, site, "https://busy.example/p/1")
    assert _count(pg_engine, Offer) == 1
    with pg_engine.begin() as conn:  # once the write committed, the delete takes its offers
        conn.execute(Site.__table__.delete().where(Site.id == site))
    assert _count(pg_engine, Offer) == 0


@pytest.mark.postgres
def test_a_write_after_a_concurrent_site_delete_is_refused(pg_engine):
    site = ensure_site(pg_engine, "gone", "https://gone.example")
    with pg_engine.begin() as conn:
        conn.execute(Site.__table__.delete().where(Site.id == site))
    with pytest.raises(IntegrityError, match=f"no row in sites with id {site}"):
        HistoryWriter(pg_engine).write(site, None, _records("https://gone.example", 3, T0))
    assert _count(pg_engine, Offer) == 0


@pytest.mark.postgres
def test_truncating_sites_truncates_their_offers(pg_engine):
    a, b = _two_sites_with_history(pg_engine)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE sites CASCADE")
    assert _count(pg_engine, Offer) == _count(pg_engine, Match) == 0
    assert _count(pg_engine, OfferState) == 0


@pytest.mark.postgres
def test_the_triggers_raise_what_the_foreign_key_raised(pg_engine):
    """SQLSTATE 23503, so callers that caught a foreign_key_violation still do."""
    a, _ = _two_sites_with_history(pg_engine)
    with pytest.raises(DBAPIError) as caught, pg_engine.begin() as conn:
        conn.execute(text("UPDATE offers SET site_id = 424242 WHERE site_id = :a"), {"a": a})
    assert caught.value.orig.sqlstate == "23503"


@pytest.mark.postgres
def test_an_insert_naming_no_site_is_refused_whole(pg_engine):
    """On PostgreSQL any INSERT or COPY into offers is checked, once per statement: code other
    than the writer cannot leave an offer without its site either."""
    site = ensure_site(pg_engine, "here", "https://here.example")
    rows = [
        {"site_id": s, "url": f"https://here.example/p/{i}", "first_seen": T0, "last_seen": T0,
         "cur_suspect": False}
        for i, s in enumerate((site, site, 424242))
    ]  # fmt: skip
    with pytest.raises(IntegrityError, match="names no site") as caught, pg_engine.begin() as conn:
        conn.execute(insert(Offer), rows)
    assert caught.value.orig.sqlstate == "23503"
    assert _count(pg_engine, Offer) == 0
    with pg_engine.begin() as conn:
        conn.execute(insert(Offer), rows[:2])
    assert _count(pg_engine, Offer) == 2
