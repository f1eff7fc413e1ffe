"""Reading a large SQLite result as numpy columns, without one Python object per value.

Python's sqlite3 cursor builds a tuple per row and an object per value while holding the
GIL: for 850k offers x 8 columns that was most of a suggest run's read (1.3 of 2.1 s), and
two reader threads only slowed each other (5.3 s against 2.9 s in one thread, measured: each
row's ``sqlite3_step`` hands the GIL over). Here SQLite writes each column as text itself,
one ``group_concat`` per column over the same rows, all inside a single ``sqlite3_step``
that runs without the GIL, and numpy parses each column in one call. Threads then really
use both cores.

Exactness: integers print as integers. Floats of a known sort travel as integers too, which
is cheaper to print and to parse and exact by construction (see :data:`CODECS`): money as
ten-thousandths, values near 1 (confidences) scaled by 2**60, SQLite epoch seconds as
milliseconds. SQLite checks per row that the integer gives back exactly the stored double,
with the same IEEE operations numpy applies afterwards; rows where it does not (a price with
more than 4 decimals, a tiny confidence) also carry their values in full-precision text,
which replace the integers' for those rows. Full-precision text is ``printf('%!.17g')``, 17
significant digits, which identify every double, and numpy parses them correctly rounded.
SQLite computes the digits in extended precision, which is exact only up to a magnitude
(3.40 on x86-64: millions of random doubles up to 1e100 came back bit for bit, some above
1e200 did not), and builds differ. So :func:`exact_on` probes the running SQLite once, and
:func:`read_columns` answers None (read with the cursor instead) when any float sent as text
is beyond ``EXACT_BELOW``: a price or a confidence never is. Text travels as the hex of its
UTF-8 bytes, so no value needs quoting. NULLs come in a bit mask column, so a NULL never
reads as 0 or as ''.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select

Kind = Literal["int", "float", "text", "money", "unit", "epoch"]
_PROBE: dict[str, bool] = {}
EXACT_BELOW = 1e50  # magnitude up to which floats are trusted to survive the text

# SQLite's julianday() is a count of milliseconds divided by 86,400,000 (its iJD); the Unix
# epoch is Julian day 2440587.5, i.e. millisecond 210,866,760,000,000 of that count.
UNIX_JULIAN_DAY = 2440587.5
_UNIX_JULIAN_MS = 210_866_760_000_000


def sqlite_epoch(timestamp_sql: str) -> str:
    """SQLite's epoch seconds of a timestamp, the computation the ``epoch`` codec undoes."""
    return f"((julianday({timestamp_sql}) - {UNIX_JULIAN_DAY}) * 86400.0)"


@dataclass(frozen=True)
class Codec:
    """A float column sent as an integer ``k``.

    ``encode`` and ``decode`` are SQL templates ({x}: the value, {k}: the integer);
    ``unpack`` is ``decode`` in numpy: the same IEEE operations in the same order, starting
    from the same conversion of ``k`` to a double, so wherever SQLite found
    ``decode(encode(x)) = x`` numpy gets ``x`` back bit for bit, whatever ``k`` is.
    """

    encode: str
    decode: str
    unpack: Callable[[np.ndarray], np.ndarray]


