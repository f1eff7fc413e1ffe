"""Reading a query through the driver's cursor, as numpy columns; and the SQL ``epoch``.

The cursor builds a tuple per row and a Python object per value: fine for small results
(sites, tags), and the fallback wherever the columnar reader (sqlite_columns.py) is not
exact or not available (PostgreSQL). Both read the same statements, so ``epoch`` is
defined here once for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import numpy as np
from sqlalchemy import Connection, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pricing.rules.sqlite_columns import Kind, exact_on, read_columns, sqlite_epoch


class epoch(FunctionElement):
    """Seconds since 1970 of a timestamp column, computed by the database."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return sqlite_epoch(compiler.process(element.clauses, **kw))


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
    """Columns of a statement through the cursor, typed as read_columns types them: numpy
    converts a list of ints or floats (None as NaN) in C, where going through a 2-D object
    array and ``astype`` per column cost three times as much (measured).

    Each column is picked out of the rows by ``map(itemgetter(i))``, not ``zip(*rows)``:
    zip creates an iterator object per row, and at 850k rows those set off the garbage
    collector's full passes over all the rows again and again (0.9 s against 0.18 s).
    """
    rows = fetch(conn, stmt)
    dtypes = {"int": "int64", "text": object}  # everything else is a float
    return [
        np.array(list(map(itemgetter(i), rows)), dtype=dtypes.get(k, "float64"))
        for i, k in enumerate(kinds)
    ]


def columns(
    conn: Connection, stmt, kinds: Sequence[Kind], not_null: Sequence[int], columnar: bool
) -> list[np.ndarray]:
    """Through sqlite_columns where asked for and exact, else through the driver's cursor."""
    if columnar and exact_on(conn):
        found = read_columns(conn, stmt, kinds, not_null=not_null)
        if found is not None:
            return found
    return typed_columns(conn, stmt, kinds)
