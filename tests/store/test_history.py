"""Change-only history through HistoryWriter, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from pricing.store import chunks
from pricing.store.db import session_scope
from pricing.store.history import HistoryWriter, ObservationRecord, WriteResult, ensure_site
from pricing.store.models import Observation, Offer
from pricing.store.partitions import month_partitions, month_start, partition_name
from pricing.store.queries import offer_history, offer_state_at
from pricing.store.runs import start_run
from pricing.store.views import OfferState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://shop.example/p/1"
STATE_COLUMNS = [c.name for c in OfferState.__table__.columns]


def rec(at: datetime, price: str | None = "10.00", url: str = URL, **kw) -> ObservationRecord:
    fields = {"title": "Kettle", "currency": "EUR", "availability": "in_stock"} | kw
    return ObservationRecord(
        url=url, observed_at=at, price=None if price is None else Decimal(price), **fields
    )


def rows(engine: Engine, url: str = URL) -> list[OfferState]:
    """The offer's history: its replaced states and its current one, oldest first."""
    with session_scope(engine) as s:
        return list(
            s.scalars(
                select(OfferState)
                .join(Offer, Offer.id == OfferState.offer_id)
                .where(Offer.url == url)
                .order_by(OfferState.valid_from)
            )
        )


def stored(engine: Engine, table=Observation) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def offer(engine: Engine, url: str = URL) -> Offer:
    with session_scope(engine) as s:
        return s.scalars(select(Offer).where(Offer.url == url)).one()


@pytest.fixture
def site(db_engine: Engine) -> int:
    return ensure_site(db_engine, "shop", "https://shop.example", "EUR")


def test_ensure_site_is_idempotent(db_engine, site):
    assert ensure_site(db_engine, "shop", "https://other.example") == site
    assert ensure_site(db_engine, "shop-2", "https://shop2.example") != site


def test_thousand_identical_observations_make_one_row(db_engine, site):
    writer = HistoryWriter(db_engine)
    times = [T0 + timedelta(minutes=i) for i in range(1000)]
    # 10 calls of 100; within a call the same page is seen 100 times (in shuffled order).
    results = []
    for c in range(10):
        batch = [rec(t) for t in times[c * 100 : (c + 1) * 100]]
        results.append(writer.write(site, None, batch[50:] + batch[:50]))
    assert results[0] == WriteResult(offers_created=1, rows_inserted=1, rows_extended=99)
    assert all(r == WriteResult(rows_extended=100) for r in results[1:])
    [row] = rows(db_engine)
    assert (row.valid_from, row.valid_to) == (times[0], times[-1])
    o = offer(db_engine)
    assert (o.first_seen, o.last_seen) == (times[0], times[-1])
    assert o.current_observation_id == row.id
    assert o.cur_price == Decimal("10.00") and o.cur_currency == "EUR"
    assert stored(db_engine) == 0  # the one state is current: it lives in offers alone


def test_a_changed_state_archives_the_old_one_unchanged(db_engine, site):
    runs = [start_run(db_engine, site) for _ in range(3)]
    writer = HistoryWriter(db_engine, suspect_check=lambda old, new: "new price")
    first = rec(T0, "10.00", stock_quantity=3, rating=4.5, price_source="jsonld", confidence=0.9)
    first.suspect = True  # flagged by the crawler too, so seeing it again is the same state
    writer.write(site, runs[0], [first])
    writer.write(site, runs[1], [replace(first, observed_at=T0 + timedelta(hours=1))])
    [before] = rows(db_engine)
    assert (before.run_id, before.last_run_id) == (runs[0], runs[1])
    assert before.suspect and before.suspect_reason == "new price"
    writer.write(site, runs[2], [rec(T0 + timedelta(hours=2), "12.00")])

    def as_dict(state) -> dict:
        return {c: getattr(state, c) for c in STATE_COLUMNS}

    old, new = rows(db_engine)
    assert as_dict(old) == as_dict(before)  # archived exactly as it was while current
    with session_scope(db_engine) as s:
        [archived] = s.scalars(select(Observation)).all()
        assert {c: getattr(archived, c) for c in as_dict(old)} == as_dict(old)
    assert (new.valid_from, new.valid_to, new.run_id, new.last_run_id) == (
        T0 + timedelta(hours=2), T0 + timedelta(hours=2), runs[2], runs[2]
    )  # fmt: skip
    assert new.id == offer(db_engine).current_observation_id != old.id


