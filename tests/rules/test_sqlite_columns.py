"""The columnar SQLite reader returns exactly what the driver's cursor returns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select

import pricing.rules.inputs as inputs
from pricing.rules.config import Rates
from pricing.rules.sqlite_columns import EXACT_BELOW, exact_on, read_columns
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


@pytest.fixture(scope="module")
def engine():
    engine = create_engine("sqlite://")
    META.create_all(engine)
    return engine


def _both(engine, rows: list[dict]) -> tuple[list, list | None]:
    """(the cursor's columns, the columnar reader's) for ``rows`` stored in table t."""
    with engine.begin() as conn:
        conn.execute(T.delete())
        if rows:
            conn.execute(T.insert(), rows)
        stmt = select(T.c.id, T.c.n, T.c.x, T.c.s).order_by(T.c.id)
        cursor = [list(col) for col in zip(*conn.execute(stmt).all(), strict=True)] or [[]] * 4
        return cursor, read_columns(conn, stmt, KINDS, not_null=(0,))


def _same(cursor: list, columnar: list) -> None:
    ids, ns, xs, ss = cursor
    assert columnar[0].dtype == np.int64 and columnar[0].tolist() == ids
    expected_n = np.array([np.nan if v is None else v for v in ns], dtype="float64")
    assert np.array_equal(columnar[1].astype("float64"), expected_n, equal_nan=True)
    expected_x = np.array([np.nan if v is None else v for v in xs], dtype="float64")
    # Bit for bit, signed zeros aside (-0.0 == 0.0 for every use here).
    assert np.array_equal(columnar[2], expected_x, equal_nan=True)
    assert columnar[3].tolist() == ss


def test_the_probe_passes_on_this_build(engine):
    with engine.connect() as conn:
        assert exact_on(conn)


texts = st.none() | st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=12
)  # commas, quotes, newlines, any script, '' and NULL
floats = st.none() | st.floats(
    -EXACT_BELOW / 2, EXACT_BELOW / 2, allow_nan=False, allow_infinity=False
)
ints = st.none() | st.integers(-(2**62), 2**62)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(ints, floats, texts), max_size=30))
def test_columns_equal_the_cursor(engine, values):
    rows = [{"id": i + 1, "n": n, "x": x, "s": s} for i, (n, x, s) in enumerate(values)]
    cursor, columnar = _both(engine, rows)
    assert columnar is not None
    _same(cursor, columnar)


def test_typical_magnitudes_survive_bit_for_bit(engine):
    rng = np.random.default_rng(5)
    xs = np.concatenate(
        [
            rng.uniform(0, 1, 2000),  # confidences
            np.round(rng.lognormal(3, 1.5, 2000), 2),  # prices
            rng.uniform(1.7e9, 1.8e9, 2000),  # epoch seconds
        ]
    )
    rows = [{"id": i + 1, "n": i, "x": float(x), "s": "USD"} for i, x in enumerate(xs)]
    cursor, columnar = _both(engine, rows)
    _same(cursor, columnar)


@pytest.mark.parametrize("wild", [1e300, -2e60, math.inf])
def test_a_float_beyond_the_trusted_range_asks_for_the_cursor(engine, wild):
    cursor, columnar = _both(engine, [{"id": 1, "x": 1.5}, {"id": 2, "x": wild}])
    assert columnar is None


def test_no_rows(engine):
    cursor, columnar = _both(engine, [])
    assert [len(c) for c in columnar] == [0, 0, 0, 0]


def test_offers_read_columnar_equal_offers_read_by_cursor(sqlite_engine):
    store = StoreBuilder(sqlite_engine)
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
    with sqlite_engine.connect() as conn:
        columnar = inputs.raw_offers(conn, columnar=True)
        by_cursor = inputs.raw_offers(conn, columnar=False)
    pd.testing.assert_frame_equal(columnar, by_cursor)
    assert len(columnar) == 7
    assert set(columnar["orig_currency"]) >= {"CHF", "", 'a,"b"\n', "123"}


def test_the_split_read_uses_both_readers_and_equals_one_read(sqlite_engine, monkeypatch):
    store = StoreBuilder(sqlite_engine)
    for i in range(9):
        pid = store.product(f"P{i}", price=20 + i)
        for site in ("a", "b"):
            store.offer(pid, site, 10.0 + i + (site == "b") / 3, currency="EUR" * (i % 2) or "USD")
    rates = Rates(base="USD", rates={"EUR": 1.1})
    calls = []
    read = inputs.raw_offers

    def spy(conn, id_range=None, *, columnar=False):
        calls.append(columnar)
        return read(conn, id_range, columnar=columnar)

    monkeypatch.setattr(inputs, "raw_offers", spy)
    p1, o1 = inputs.load_inputs(sqlite_engine, rates, workers=1)
    p2, o2 = inputs.load_inputs(sqlite_engine, rates, workers=2, min_split=0)
    assert calls == [False, True, False] or calls == [False, False, True]
    pd.testing.assert_frame_equal(p1, p2)
    pd.testing.assert_frame_equal(o1, o2)
