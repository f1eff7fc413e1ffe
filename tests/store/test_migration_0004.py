"""Migration 0004: offers lose their foreign key to sites and keep every row, index and view.

A store at revision 0003 holds rows in every table that names a site or an offer (raw Core
inserts: the live models describe 0004). ``init_db`` upgrades it as ``pricewatch init`` does,
in one transaction with SQLite's foreign keys on: a table rebuild there would cascade-delete
matches and history, so the test counts every row. The downgrade must give back the very
schema 0003 had, and refuse (changing nothing) while an offer names no site.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from pricing.store.history import HistoryWriter, ObservationRecord
from pricing.store.schema import alembic_config, current_revision, head_revision, init_db
from tests.store.migration_support import migrate, reflect, store_at

NOW = datetime.now(UTC).replace(microsecond=0)
EARLIER = NOW - timedelta(days=35)  # another partition on PostgreSQL
FK_TEXT = (
    "CONSTRAINT fk_offers_site_id_sites FOREIGN KEY(site_id) REFERENCES sites (id) "
    "ON DELETE CASCADE, \n\t"
)
TABLES = ("sites", "crawl_runs", "products", "users", "offers", "observations", "matches")
TABLES += ("page_validators", "offer_states")
TRIGGERS = {"offers_delete_with_site", "sites_id_in_use", "offers_site_exists"}
PG_TRIGGERS = TRIGGERS | {"offers_truncate_with_sites", "offers_site_exists_on_insert"}
COUNTERS = ("pages", "items", "http_3xx", "http_4xx", "http_5xx", "not_modified", "retries",
            "parse_failures", "ban_pages", "suspect_items")  # fmt: skip


def _fill_0003_store(engine: Engine) -> None:
    """Sites 1 and 2. Site 1: offers 1 (with a GTIN) and 2 (without); site 2: offer 3 and
    offer 4, never observed. Offers 1 and 3 have an archived state and a match."""
    t = {name: reflect(engine, name) for name in TABLES if name != "offer_states"}
    offers = [
        # id, site, gtin, current state id, price
        (1, 1, "04006381333931", 20, "10.00"),
        (2, 1, None, 21, "20.00"),
        (3, 2, "05012345678900", 22, "30.00"),
        (4, 2, None, None, None),
    ]
    with engine.begin() as conn:
        conn.execute(insert(t["sites"]), [dict(id=i, name=f"s{i}", base_url=f"https://s{i}.example",
                                                created_at=EARLIER) for i in (1, 2)])  # fmt: skip
        conn.execute(insert(t["crawl_runs"]), [dict(id=i, site_id=i, started_at=EARLIER,
                     status="finished", kind="full", **dict.fromkeys(COUNTERS, 0)) for i in (1, 2)])  # fmt: skip
        conn.execute(insert(t["users"]), [dict(id=1, name="ann", password_hash="x",
                     role="manager", active=True, created_at=EARLIER)])  # fmt: skip
        conn.execute(insert(t["products"]), [dict(id=1, sku="K1", title="Kettle", currency="EUR",
                     in_stock=True, key_item=False, created_at=EARLIER, updated_at=EARLIER)])  # fmt: skip
        conn.execute(
            insert(t["offers"]),
            [
                dict(id=o, site_id=s, url=f"https://s{s}.example/p/{o}", title=f"Offer {o}",
                     gtin=g, first_seen=EARLIER, last_seen=NOW, current_observation_id=c,
                     cur_valid_from=NOW - timedelta(days=1) if c else None,
                     cur_price=Decimal(p) if p else None, cur_currency="EUR",
                     cur_availability="in_stock" if c else None, cur_suspect=False,
                     cur_first_run_id=s if c else None, cur_run_id=s if c else None)
                for o, s, g, c, p in offers
            ],
        )  # fmt: skip
        conn.execute(
            insert(t["observations"]),
            [dict(id=10 + o, offer_id=o, valid_from=EARLIER, valid_to=NOW - timedelta(days=2),
                  price=Decimal("9.99"), currency="EUR", availability="in_stock",
                  suspect=False, run_id=o, last_run_id=o) for o in (1, 2)]
            + [dict(id=13, offer_id=3, valid_from=EARLIER, valid_to=NOW - timedelta(days=2),
                    price=Decimal("29.99"), currency="EUR", availability="in_stock",
                    suspect=False, run_id=2, last_run_id=2)],
        )  # fmt: skip
        conn.execute(
            insert(t["matches"]),
            [dict(id=o, product_id=1, offer_id=o, confidence=0.9, method="gtin",
                  status="confirmed", substitute=False, decided_by=1, created_at=EARLIER,
                  updated_at=EARLIER) for o in (1, 3)],
        )  # fmt: skip
        conn.execute(
            insert(t["page_validators"]),
            [dict(id=s, site_id=s, url=f"https://s{s}.example/", etag=f'"{s}"',
                  fetched_at=EARLIER, page_info={"offers": [f"https://s{s}.example/p/{s}"]})
             for s in (1, 2)],
        )  # fmt: skip
        if engine.dialect.name == "postgresql":
            for name, top in (("sites", 2), ("offers", 4), ("observations", 22)):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {top})"
                )


def _rows(engine: Engine) -> dict[str, list[tuple]]:
    found = {}
    with engine.connect() as conn:
        for name in TABLES:
            table = reflect(engine, name)
            first = next(iter(table.c))
            found[name] = [
                tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)
                for row in conn.execute(select(table).order_by(first))
            ]
    return found


def _schema(engine: Engine) -> dict[str, str]:
    """Every table, index, view and constraint, by name, as the database describes it."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = conn.exec_driver_sql(
                "SELECT type || ' ' || name, coalesce(sql, tbl_name) FROM sqlite_master "
                "WHERE type <> 'trigger'"
            ).all()
        else:
            found = conn.exec_driver_sql(
                "SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "UNION ALL SELECT 'view ' || viewname, definition FROM pg_views "
                "WHERE schemaname = 'public' UNION ALL SELECT 'constraint ' || conname, "
                "conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace"
            ).all()
    return dict(found)