def test_point_in_time_returns_the_state_valid_at_t(db_engine, site):
    writer = HistoryWriter(db_engine)
    h = timedelta(hours=1)
    for at, price in [
        (T0, "10.00"),
        (T0 + h, "10.00"),
        (T0 + 3 * h, "12.50"),
        (T0 + 5 * h, "11.00"),
    ]:
        writer.write(site, None, [rec(at, price)])
    oid = offer(db_engine).id

    def price_at(at):
        state = offer_state_at(db_engine, oid, at)
        return None if state is None else state.price

    assert price_at(T0 - timedelta(seconds=1)) is None
    assert price_at(T0) == Decimal("10.00")
    assert price_at(T0 + 2 * h) == Decimal("10.00")  # not seen between 1h and 3h: last known
    assert price_at(T0 + 3 * h) == Decimal("12.50")
    assert price_at(T0 + 4 * h + timedelta(minutes=59)) == Decimal("12.50")
    assert price_at(T0 + 30 * h) == Decimal("11.00")
    # Any offset means the same instant: 14:00+02:00 is 12:00 UTC, when 10.00 held.
    assert price_at(datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == Decimal(
        "10.00"
    )
    state = offer_state_at(db_engine, oid, T0 + 3 * h)
    assert state.valid_from == T0 + 3 * h and state.availability == "in_stock"

    history = offer_history(db_engine, oid, since=T0 + 2 * h)
    assert [r.price for r in history] == [Decimal("10.00"), Decimal("12.50"), Decimal("11.00")]
    history = offer_history(db_engine, oid, since=T0 + 3 * h, until=T0 + 4 * h)
    assert [r.price for r in history] == [Decimal("12.50")]
    assert offer_history(db_engine, oid, since=T0 - 90 * 24 * h, until=T0 - h) == []


def test_every_state_field_makes_a_new_row_and_others_do_not(db_engine, site):
    writer = HistoryWriter(db_engine)
    base = rec(T0, stock_quantity=5, review_count=3, rating=4.5, sold_count=7, rank=2)
    base.regular_price, base.shipping = Decimal("12.00"), Decimal("4.95")
    writer.write(site, None, [base])
    changes = {
        "price": Decimal("9.99"),
        "regular_price": None,
        "currency": "USD",
        "availability": "out_of_stock",
        "stock_quantity": 0,
        "shipping": Decimal("0"),
        "review_count": 4,
        "rating": 4.6,
        "sold_count": 8,
        "rank": 1,
        "suspect": True,
    }
    at = T0
    current = base
    for i, (field, value) in enumerate(changes.items(), 1):
        at += timedelta(hours=1)
        current = replace(current, observed_at=at, **{field: value})
        result = writer.write(site, None, [current])
        assert result.rows_inserted == 1, field
        assert len(rows(db_engine)) == 1 + i
    # Not part of the state: identity and provenance only update the offer.
    at += timedelta(hours=1)
    same = replace(current, observed_at=at, title="Kettle 2L", price_source="css", confidence=0.5)
    assert writer.write(site, None, [same]) == WriteResult(rows_extended=1)
    o = offer(db_engine)
    assert o.title == "Kettle 2L" and o.identity_changed_at == at
    assert o.cur_price == Decimal("9.99") and o.cur_currency == "USD"
    assert o.cur_availability == "out_of_stock" and o.cur_stock_quantity == 0
    assert (o.cur_review_count, o.cur_rating, o.cur_sold_count, o.cur_rank) == (4, 4.6, 8, 1)
    assert o.cur_shipping == 0 and o.cur_regular_price is None and o.cur_suspect is True
    last = rows(db_engine)[-1]
    assert o.current_observation_id == last.id and last.valid_to == at


def test_price_change_back_and_forth_keeps_every_change(db_engine, site):
    writer = HistoryWriter(db_engine)
    prices = ["10.00", "10.00", "9.00", "9.00", "10.00", "10.000000"]  # last equals 10.00
    for i, p in enumerate(prices):
        writer.write(site, None, [rec(T0 + timedelta(hours=i), p)])
    stored = rows(db_engine)
    assert [r.price for r in stored] == [Decimal("10"), Decimal("9"), Decimal("10")]
    assert [r.valid_to for r in stored] == [T0 + timedelta(hours=h) for h in (1, 3, 5)]


def test_same_page_twice_in_one_call_is_applied_in_time_order(db_engine, site):
    writer = HistoryWriter(db_engine)
    later, earlier = rec(T0 + timedelta(hours=1), "8.00"), rec(T0, "9.00")
    result = writer.write(site, None, [later, earlier])
    assert result == WriteResult(offers_created=1, rows_inserted=2)
    assert [r.price for r in rows(db_engine)] == [Decimal("9.00"), Decimal("8.00")]
    assert offer(db_engine).cur_price == Decimal("8.00")


def test_older_observation_than_known_is_ignored(db_engine, site):
    writer = HistoryWriter(db_engine)
    writer.write(site, None, [rec(T0 + timedelta(hours=2), "10.00")])
    assert writer.write(site, None, [rec(T0, "99.00")]) == WriteResult(stale=1)
    assert [r.price for r in rows(db_engine)] == [Decimal("10.00")]


def test_suspect_check_flags_and_stores_the_row(db_engine, site):
    calls = []

    def check(previous, new):
        calls.append((previous, new))
        if previous is not None and new is not None and new < previous / 2:
            return f"dropped from {previous} to {new}"
        return None

    writer = HistoryWriter(db_engine, suspect_check=check)
    writer.write(site, None, [rec(T0, "100.00")])
    writer.write(site, None, [rec(T0 + timedelta(hours=1), "100.00")])  # unchanged: not asked
    result = writer.write(site, None, [rec(T0 + timedelta(hours=2), "40.00")])
    assert result.suspect == 1 and result.rows_inserted == 1
    assert calls == [(None, Decimal("100.00")), (Decimal("100"), Decimal("40"))]
    assert all(isinstance(v, Decimal) for v in calls[1])
    flagged = rows(db_engine)[-1]
    assert flagged.suspect and flagged.price == Decimal("40")
    assert flagged.suspect_reason.startswith("dropped from 100")
    assert offer(db_engine).cur_suspect is True
    # Seen again at 40: the check sees no change, so the price stands, as a new unflagged row.
    result = writer.write(site, None, [rec(T0 + timedelta(hours=3), "40.00")])
    assert result == WriteResult(rows_inserted=1)
    assert [r.suspect for r in rows(db_engine)] == [False, True, False]
    assert offer(db_engine).cur_suspect is False


def test_touch_extends_current_state(db_engine, site):
    writer = HistoryWriter(db_engine)
    other = "https://shop.example/p/2"
    writer.write(site, None, [rec(T0), rec(T0, "5.00", url=other)])
    later = T0 + timedelta(hours=6)
    assert writer.touch(site, None, [URL, "https://shop.example/unknown"], later) == 1
    assert rows(db_engine)[0].valid_to == later and offer(db_engine).last_seen == later
    assert rows(db_engine, other)[0].valid_to == T0  # not touched
    # An older 304 does not move anything back.
    assert writer.touch(site, None, [URL], T0 + timedelta(hours=1)) == 0
    assert offer(db_engine).last_seen == later
    # The next observation with the same state extends the same row.
    writer.write(site, None, [rec(later + timedelta(hours=1))])
    assert len(rows(db_engine)) == 1


def test_sites_keep_their_offers_apart(db_engine, site):
    other = ensure_site(db_engine, "other", "https://other.example")
    writer = HistoryWriter(db_engine)
    writer.write(site, None, [rec(T0, "10.00")])
    assert writer.write(other, None, [rec(T0, "11.00")]).offers_created == 1
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Offer)) == 2


