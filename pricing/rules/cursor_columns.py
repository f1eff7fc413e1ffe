"""Reading a query as numpy columns, and the SQL ``epoch`` both readers use.

Large SQLite results come through ADBC (arrow_columns.py). The driver's cursor, which builds
a tuple per row and a Python object per value, reads small results (sites, tags), every
PostgreSQL result, and whatever ADBC cannot answer exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import numpy as np
from sqlalchemy import Connection, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pricing.rules.arrow_columns import Kind, arrow_columns

UNIX_JULIAN_DAY = 2440587.5


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, computed by the database."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"((julianday({compiler.process(element.clauses, **kw)}) - {UNIX_JULIAN_DAY}) * 86400.0)"


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return (
        f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"
    )


def fetch(conn: Connection, stmt) -> list[tuple]:
    """A Core statement's rows as the driver's tuples, skipping SQLAlchemy's Row objects."""
    sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}).string
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def object_rows(conn: Connection, stmt) -> np.ndarray:
    """Rows of a Core statement as a 2-D object array, straight from the driver's cursor."""
    rows = fetch(conn, stmt)
    width = len(stmt.selected_columns)
    return np.array(rows, dtype=object).reshape(len(rows), width)


def typed_columns(conn: Connection, stmt, kinds: Sequence[Kind]) -> list[np.ndarray]:
    """Columns of a statement through the cursor, typed as arrow_columns types them: numpy
    converts a list of ints or floats (None as NaN) in C, where going through a 2-D object
    array and ``astype`` per column cost three times as much (measured).

    Each column is picked out of the rows by ``map(itemgetter(i))``, not ``zip(*rows)``:
    zip creates an iterator object per row, and at 850k rows those set off the garbage
    collector's full passes over all the rows again and again (0.9 s against 0.18 s).
    """
    rows = fetch(conn, stmt)
    dtypes = {"int": "int64", "float": "float64", "text": object}
    return [np.array(list(map(itemgetter(i), rows)), dtype=dtypes[k]) for i, k in enumerate(kinds)]


def columns(conn: Connection, stmt, kinds: Sequence[Kind]) -> list[np.ndarray]:
    """Through ADBC where it can answer exactly, else through the driver's cursor."""
    found = arrow_columns(conn, stmt, kinds)
    return found if found is not None else typed_columns(conn, stmt, kinds)
