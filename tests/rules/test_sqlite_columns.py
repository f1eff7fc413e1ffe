"""The columnar SQLite reader returns exactly what the driver's cursor returns."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select

import pricing.rules.inputs as inputs
import pricing.rules.sqlite_columns as sqlite_columns
from pricing.rules.config import Rates
from pricing.rules.cursor_columns import epoch, typed_columns
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
# Float columns sent as exact integers (sqlite_columns.CODECS): an amount, a confidence, the
# epoch of a timestamp, and a float read as "epoch" that no timestamp made (the text path).
CODED = Table(
    "coded",
    META,
    Column("id", Integer, primary_key=True),
    Column("m", Float),
    Column("u", Float),
    Column("ts", String),
    Column("e", Float),
)
CODED_KINDS = ("int", "money", "unit", "epoch", "epoch")


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


def _coded(engine, rows: list[dict]) -> tuple[list, list | None]:
    """(the cursor's columns, the columnar reader's) for ``rows`` stored in table coded."""
    with engine.begin() as conn:
        conn.execute(CODED.delete())
        if rows:
            conn.execute(CODED.insert(), rows)
        c = CODED.c
        stmt = select(c.id, c.m, c.u, epoch(c.ts), c.e).order_by(c.id)
        return typed_columns(conn, stmt, CODED_KINDS), read_columns(conn, stmt, CODED_KINDS)


def _bits(values: np.ndarray) -> list:
    """Each float's bit pattern (NaN as None): equal means equal bit for bit."""
    values = np.asarray(values, dtype="float64")
    bits = values.view("int64").tolist()
    return [None if math.isnan(v) else b for v, b in zip(values, bits, strict=True)]


def _same_coded(cursor: list, columnar: list | None) -> None:
    assert columnar is not None
    assert columnar[0].tolist() == cursor[0].tolist()
    for got, expected in zip(columnar[1:], cursor[1:], strict=True):
        assert got.dtype == np.float64 and _bits(got) == _bits(expected)


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


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores a DateTime on SQLite


amounts = st.decimals(-(10**6), 10**9, places=4, allow_nan=False).map(float)  # as stored
stamps = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)).map(_stamp)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.none() | amounts | floats,
            st.none() | st.floats(0, 1) | floats,
            st.none() | stamps,
            floats,
        ),
        max_size=30,
    )
)
def test_coded_floats_equal_the_cursor_bit_for_bit(engine, values):
    """Amounts, confidences and times sent as integers, and the rows where that is not
    exact (more decimals, tiny or negative values, times before 1970) sent as text."""
    rows = [
        {"id": i + 1, "m": m, "u": u, "ts": ts, "e": e} for i, (m, u, ts, e) in enumerate(values)
    ]
    cursor, columnar = _coded(engine, rows)
    _same_coded(cursor, columnar)


def _spy_on_spills(monkeypatch) -> list[list[int]]:
    """Records, per read, the positions of the rows that came with full text."""
    spilled, parse = [], sqlite_columns._parse

    def spy(result, kinds, spill=None):
        null_bits = np.fromstring(result[-1] or "", dtype="int64", sep=",")
        spilled.append(np.flatnonzero(null_bits >> 62 & 1).tolist() if spill else [])
        return parse(result, kinds, spill)

    monkeypatch.setattr(sqlite_columns, "_parse", spy)
    return spilled


def test_rows_that_do_not_fit_the_integers_come_as_text(engine, monkeypatch):
    spilled = _spy_on_spills(monkeypatch)
    t0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    fits = {"m": 19.49, "u": 0.7, "ts": _stamp(t0), "e": None}
    odd = [
        {"m": 19.49001},  # five decimals
        {"m": -5.25},  # negative: rounding by truncation misses it
        {"m": 1e30},
        {"u": 1e-5},  # below 2**-8
        {"u": 9.5},  # above 8
        {"ts": _stamp(datetime(1969, 7, 20, 20, 17, 40))},  # before 1970
        {"e": 1.7e9 + 0.1234567},  # not a julianday() millisecond
    ]
    rows = [{"id": 1, **fits}, {"id": 2, "m": None, "u": None, "ts": None, "e": None}]
    rows += [{**fits, **o, "id": i} for i, o in enumerate(odd, start=3)]
    cursor, columnar = _coded(engine, rows)
    _same_coded(cursor, columnar)
    assert spilled == [list(range(2, 2 + len(odd)))]  # exactly the odd rows, by position


def test_a_single_coded_column_where_every_row_comes_as_text(engine):
    # The texts then look like numbers alone: they must still be read as texts.
    rows = [
        {"id": i, "m": m, "u": None, "ts": None, "e": None}
        for i, m in enumerate([0.5**40, 7 / 3], 1)
    ]
    with engine.begin() as conn:
        conn.execute(CODED.delete())
        conn.execute(CODED.insert(), rows)
        stmt = select(CODED.c.id, CODED.c.m).order_by(CODED.c.id)
        cursor = typed_columns(conn, stmt, ("int", "money"))
        _same_coded(cursor, read_columns(conn, stmt, ("int", "money")))


def test_typical_magnitudes_travel_as_integers(engine, monkeypatch):
    """The bench's kind of data: every row exact as an integer, none needs the text."""
    rng = np.random.default_rng(3)
    t0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
    rows = [
        {
            "id": i + 1,
            "m": float(Decimal(str(round(float(rng.lognormal(3, 1.5)), 2)))),
            "u": float(rng.uniform(0.7, 1.0)),
            "ts": _stamp(t0 - timedelta(hours=float(rng.uniform(0, 60)))),
            "e": None,
        }
        for i in range(3000)
    ]
    spilled = _spy_on_spills(monkeypatch)
    cursor, columnar = _coded(engine, rows)
    _same_coded(cursor, columnar)
    assert spilled == [[]]


def test_odd_texts_equal_the_cursor(engine):
    texts = ["a\x00b", "0", "1e5", "NULL", "", " a ", "'", '"', ",", "\r\n", "é中😀", None]
    cursor, columnar = _both(engine, [{"id": i, "s": t} for i, t in enumerate(texts, start=1)])
    _same(cursor, columnar)


@pytest.mark.parametrize("wild", [1e300, -2e60, math.inf])
def test_a_float_beyond_the_trusted_range_asks_for_the_cursor(engine, wild):
    cursor, columnar = _both(engine, [{"id": 1, "x": 1.5}, {"id": 2, "x": wild}])
    assert columnar is None


@pytest.mark.parametrize("wild", [1e300, -2e60, math.inf])
@pytest.mark.parametrize("column", ["m", "u", "e"])
def test_a_coded_float_beyond_the_trusted_range_asks_for_the_cursor(engine, wild, column):
    fine = {"m": 1.5, "u": 0.5, "ts": None, "e": None}
    rows = [{"id": 1, **fine}, {"id": 2, **fine, column: wild}]
    cursor, columnar = _coded(engine, rows)
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
    # The cursor's part (product 1) sees only USD, the other part both: one categorical still.
    monkeypatch.setattr(inputs, "CURSOR_SHARE", 0.2)
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
