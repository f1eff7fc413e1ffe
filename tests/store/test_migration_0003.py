"""Migration 0003: current states move from observations into offers, and back, losing nothing.

A store at revision 0002 is filled with raw SQL (the live models describe 0003), upgraded, and
its history read through the view must be the history it held before; the downgrade must give
back the very rows it started from.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, Table, insert, inspect, select

from pricing.store.history import HistoryWriter, ObservationRecord
from pricing.store.models import Observation, Offer
from pricing.store.schema import MIGRATIONS
from pricing.store.views import CURRENT_STATE, HAS_STATE, VIEW, OfferState, view_sql
from tests.store.migration_support import migrate, reflect, store_at

NOW = datetime.now(UTC).replace(microsecond=0)
LAST_MONTH = NOW - timedelta(days=35)  # another partition on PostgreSQL
NEW_COLUMNS = {"cur_valid_from", "cur_suspect_reason", "cur_price_source", "cur_confidence"}
NEW_COLUMNS |= {"cur_first_run_id"}
STATE = [c.name for c in Observation.__table__.columns]


def _migration():
    [path] = (MIGRATIONS / "versions").glob("0003_*.py")
    spec = importlib.util.spec_from_file_location("migration_0003", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fill_0002_store(engine: Engine) -> None:
    """Two offers with history (the current state also an observation, as 0002 kept it), one
    offer never observed."""
    obs = [
        # id, offer, from, to, price, run, last run, suspect reason, source, confidence
        (1, 1, LAST_MONTH, LAST_MONTH + timedelta(days=2), "10.00", 1, 1, None, "jsonld", 0.9),
        (2, 1, LAST_MONTH + timedelta(days=3), NOW - timedelta(days=2), "12.50", 1, 2, None,
         "css", 0.5),
        (3, 1, NOW - timedelta(days=1), NOW, "9.00", 2, 2, "dropped 28%", "jsonld", 0.97),
        (4, 2, LAST_MONTH, NOW - timedelta(hours=1), "99.99", None, None, None, None, None),
    ]  # fmt: skip
    offers = reflect(engine, "offers")
    with engine.begin() as conn:
        conn.execute(insert(reflect(engine, "sites")), [{"id": 1, "name": "s", "base_url": "x",
                                                        "created_at": NOW}])  # fmt: skip
        runs = [{"id": i, "site_id": 1, "started_at": NOW, "status": "finished", "kind": "full"}
                for i in (1, 2)]  # fmt: skip
        counters = ["pages", "items", "http_3xx", "http_4xx", "http_5xx", "not_modified", "retries", "parse_failures", "ban_pages", "suspect_items"]  # fmt: skip
        conn.execute(
            insert(reflect(engine, "crawl_runs")), [r | dict.fromkeys(counters, 0) for r in runs]
        )
        for oid, current in ((1, obs[2]), (2, obs[3]), (3, None)):
            conn.execute(
                insert(offers).values(
                    id=oid, site_id=1, url=f"https://s.example/p/{oid}", title=f"Offer {oid}",
                    first_seen=LAST_MONTH, last_seen=current[3] if current else LAST_MONTH,
                    current_observation_id=current[0] if current else None,
                    cur_price=Decimal(current[4]) if current else None, cur_currency="EUR",
                    cur_availability="in_stock", cur_suspect=bool(current and current[7]),
                    cur_run_id=current[6] if current else None,
                )
            )  # fmt: skip
        conn.execute(
            insert(reflect(engine, "observations")),
            [
                dict(
                    zip(
                        (
                            "id",
                            "offer_id",
                            "valid_from",
                            "valid_to",
                            "price",
                            "run_id",
                            "last_run_id",
                            "suspect_reason",
                            "price_source",
                            "confidence",
                        ),
                        (*o[:4], Decimal(o[4]), *o[5:]),
                        strict=True,
                    ),
                    currency="EUR",
                    availability="in_stock",
                    suspect=o[7] is not None,
                    rank=o[0],
                )  # fmt: skip
                for o in obs
            ],
        )
        if engine.dialect.name == "postgresql":
            for table, top in (("observations", 4), ("offers", 3)):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"
                )
            # As 0002 once made them: half-full pages for in-place valid_to updates.
            for name in _partitions(conn):
                conn.exec_driver_sql(f"ALTER TABLE {name} SET (fillfactor = 50)")


def _partitions(conn) -> list[str]:
    return list(
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'observations'::regclass"
        ).scalars()
    )


def _rows(engine: Engine, table: Table) -> dict[int, tuple]:
    with engine.connect() as conn:
        found = conn.execute(select(*(table.c[c] for c in STATE))).all()
    return {
        r[0]: tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in r) for r in found
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_0002(request, tmp_path) -> Iterator[Engine]:
    """A new store at revision 0002, filled as 0002 wrote (its own database: it migrates)."""
    with store_at(request.param, tmp_path, "0002", _fill_0002_store) as engine:
        yield engine


def test_upgrade_moves_current_states_into_offers_and_the_view_shows_the_same_history(
    store_0002,
):
    engine = store_0002
    before = _rows(engine, reflect(engine, "observations"))
    assert sorted(before) == [1, 2, 3, 4]
    migrate(engine, "head")

    assert _rows(engine, OfferState.__table__) == before
    assert sorted(_rows(engine, Observation.__table__)) == [1, 2]  # only replaced states
    with engine.connect() as conn:
        offers = {o.id: o for o in conn.execute(select(Offer.__table__))}
        if engine.dialect.name == "postgresql":  # history rows are never updated now
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = ANY(%s)", (_partitions(conn),)
            ).scalars().all()  # fmt: skip
            assert options and all(not o for o in options), options
    one = offers[1]
    assert (one.current_observation_id, one.cur_valid_from.astimezone(UTC)) == (3, before[3][2])
    assert (one.last_seen.astimezone(UTC), one.cur_first_run_id, one.cur_run_id) == (NOW, 2, 2)
    assert (one.cur_suspect_reason, one.cur_price_source, one.cur_confidence) == (
        "dropped 28%", "jsonld", 0.97
    )  # fmt: skip
    assert offers[3].current_observation_id is None and offers[3].cur_valid_from is None

    # The writer carries on from there: the replaced state is archived as it was.
    site_state = ObservationRecord(url="https://s.example/p/1", observed_at=NOW + timedelta(hours=1),
                                   price=Decimal("8.00"), currency="EUR", availability="in_stock")  # fmt: skip
    assert HistoryWriter(engine).write(1, None, [site_state]).rows_inserted == 1
    after = _rows(engine, OfferState.__table__)
    assert {k: v for k, v in after.items() if k in before} == before
    [new] = set(after) - set(before)
    assert new > 4 and after[new][4] == Decimal("8.00")
    assert sorted(_rows(engine, Observation.__table__)) == [1, 2, 3]


def test_downgrade_gives_back_the_0002_store(store_0002):
    engine = store_0002
    before = _rows(engine, reflect(engine, "observations"))
    migrate(engine, "head")
    migrate(engine, "0002", down=True)
    with engine.connect() as conn:
        inspector = inspect(conn)
        assert VIEW not in inspector.get_view_names()
        assert not NEW_COLUMNS & {c["name"] for c in inspector.get_columns("offers")}
        if engine.dialect.name == "postgresql":
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = ANY(%s)", (_partitions(conn),)
            ).scalars().all()  # fmt: skip
            assert all(o == ["fillfactor=50"] for o in options), options
    assert _rows(engine, reflect(engine, "observations")) == before
    migrate(engine, "head")  # and up again, as before
    assert _rows(engine, OfferState.__table__) == before


def test_the_frozen_mapping_is_the_live_one(db_engine):
    migration = _migration()
    assert migration.revision == "0003"
    assert migration.CURRENT_STATE == CURRENT_STATE and migration.HAS_STATE == HAS_STATE
    assert migration.view_sql() == view_sql()
    assert list(CURRENT_STATE) == STATE  # every observation column, in order
    assert set(CURRENT_STATE.values()) <= set(Offer.__table__.columns.keys())
    assert set(migration.NEW_COLUMNS) == NEW_COLUMNS
    with db_engine.connect() as conn:
        view_columns = [c["name"] for c in inspect(conn).get_columns(VIEW)]
    assert view_columns == STATE == [c.name for c in OfferState.__table__.columns]