def test_failed_write_leaves_nothing_behind(db_engine, site):
    writer = HistoryWriter(db_engine)
    batch = [rec(T0, url=f"https://shop.example/p/{i}") for i in range(50)]
    with pytest.raises(IntegrityError):
        writer.write(site, 424242, batch)  # no such crawl run: checked before any write
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Offer)) == 0
        assert s.scalar(select(func.count()).select_from(OfferState)) == 0
    assert writer.write(site, None, batch).offers_created == 50


def test_bulk_batches_and_many_offers(db_engine, site):
    """More offers than one batch: loading, id allocation and updates span batches."""
    writer = HistoryWriter(db_engine)
    n = 12_000
    first = [rec(T0, f"{i % 90 + 10}.00", url=f"https://shop.example/p/{i}") for i in range(n)]
    assert writer.write(site, None, first).offers_created == n
    second = [replace(r, observed_at=T0 + timedelta(days=1)) for r in first]
    for r in second[::10]:
        r.price += 1
    result = writer.write(site, None, second)
    assert result == WriteResult(rows_inserted=n // 10, rows_extended=n - n // 10)
    # A small call on a big site takes the IN-list path.
    small = [replace(r, observed_at=T0 + timedelta(days=2)) for r in second[:7]]
    assert writer.write(site, None, small) == WriteResult(rows_extended=7)
    o = offer(db_engine, "https://shop.example/p/10")
    assert o.cur_price == Decimal("21.00") and o.last_seen == T0 + timedelta(days=1)
    assert stored(db_engine, OfferState) == n + n // 10
    assert stored(db_engine) == n // 10  # only the replaced states are archived


def test_garbage_numbers_are_flagged_not_fatal(db_engine, site):
    good = rec(T0, "10.00", url="https://shop.example/p/good")
    bad = rec(T0, "123456789012345.00", url="https://shop.example/p/bad", sold_count=2**40)
    bad.shipping = Decimal("1e12")
    result = HistoryWriter(db_engine).write(site, None, [good, bad])
    assert result.rows_inserted == 2 and result.suspect == 1
    [row] = rows(db_engine, "https://shop.example/p/bad")
    assert row.price is None and row.shipping is None and row.sold_count is None
    assert row.suspect and row.suspect_reason.startswith("price out of range")
    assert offer(db_engine, "https://shop.example/p/good").cur_price == Decimal("10.00")


def test_chunks_carry_state_across_boundaries(db_engine, site, monkeypatch):
    """Small chunks: the same page in several chunks, new offers extended chunks later."""
    monkeypatch.setattr(chunks, "CHUNK", 7)
    writer = HistoryWriter(db_engine)
    urls = [f"https://shop.example/p/{i}" for i in range(10)]
    batch = []
    for step in range(5):  # each page seen 5 times; page 3 changes price at step 2
        for u in urls:
            price = "20.00" if (u == urls[3] and step >= 2) else "10.00"
            batch.append(rec(T0 + timedelta(minutes=step), price, url=u))
    result = writer.write(site, None, batch)
    assert result == WriteResult(offers_created=10, rows_inserted=11, rows_extended=39)
    changed = rows(db_engine, urls[3])
    assert [(r.price, r.valid_from, r.valid_to) for r in changed] == [
        (Decimal("10"), T0, T0 + timedelta(minutes=1)),
        (Decimal("20"), T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)),
    ]
    for u in urls:
        o = offer(db_engine, u)
        assert (o.first_seen, o.last_seen) == (T0, T0 + timedelta(minutes=4))
        assert o.current_observation_id == rows(db_engine, u)[-1].id