CODECS: dict[str, Codec] = {
    # Amounts stored from Decimals quantized to 4 places (the store's Sink.money): k / 10**4
    # is correctly rounded, so it is the stored double whenever that is the nearest double
    # of a 4-decimal value. (+ 0.5 and truncation round a positive x; a negative one comes
    # out wrong and goes as text: round() cost 0.04 s more at 850k rows.)
    "money": Codec(
        "CAST({x} * 10000 + 0.5 AS INTEGER)",
        "{k} / 10000.0",
        lambda k: k.astype("float64") / 10000.0,
    ),
    # Every double in [2**-8, 8) is an integer times 2**-60: exact for confidences >= 0.004.
    "unit": Codec(
        "CAST({x} * 1152921504606846976.0 AS INTEGER)",
        "{k} / 1152921504606846976.0",
        lambda k: k.astype("float64") / 1152921504606846976.0,
    ),
    # sqlite_epoch() of a timestamp after 1970: julianday has millisecond resolution and is
    # within 0.05 ms of the true value, so x * 1000 rounds to the exact Unix millisecond, and
    # decode repeats sqlite_epoch's arithmetic on julianday's own millisecond count.
    "epoch": Codec(
        "CAST({x} * 1000 + 0.5 AS INTEGER)",
        f"(({{k}} + {_UNIX_JULIAN_MS}.0) / 86400000.0 - {UNIX_JULIAN_DAY}) * 86400.0",
        lambda k: (
            ((k.astype("float64") + _UNIX_JULIAN_MS) / 86400000.0 - UNIX_JULIAN_DAY) * 86400.0
        ),
    ),
}
_FORMAT = {"int": "%d", "float": "%!.17g", "text": "%s"} | {k: "%d" for k in CODECS}
_DTYPE = {"int": "int64", "float": "float64", "text": "category"} | {k: "int64" for k in CODECS}


