"""The ADBC reader (in a child process) returns exactly what the driver's cursor returns,
or hands over to it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select, text

import pricing.rules.arrow_columns as arrow_columns
import pricing.rules.inputs as inputs
from pricing.rules.arrow_columns import arrow_columns as read_arrow
from pricing.rules.config import Rates
from pricing.rules.cursor_columns import columns, typed_columns
from tests.rules.conftest import StoreBuilder

META = MetaData()
T = Table(
    "t",
    META,
    Column("id", Integer, primary_key=True),
    Column("n", Integer),
    Column("x", Float),
    Column("s", String),
)
KINDS = ("int", "int", "float", "text")
STMT = select(T.c.id, T.c.n, T.c.x, T.c.s).order_by(T.c.id)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('arrow') / 'a b%3F.db'}")
    META.create_all(engine)
    return engine


def _both(engine, rows: list[dict], stmt=STMT, kinds=KINDS) -> tuple[list, list | None]:
    """(the cursor's columns, ADBC's) for ``rows`` stored in table t."""
    with engine.begin() as conn:
        conn.execute(T.delete())
        if rows:
            conn.execute(T.insert(), rows)
    with engine.connect() as conn:
        return typed_columns(conn, stmt, kinds), read_arrow(conn, stmt, kinds)


def _same(cursor: list, adbc: list | None) -> None:
    assert adbc is not None
    for got, expected in zip(adbc, cursor, strict=True):
        if expected.dtype == object:
            assert got.dtype == object and got.tolist() == expected.tolist()
        else:
            assert got.dtype == expected.dtype
            assert np.array_equal(got, expected, equal_nan=True)


finite = st.floats(allow_nan=False, allow_infinity=False)
row = st.fixed_dictionaries(
    {
        "n": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "x": st.one_of(st.none(), finite),
        "s": st.one_of(st.none(), st.text(max_size=12)),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(row, max_size=40))
def test_any_rows_read_as_the_cursor_reads_them(engine, rows):
    rows = [{"id": i, **r} for i, r in enumerate(rows, start=1)]
    if any(r["n"] is None for r in rows):  # the cursor cannot type an int column with NULLs
        stmt = select(T.c.id, T.c.x, T.c.x, T.c.s).order_by(T.c.id)
        kinds = ("int", "float", "float", "text")
    else:
        stmt, kinds = STMT, KINDS
    _same(*_both(engine, rows, stmt, kinds))


def test_a_real_after_the_first_batch_of_integers_is_read_exactly(engine):
    # The driver infers types per batch; one batch of everything sees the 0.1 at the end.
    # (Column n has INTEGER affinity: the integers stay integers, the 0.1 a REAL.)
    rows = [{"id": i, "n": i, "s": "EUR"} for i in range(1, 3000)]
    rows.append({"id": 3000, "n": 0.1, "s": None})
    stmt = select(T.c.id, T.c.n, T.c.s).order_by(T.c.id)
    cursor, adbc = _both(engine, rows, stmt, ("int", "float", "text"))
    _same(cursor, adbc)
    assert adbc[1][-1] == 0.1 and adbc[1][-2] == 2999.0 and adbc[2][-1] is None


def test_nulls_before_text_in_the_first_thousand_rows(engine):
    rows = [{"id": i, "x": None, "s": None} for i in range(1, 2000)]
    rows.append({"id": 2000, "x": 2.5, "s": "CHF"})
    stmt = select(T.c.id, T.c.x, T.c.s).order_by(T.c.id)
    cursor, adbc = _both(engine, rows, stmt, ("int", "float", "text"))
    _same(cursor, adbc)
    assert adbc[2][-1] == "CHF" and adbc[1][-1] == 2.5


def test_a_column_of_another_type_than_asked_goes_to_the_cursor(engine):
    with engine.begin() as conn:
        conn.execute(T.delete())
        conn.execute(text("INSERT INTO t (id, n) VALUES (1, 1.5), (2, 'word')"))
    with engine.connect() as conn:
        assert read_arrow(conn, STMT, KINDS) is None  # text where an int was asked for
        stmt = select(T.c.id, T.c.n).where(T.c.id == 1)
        assert read_arrow(conn, stmt, ("int", "int")) is None  # a REAL among the integers
        assert columns(conn, stmt, ("int", "float"))[1].tolist() == [1.5]


def test_memory_databases_and_postgresql_use_the_cursor():
    engine = create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(T.insert(), [{"id": 1, "n": 2, "x": 0.5, "s": "a"}])
        assert read_arrow(conn, STMT, KINDS) is None
        assert [c.tolist() for c in columns(conn, STMT, KINDS)] == [[1], [2], [0.5], ["a"]]


def test_a_child_that_fails_hands_over_to_the_cursor(tmp_path, caplog):
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(b"this is not an SQLite file" * 100)
    with caplog.at_level("WARNING", logger="pricing.rules.arrow_columns"):
        assert arrow_columns.read_table(str(not_a_database), "SELECT 1") is None
    assert "ADBC could not read" in caplog.text and "garbage.db" in caplog.text


def test_no_rows(engine):
    cursor, adbc = _both(engine, [])
    assert [len(c) for c in adbc] == [0, 0, 0, 0]


def _offer_store(engine) -> None:
    store = StoreBuilder(engine)
    store.site("ch-shop", currency="CHF")
    p1 = store.product("P1", price=25)
    p2 = store.product("P2", price=30)
    store.offer(p1, "a", 20.0)
    store.offer(p1, "ch-shop", 10.0, currency=None)  # the site's currency
    store.offer(p1, "b", None)  # no price
    store.offer(p2, "c", 19.99, currency="EUR", suspect=True, confidence=0.123456789012345)
    store.offer(p2, "d", 1 / 3, currency='a,"b"\n', health="broken", substitute=True)
    store.offer(p2, "e", 7.0, currency="", status="confirmed", availability="out_of_stock")
    store.offer(p2, "f", 8.0, currency="123")  # text that looks like a number stays text


def test_offers_read_by_adbc_equal_offers_read_by_cursor(sqlite_engine, monkeypatch):
    _offer_store(sqlite_engine)
    calls = []
    real = arrow_columns.read_table

    def spy(path, sql):
        calls.append(path)
        return real(path, sql)

    monkeypatch.setattr(arrow_columns, "read_table", spy)
    with sqlite_engine.connect() as conn:
        adbc = inputs.raw_offers(conn)
        assert calls  # it did go through ADBC
        monkeypatch.setattr(arrow_columns, "read_table", lambda path, sql: None)
        by_cursor = inputs.raw_offers(conn)
        products_cursor = inputs.load_products(conn)
        monkeypatch.setattr(arrow_columns, "read_table", real)
        products_adbc = inputs.load_products(conn)
    pd.testing.assert_frame_equal(adbc, by_cursor)
    pd.testing.assert_frame_equal(products_adbc, products_cursor)
    assert len(adbc) == 7
    assert set(adbc["orig_currency"]) >= {"CHF", "", 'a,"b"\n', "123"}
    assert math.isnan(adbc.loc[adbc["site"] == "b", "orig_price"].iloc[0])


def test_the_threaded_read_equals_one_read(sqlite_engine):
    store = StoreBuilder(sqlite_engine)
    for i in range(9):
        pid = store.product(f"P{i}", price=20 + i)
        for site in ("a", "b"):
            store.offer(pid, site, 10.0 + i + (site == "b") / 3, currency="EUR" * (i % 2) or "USD")
    rates = Rates(base="USD", rates={"EUR": 1.1})
    p1, o1 = inputs.load_inputs(sqlite_engine, rates, workers=1)
    p2, o2 = inputs.load_inputs(sqlite_engine, rates, workers=2, min_split=0)
    pd.testing.assert_frame_equal(p1, p2)
    pd.testing.assert_frame_equal(o1, o2)
    assert len(o1) == 18
