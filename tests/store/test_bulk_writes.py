"""How HistoryWriter's bulk path reads and writes, on SQLite and PostgreSQL.

The results must not depend on how the work is cut: the site's offers arrive in batches
while chunks are classified, unchanged sightings go out as one "extend" per chunk, replaced
states are archived before their offers rows are overwritten, and on PostgreSQL the offers
rows are updated in place.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from pricing.store import chunks
from pricing.store.bulk_pg import PostgresSink
from pricing.store.history import HistoryWriter, WriteResult, ensure_site
from pricing.store.runs import start_run

from .test_history import offer, rec, rows, stored

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def page(i: int) -> str:
    return f"https://shop.example/p/{i}"


@pytest.fixture
def site(db_engine: Engine) -> int:
    return ensure_site(db_engine, "shop", "https://shop.example", "EUR")


def test_site_read_in_batches_gives_the_same_history(db_engine, site, monkeypatch):
    """Early chunks take only the batches they need; a new page takes the rest."""
    writer = HistoryWriter(db_engine)
    assert writer.write(site, None, [rec(T0, "10.00", url=page(i)) for i in range(30)]) == (
        WriteResult(offers_created=30, rows_inserted=30)
    )
    monkeypatch.setattr(chunks, "CHUNK", 7)
    monkeypatch.setattr(PostgresSink, "SCAN_BATCH", 4)  # the site's 30 offers: 8 batches
    batch = [rec(T0 + H, "10.00", url=page(i)) for i in range(30)]
    batch[26].price = Decimal("11.00")
    batch[25:25] = [rec(T0 + H, "5.00", url=page(100 + i)) for i in range(5)]  # new pages
    batch.append(rec(T0 + 2 * H, "12.00", url=page(0)))  # page 0: unchanged, then changed
    batch.append(rec(T0 - H, "99.00", url=page(5)))  # older than known: ignored
    result = writer.write(site, None, batch)
    assert result == WriteResult(offers_created=5, rows_inserted=7, rows_extended=29, stale=1)
    assert [(r.price, r.valid_from, r.valid_to) for r in rows(db_engine, page(0))] == [
        (Decimal("10"), T0, T0 + H),
        (Decimal("12"), T0 + 2 * H, T0 + 2 * H),
    ]
    assert [(r.price, r.valid_to) for r in rows(db_engine, page(26))] == [
        (Decimal("10"), T0),
        (Decimal("11"), T0 + H),
    ]
    assert [(r.price, r.valid_to) for r in rows(db_engine, page(5))] == [(Decimal("10"), T0 + H)]
    assert [(r.price, r.valid_from) for r in rows(db_engine, page(102))] == [(Decimal("5"), T0 + H)]
    for i in (0, 5, 26, 29, 102):
        o = offer(db_engine, page(i))
        assert o.current_observation_id == rows(db_engine, page(i))[-1].id
        assert o.last_seen == (T0 + 2 * H if i == 0 else T0 + H)
    assert offer(db_engine, page(0)).cur_price == Decimal("12.00")


def test_state_extended_then_replaced_in_one_chunk(db_engine, site):
    writer = HistoryWriter(db_engine, suspect_check=lambda old, new: None)
    writer.write(site, None, [rec(T0, "10.00")])
    same, changed = rec(T0 + H, "10.00"), rec(T0 + 2 * H, "8.00")
    assert writer.write(site, None, [changed, same]) == WriteResult(
        rows_inserted=1, rows_extended=1
    )
    assert [(r.price, r.valid_from, r.valid_to) for r in rows(db_engine)] == [
        (Decimal("10"), T0, T0 + H),
        (Decimal("8"), T0 + 2 * H, T0 + 2 * H),
    ]
    o = offer(db_engine)
    assert o.last_seen == T0 + 2 * H and o.cur_price == Decimal("8.00")


def test_two_changes_in_one_call_archive_both_replaced_states(db_engine, site):
    """The stored state is archived from its row; the one that lived only within the call
    goes straight into history; the last is current."""
    writer = HistoryWriter(db_engine)
    writer.write(site, None, [rec(T0, "10.00")])
    run = start_run(db_engine, site)
    calls = [rec(T0 + H, "10.00"), rec(T0 + 2 * H, "9.00"), rec(T0 + 3 * H, "9.00"),
             rec(T0 + 4 * H, "8.00")]  # fmt: skip
    assert writer.write(site, run, calls) == WriteResult(rows_inserted=2, rows_extended=2)
    history = [
        (r.price, r.valid_from, r.valid_to, r.run_id, r.last_run_id) for r in rows(db_engine)
    ]
    assert history == [
        (Decimal("10"), T0, T0 + H, None, run),
        (Decimal("9"), T0 + 2 * H, T0 + 3 * H, run, run),
        (Decimal("8"), T0 + 4 * H, T0 + 4 * H, run, run),
    ]
    assert stored(db_engine) == 2
    o = offer(db_engine)
    assert (o.cur_price, o.cur_valid_from, o.last_seen) == (Decimal("8"), T0 + 4 * H, T0 + 4 * H)
    assert o.current_observation_id == rows(db_engine)[-1].id


@pytest.mark.postgres
def test_extensions_update_offers_in_place_and_write_no_history(pg_engine):
    """Offers pages keep room, so extending every state moves no row off its page; a cycle
    without changes writes no history row at all."""
    site = ensure_site(pg_engine, "shop", "https://shop.example", "EUR")
    writer = HistoryWriter(pg_engine)
    first = [rec(T0, "10.00", url=page(i)) for i in range(200)]  # several pages' worth
    writer.write(site, None, first)

    def places() -> dict[int, int]:
        with pg_engine.connect() as conn:
            found = conn.execute(text("SELECT id, ctid::text FROM offers")).all()
        return {i: int(ctid.strip("()").split(",")[0]) for i, ctid in found}

    before = places()
    assert len(set(before.values())) > 1
    later = [replace(r, observed_at=T0 + H) for r in first]
    assert writer.write(site, None, later) == WriteResult(rows_extended=200)
    assert places() == before  # same page: an update in place, no new index entries
    assert stored(pg_engine) == 0
    assert all(o.valid_to == T0 + H for o in rows(pg_engine, page(7)))
    changed = [replace(r, observed_at=T0 + 2 * H) for r in first]
    changed[7].price = Decimal("9.00")
    assert writer.write(site, None, changed) == WriteResult(rows_inserted=1, rows_extended=199)
    assert stored(pg_engine) == 1
    with pg_engine.connect() as conn:
        options = conn.execute(
            text(
                "SELECT c.relname, c.reloptions FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'observations'::regclass"
            )
        ).all()
    # History rows are never updated: their partitions keep the default fill.
    assert options and all(not o for _, o in options), options