def exact_on(conn: Connection) -> bool:
    """True when floats survive SQLite's ``%!.17g`` and numpy's parser bit for bit here.

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
            sql = f"SELECT group_concat(printf('%!.17g', column1)) FROM (VALUES {rows})"
            try:
                text = cursor.execute(sql, values).fetchone()[0]
                got = np.fromstring(text, dtype="float64", sep=",")
                _PROBE[version] = bool(np.array_equal(got, expected))
            except Exception:  # noqa: BLE001 - any failure means: use the cursor
                _PROBE[version] = False
        return _PROBE[version]
    finally:
        cursor.close()


def read_columns(
    conn: Connection, stmt: Select, kinds: Sequence[Kind], not_null: Collection[int] = ()
) -> list[np.ndarray] | None:
    """The columns of ``stmt`` (SQLite only): int64 / float64 arrays, object arrays of str.

    ``kinds``: "money", "unit" and "epoch" are float columns sent as integers where exact
    (:data:`CODECS`), "float" any other float. A NULL reads as NaN in a float column, None
    in a text column; an int column with NULLs comes back as float64 with NaN (as numpy
    would convert the cursor's None). None when a float sent as text lies beyond
    ``EXACT_BELOW`` (or is infinite): read those rows with the cursor. Check
    :func:`exact_on` first. ``not_null``: positions of columns that cannot be NULL (NOT
    NULL columns, CASE flags), which skip the NULL bookkeeping.

    Each column is one ``group_concat`` of the same rows (so in the same order), parsed by
    numpy in one call: 1.1 s for 807k offers against 1.55 s as one CSV line per row through
    ``printf`` (measured; printf grew its text by reallocation per field, and each
    allocation takes this SQLite's global memory mutex). A first query only counts the rows
    whose integers would not be exact; only when there are some does a second one send
    those rows' values as full text too (per row, 0.3 s more).
    """
    if len(kinds) != len(stmt.selected_columns):
        raise ValueError("one kind per selected column")
    if len(kinds) > 62:
        raise ValueError("at most 62 columns (one bit each in the NULL mask)")
    labeled = stmt.with_only_columns(
        *(c.label(f"c{i}") for i, c in enumerate(stmt.selected_columns))
    )
    inner = labeled.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    # LIMIT -1 keeps the statement a subquery (a co-routine) instead of flattening it into
    # this one: each value is then computed once, not once per use below.
    source = f"(SELECT * FROM ({inner.string}) LIMIT -1)"
    columns, nulls, coded, exact = [], [], [], []
    for i, kind in enumerate(kinds):
        name = f"c{i}"
        value = name if i in not_null else f"ifnull({name}, 0)"  # group_concat skips NULL
        if kind == "text":  # hex: no separator inside; a letter first: it stays text
            columns.append(f"CAST(group_concat('x' || hex({name}), '\n') AS BLOB)")
        elif kind == "float":
            columns.append(f"group_concat(printf('%!.17g', {value}))")
        elif kind in CODECS:
            codec = CODECS[kind]
            k = codec.encode.format(x=name)
            columns.append(f"group_concat(ifnull({k}, 0))")
            coded.append(name)
            exact.append(f"{codec.decode.format(k=k)} = {name}")  # NULL for a NULL value
        else:
            columns.append(f"group_concat({value})")
        if i not in not_null:
            nulls.append(f"(({name} IS NULL) << {i})")
    mask = " | ".join(nulls) or "0"
    inexact = " OR ".join(f"NOT ({e})" for e in exact) or "0"
    sql = f"SELECT count(*), {', '.join(columns)}, group_concat({mask}), "
    first = _fetch_one(conn, f"{sql}count(CASE WHEN {inexact} THEN 1 END) FROM {source}")
    if not first[-1]:
        return _parse(first[:-1], kinds)
    # Some rows do not fit: flag them in the mask (bit 62) and send their coded values in
    # full text, in row order, in one more column (only theirs: NULL is skipped).
    texts = f"printf('x{';'.join(['%!.17g'] * len(coded))}', {', '.join(coded)})"
    spill = f"group_concat(CASE WHEN fits THEN NULL ELSE {texts} END, '\n')"
    fits = " AND ".join(f"({e}) IS NOT 0" for e in exact)
    second = _fetch_one(
        conn,
        sql.replace(f"group_concat({mask})", f"group_concat(({mask}) | ((NOT fits) << 62))")
        + f"{spill} FROM (SELECT *, {fits} AS fits FROM {source} LIMIT -1)",
    )
    return _parse(second[:-1], kinds, second[-1])


def _fetch_one(conn: Connection, sql: str) -> tuple:
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        return cursor.execute(sql).fetchone()
    finally:
        cursor.close()


def _numbers(text: str | None, dtype: str, n: int) -> np.ndarray | None:
    """A group_concat of numbers; None if it did not parse to ``n`` of them."""
    values = np.fromstring(text or "", dtype=dtype, sep=",") if n else np.empty(0, dtype)
    return values if len(values) == n else None


def _parse(
    result: tuple, kinds: Sequence[Kind], spill: bytes | str | None = None
) -> list[np.ndarray] | None:
    """(count, one text per column, the NULL mask) as columns; ``spill``: the full texts
    of the rows flagged in bit 62 of the mask."""
    n, *texts, mask_text = result
    null_bits = _numbers(mask_text, "int64", n)
    if null_bits is None:
        return None
    spilled = None
    if spill is not None:  # lines of "x<v>;<v>...", one per row flagged in bit 62
        rows = np.flatnonzero(null_bits >> 62 & 1)
        width = len([k for k in kinds if k in CODECS])
        flat = str(spill).replace("\nx", ";").removeprefix("x").replace(";", ",")
        values = _numbers(flat, "float64", len(rows) * width)
        if values is None or (len(values) and not np.abs(values).max() < EXACT_BELOW):
            return None
        spilled = rows, values.reshape(len(rows), width)
    out, coded = [], 0
    for i, (kind, text) in enumerate(zip(kinds, texts, strict=True)):
        null = (null_bits >> i) & 1 == 1
        if kind == "text":
            # Few distinct values (currencies): decode each once, then index by code.
            col = (
                pd.read_csv(
                    io.BytesIO(text or b""), header=None, dtype="category", na_filter=False
                )[0]
                if n
                else pd.Series([], dtype="category")
            )
            if len(col) != n:
                return None
            hexes = col.cat.categories
            decoded = np.array([bytes.fromhex(h[1:]).decode() for h in hexes] + [None], object)
            values = decoded[col.cat.codes.to_numpy()]  # code -1 (none) picks the None
            values[null] = None
        else:
            values = _numbers(text, "float64" if kind == "float" else "int64", n)
            if values is None:
                return None
            if kind in CODECS:
                values = CODECS[kind].unpack(values)
                if spilled is not None:
                    values[spilled[0]] = spilled[1][:, coded]
                coded += 1
            elif kind == "float" and n and not np.abs(values).max() < EXACT_BELOW:
                return None
            if null.any():
                values = values.astype("float64")
                values[null] = np.nan
        out.append(values)
    return out