def _abort_on_price_666(engine) -> None:
    """A trigger that makes the database itself refuse one row, mid-write."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON offers WHEN NEW.cur_price = 666 "
                "BEGIN SELECT RAISE(ABORT, 'price 666 refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.cur_price = 666 THEN RAISE EXCEPTION 'price 666 refused'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON offers FOR EACH ROW EXECUTE FUNCTION boom()"
            )


def _drop_trigger(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER boom")
        else:
            conn.exec_driver_sql("DROP TRIGGER boom ON offers")
            conn.exec_driver_sql("DROP FUNCTION boom()")


def test_database_error_in_a_later_chunk_rolls_back_everything(db_engine, site, monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK", 10)
    batch = [rec(T0, "10.00", url=f"https://shop.example/p/{i}") for i in range(45)]
    batch[37].price = Decimal("666")  # in the fourth chunk, after three were written
    _abort_on_price_666(db_engine)
    try:
        with pytest.raises(DBAPIError, match="price 666 refused"):
            HistoryWriter(db_engine).write(site, None, batch)
        with session_scope(db_engine) as s:
            assert s.scalar(select(func.count()).select_from(Offer)) == 0
            assert s.scalar(select(func.count()).select_from(OfferState)) == 0
    finally:
        _drop_trigger(db_engine)
    assert HistoryWriter(db_engine).write(site, None, batch).offers_created == 45
    if db_engine.dialect.name == "sqlite":  # the writer turned per-row FK checks back on
        with db_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_writers_on_sqlite_wait_for_each_other(sqlite_engine):
    import threading

    sites = [ensure_site(sqlite_engine, f"shop-{n}", f"https://s{n}.example") for n in range(4)]
    errors: list[BaseException] = []

    def crawl(site_id: int) -> None:
        try:
            writer = HistoryWriter(sqlite_engine)
            for step in range(3):
                at = T0 + timedelta(hours=step)
                batch = [
                    rec(at, f"{step + 10}.00", url=f"https://x.example/{i}") for i in range(300)
                ]
                writer.write(site_id, None, batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=crawl, args=(s,)) for s in sites]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(sqlite_engine) as s:
        assert s.scalar(select(func.count()).select_from(Offer)) == 4 * 300
        assert s.scalar(select(func.count()).select_from(OfferState)) == 4 * 300 * 3
        assert s.scalar(select(func.count()).select_from(Observation)) == 4 * 300 * 2


def test_an_archived_state_lands_in_the_month_it_began(pg_engine):
    """Replaced states go to the partition of their valid_from, however late they end."""
    site = ensure_site(pg_engine, "shop", "https://shop.example", "EUR")
    this_month = month_start(datetime.now(UTC))
    with pg_engine.connect() as conn:
        made = month_partitions(conn)
    assert partition_name(this_month) in made and partition_name(month_start(this_month, 1)) in made
    first = month_start(this_month, 1) - timedelta(hours=1)
    writer = HistoryWriter(pg_engine)
    writer.write(site, None, [rec(first)])
    later = month_start(this_month, 2) + timedelta(hours=1)
    assert writer.write(site, None, [rec(first + timedelta(hours=2))]) == WriteResult(
        rows_extended=1
    )
    assert writer.touch(site, None, [URL], later) == 1
    assert writer.write(site, None, [rec(later + timedelta(hours=1), "11.00")]).rows_inserted == 1
    old, new = rows(pg_engine)
    assert (old.valid_from, old.valid_to, new.valid_from) == (
        first,
        later,
        later + timedelta(hours=1),
    )
    with pg_engine.connect() as conn:
        where = conn.execute(text("SELECT tableoid::regclass::text FROM observations")).all()
    assert where == [(partition_name(this_month),)]