def _without_fk(schema: dict[str, str]) -> dict[str, str]:
    """The schema as it would be without fk_offers_site_id_sites."""
    schema = dict(schema)
    schema.pop("constraint fk_offers_site_id_sites", None)
    if "table offers" in schema:
        schema["table offers"] = schema["table offers"].replace(FK_TEXT, "")
    return schema


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            sql = (
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal UNION ALL SELECT proname "
                "FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prorettype = "
                "'trigger'::regtype"
            )
        return set(conn.exec_driver_sql(sql).scalars())


def _site_keys(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        keys = inspect(conn).get_foreign_keys("offers")
    return [k for k in keys if k["referred_table"] == "sites"]


def _assert_referentially_intact(engine: Engine) -> None:
    with engine.connect() as conn:
        orphans = conn.exec_driver_sql(
            "SELECT count(*) FROM offers WHERE site_id NOT IN (SELECT id FROM sites)"
        ).scalar_one()
        assert orphans == 0
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalars().all() == ["ok"]
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_0003(request, tmp_path) -> Iterator[Engine]:
    """A new store at revision 0003, filled (its own database: it migrates)."""
    with store_at(request.param, tmp_path, "0003", _fill_0003_store) as engine:
        yield engine


def test_upgrade_keeps_every_row_index_and_the_view(store_0003, tmp_path):
    engine = store_0003
    before, schema = _rows(engine), _schema(engine)
    assert len(before["offer_states"]) == 6 and len(before["matches"]) == 2
    # Unless 0001 was regenerated from the models since (python -m pricing.store.migrations)
    had_fk = bool(_site_keys(engine))
    if had_fk:
        assert [k["options"].get("ondelete") for k in _site_keys(engine)] == ["CASCADE"]
        if engine.dialect.name == "sqlite":
            assert FK_TEXT in schema["table offers"]
    other = None
    if engine.dialect.name == "sqlite":  # a connection that read the schema before
        other = sqlite3.connect(tmp_path / "old.db")
        assert bool(other.execute("PRAGMA foreign_key_list(offers)").fetchall()) == had_fk

    assert (
        init_db(engine).describe() == f"migrated the schema from revision 0003 to {head_revision()}"
    )

    assert _rows(engine) == before
    assert _site_keys(engine) == [] and _triggers(engine) >= TRIGGERS
    after = _schema(engine)
    if other is not None:
        assert other.execute("PRAGMA foreign_key_list(offers)").fetchall() == []
        other.close()
    # Every index (ix_offers_gtin partial), the view, the other tables and constraints.
    assert after == _without_fk(schema) and "constraint fk_offers_site_id_sites" not in after
    assert "WHERE" in after["index ix_offers_gtin"] and "view offer_states" in after
    _assert_referentially_intact(engine)

    # The store works on: the writer adds a state; deleting site 1 takes its offers along.
    seen = ObservationRecord(url="https://s2.example/p/3", observed_at=NOW + timedelta(hours=1),
                             price=Decimal("31.00"), currency="EUR", availability="in_stock")  # fmt: skip
    assert HistoryWriter(engine).write(2, 2, [seen]).rows_inserted == 1
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sites WHERE id = 1")
    left = _rows(engine)
    assert [o[0] for o in left["offers"]] == [3, 4] and [m[0] for m in left["matches"]] == [3]
    assert sorted(s[1] for s in left["offer_states"]) == [3, 3, 3]  # the archived one, too
    assert [p[0] for p in left["page_validators"]] == [2] and left["users"] == before["users"]
    _assert_referentially_intact(engine)


def test_downgrade_gives_back_the_0003_schema_and_rows(store_0003):
    engine = store_0003
    before, schema, triggers = _rows(engine), _schema(engine), _triggers(engine)
    had_fk = bool(_site_keys(engine))  # see above
    init_db(engine)
    migrate(engine, "0003", down=True)
    assert current_revision(engine) == "0003" and _triggers(engine) == triggers
    after = _schema(engine)
    assert after == schema if had_fk else _without_fk(after) == schema  # to the byte on SQLite
    assert _rows(engine) == before
    assert [k["options"].get("ondelete") for k in _site_keys(engine)] == ["CASCADE"]
    _assert_referentially_intact(engine)
    with engine.begin() as conn:  # the foreign key cascades again
        conn.exec_driver_sql("DELETE FROM sites WHERE id = 2")
    assert [o[0] for o in _rows(engine)["offers"]] == [1, 2]
    init_db(engine)  # and up again
    assert _site_keys(engine) == [] and _triggers(engine) >= TRIGGERS


def test_downgrade_refuses_offers_without_a_site_and_changes_nothing(store_0003):
    engine = store_0003
    init_db(engine)
    with engine.begin() as conn:  # no foreign key says no now
        if engine.dialect.name == "postgresql":  # nor the insert trigger, as in a restore
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # without them
        conn.exec_driver_sql(
            "INSERT INTO offers (id, site_id, url, first_seen, last_seen, cur_suspect) "
            "VALUES (99, 999, 'https://gone.example/p', '2026-01-01', '2026-01-01', false)"
        )
    schema, triggers = _schema(engine), _triggers(engine)
    with pytest.raises((RuntimeError, IntegrityError), match="site|fk_offers_site_id_sites"):
        migrate(engine, "0003", down=True)
    assert current_revision(engine) == head_revision()
    assert _schema(engine) == schema and _triggers(engine) == triggers
    assert 99 in [o[0] for o in _rows(engine)["offers"]]


def test_a_store_created_without_the_constraint_gets_only_the_triggers(store_0003):
    """As from a regenerated 0001 (python -m pricing.store.migrations), which has no FK."""
    engine = store_0003
    init_db(engine)
    schema = _schema(engine)
    with engine.begin() as conn:  # back to "0003 without the constraint"
        for name in PG_TRIGGERS if engine.dialect.name == "postgresql" else TRIGGERS:
            if engine.dialect.name == "postgresql":
                table = "offers" if name.startswith("offers_site_exists") else "sites"
                conn.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
                conn.exec_driver_sql(f"DROP FUNCTION {name}()")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        command.stamp(alembic_config(conn), "0003")
    assert _triggers(engine).isdisjoint(TRIGGERS)
    init_db(engine)
    assert _schema(engine) == schema and _triggers(engine) >= TRIGGERS
