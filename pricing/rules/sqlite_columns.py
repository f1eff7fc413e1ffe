"""Reading a large SQLite result as numpy columns, without one Python object per value.

Python's sqlite3 cursor builds a tuple per row and an object per value while holding the
GIL: for 850k offers x 8 columns that was most of a suggest run's read (1.3 of 2.1 s), and
two reader threads only slowed each other (5.3 s against 2.9 s in one thread, measured: each
row's ``sqlite3_step`` hands the GIL over). Here SQLite formats the whole result itself, as
CSV text in one ``group_concat`` inside a single ``sqlite3_step`` that runs without the GIL,
and pandas' C parser turns the text into typed columns. Threads then really use both cores.

Exactness: integers print as integers; floats print with ``printf('%!.17g')``, 17
significant digits, which identify every double, and pandas parses them correctly rounded
(fast_float). SQLite computes the digits in extended precision, which is exact only up to a
magnitude (3.40 on x86-64: millions of random doubles up to 1e100 came back bit for bit,
some above 1e200 did not), and builds differ. So :func:`exact_on` probes the running SQLite
once, and :func:`read_columns` answers None (read with the cursor instead) when any float
is beyond ``EXACT_BELOW``: a price or a confidence never is. Text travels as the hex of its
UTF-8 bytes, so no value needs quoting. NULLs come in a bit mask column, so a NULL never
reads as 0 or as ''.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select

Kind = Literal["int", "float", "text"]
_FORMAT = {"int": "%d", "float": "%!.17g", "text": "%s"}
_DTYPE = {"int": "int64", "float": "float64", "text": "category"}
_PROBE: dict[str, bool] = {}
EXACT_BELOW = 1e50  # magnitude up to which floats are trusted to survive the text


def exact_on(conn: Connection) -> bool:
    """True when floats survive SQLite's ``%!.17g`` and pandas' parser bit for bit here.

    Probed once per SQLite version with the magnitudes the rules engine meets (prices,
    confidences, epoch seconds) and random bit patterns up to ``EXACT_BELOW``.
    """
    if conn.dialect.name != "sqlite":
        return False
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        version = cursor.execute("SELECT sqlite_version()").fetchone()[0]
        if version not in _PROBE:
            rng = random.Random(7)
            values = [0.1, 0.7, 1 / 3, 19.49, 1e-7, 123456.789, 1.7e9 + 0.123456, 2.0**-30]
            values += [rng.uniform(0, 1) for _ in range(300)]
            values += [rng.uniform(1e8, 2e9) for _ in range(300)]
            while len(values) < 900:  # random bit patterns; 900 < 999 parameters
                v = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
                if 1e-300 < abs(v) < EXACT_BELOW:
                    values.append(v)
            expected = np.array(values, dtype="float64")
            rows = ",".join("(?)" for _ in values)
            sql = f"SELECT group_concat(printf('%!.17g', column1), char(10)) FROM (VALUES {rows})"
            try:
                text = cursor.execute(sql, values).fetchone()[0]
                got = pd.read_csv(io.StringIO(text), header=None, dtype="float64")[0]
                _PROBE[version] = bool(np.array_equal(got.to_numpy(), expected))
            except Exception:  # noqa: BLE001 - any failure means: use the cursor
                _PROBE[version] = False
        return _PROBE[version]
    finally:
        cursor.close()


def read_columns(
    conn: Connection, stmt: Select, kinds: Sequence[Kind], not_null: Collection[int] = ()
) -> list[np.ndarray] | None:
    """The columns of ``stmt`` (SQLite only): int64 / float64 arrays, object arrays of str.

    A NULL reads as NaN in a float column, None in a text column; an int column with NULLs
    comes back as float64 with NaN (as numpy would convert the cursor's None). None when a
    float lies beyond ``EXACT_BELOW`` (or is infinite): read those rows with the cursor.
    Check :func:`exact_on` first. ``not_null``: positions of columns that cannot be NULL
    (NOT NULL columns, CASE flags), which skip the NULL bookkeeping (0.2 s of 1.7 at 850k).
    """
    if len(kinds) != len(stmt.selected_columns):
        raise ValueError("one kind per selected column")
    labeled = stmt.with_only_columns(
        *(c.label(f"c{i}") for i, c in enumerate(stmt.selected_columns))
    )
    inner = labeled.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    args, nulls = [], []
    for i, kind in enumerate(kinds):
        name = f"c{i}"
        if kind == "text":
            args.append(f"'x' || hex({name})")  # a letter first: read_csv keeps it text
        else:
            args.append(name if i in not_null else f"ifnull({name}, 0)")
        if i not in not_null:
            nulls.append(f"(({name} IS NULL) << {i})")
    fmt = ",".join([*(_FORMAT[k] for k in kinds), "%d"])
    sql = (
        f"SELECT group_concat(printf('{fmt}', {', '.join(args)}, {' | '.join(nulls) or '0'}), "
        f"char(10)) FROM ({inner.string}) AS t"
    )
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        text = cursor.execute(sql).fetchone()[0]
    finally:
        cursor.close()
    return _parse(text or "", kinds)


def _parse(text: str, kinds: Sequence[Kind]) -> list[np.ndarray] | None:
    names = [f"c{i}" for i in range(len(kinds) + 1)]
    dtypes = {n: _DTYPE[k] for n, k in zip(names, kinds, strict=False)}
    dtypes[names[-1]] = "int64"  # the NULL bit mask
    if text:
        frame = pd.read_csv(
            io.StringIO(text), header=None, names=names, dtype=dtypes, na_filter=False
        )
    else:
        frame = pd.DataFrame({n: pd.Series(dtype=d) for n, d in dtypes.items()})
    null_bits = frame[names[-1]].to_numpy()
    out = []
    for i, kind in enumerate(kinds):
        col = frame[names[i]]
        null = (null_bits >> i) & 1 == 1
        if kind == "text":
            # Few distinct values (currencies): decode each once, then index by code.
            hexes = col.cat.categories
            decoded = np.array([bytes.fromhex(h[1:]).decode() for h in hexes] + [None], object)
            values = decoded[col.cat.codes.to_numpy()]  # code -1 (none) picks the None
            values[null] = None
        else:
            values = col.to_numpy()
            if kind == "float" and len(values) and not np.abs(values).max() < EXACT_BELOW:
                return None
            if null.any():
                values = values.astype("float64")
                values[null] = np.nan
        out.append(values)
    return out
