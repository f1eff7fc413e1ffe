"""Reading a large SQLite result as numpy columns through ADBC, in a child process.

Python's sqlite3 cursor builds a tuple per row and an object per value: for 850k offers x 8
columns that was most of a suggest run's read (1.9 s of CPU, measured). The Arrow project's
ADBC SQLite driver steps through the same statement in C and fills Arrow arrays (0.75 s for
the same rows, measured on the bench store), which numpy then takes over.

The driver carries its own copy of SQLite, statically linked. Two copies of SQLite in one
process must not open the same database: POSIX locks belong to the process, so one copy
closing its file drops the other's locks, and its WAL index can be unmapped under the other
(a bus error, seen in this project's tests; see "How To Corrupt An SQLite Database File",
2.2.1). So the driver runs in a child process of its own, which reads the file as any other
reader process would, read-only, and sends the table back as an Arrow IPC stream. Starting
it costs ~0.2 s (Python and pyarrow, not pandas), so the read as a whole takes ~1.15 s,
all of it off this process's GIL: our products load meanwhile (inputs.load_inputs).

SQLite columns have no fixed type, so the driver infers each one from the values of a batch,
and a later batch that disagrees is an error ("Type mismatch in column 0: expected INT64 but
got DOUBLE"). The whole result is therefore read as a single batch, so the type is inferred
from every value: an integer column with one REAL becomes double, one with a TEXT becomes
string. A column whose inferred type does not fit its kind (text where a number was meant),
or a child that fails, answers None, and the caller reads through the driver's cursor.

The child reads the last committed snapshot, as a second connection would. In-memory
databases have no file to open and answer None too.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Connection

logger = logging.getLogger(__name__)

Kind = Literal["int", "float", "text"]
# Rows per Arrow batch: all of them, so that type inference sees every value (see above).
# The driver grows its buffers as it goes (at most 2**31 - 2 is accepted).
ONE_BATCH = str(2**30)


def sqlite_file(conn: Connection) -> str | None:
    """The database file of a SQLite connection; None for memory databases and others."""
    if conn.dialect.name != "sqlite":
        return None
    path = conn.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def arrow_columns(conn: Connection, stmt, kinds: Sequence[Kind]) -> list[np.ndarray] | None:
    """The columns of ``stmt`` read by ADBC: int64 and float64 arrays, object arrays of str.

    A NULL reads as NaN in a float column, None in a text column; an int column with NULLs
    comes back as float64 with NaN (as numpy converts the cursor's None). None where ADBC
    cannot answer exactly (not a SQLite file, a column of an unexpected type, the child
    failed): use the cursor.
    """
    path = sqlite_file(conn)
    if path is None:
        return None
    if len(kinds) != len(stmt.selected_columns):
        raise ValueError("one kind per selected column")
    sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}).string
    table = read_table(path, sql)
    if table is None:
        return None
    out = []
    for column, kind in zip(table.columns, kinds, strict=True):
        values = _numpy(column, kind)
        if values is None:
            logger.info("ADBC read %s as %s, not %s: using the cursor", path, column.type, kind)
            return None
        out.append(values)
    return out


def read_table(path: str, sql: str) -> pa.Table | None:
    """``sql``'s result on the database file ``path``, read by ADBC in a child process."""
    import pyarrow.ipc  # noqa: PLC0415 - only readers of large results need pyarrow

    child = subprocess.run(
        [sys.executable, "-I", __file__, path],  # -I: no PYTHONPATH, no cwd on sys.path
        input=sql.encode(),
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        reason = child.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        logger.warning("ADBC could not read %s (%s): using the cursor", path, reason[0])
        return None
    return pyarrow.ipc.open_stream(child.stdout).read_all()


def _numpy(column: pa.ChunkedArray, kind: Kind) -> np.ndarray | None:
    """One Arrow column as the cursor path would type it; None if its type does not fit."""
    import pyarrow as pa  # noqa: PLC0415

    column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    type_ = column.type
    all_null = column.null_count == len(column)
    if kind == "text":
        if all_null:
            return np.full(len(column), None, dtype=object)
        if not (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
            return None
        # Few distinct values (currencies): one Python str each, then picked by code.
        encoded = column.dictionary_encode()
        words = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
        return words[encoded.indices.fill_null(-1).to_numpy()]
    if not (pa.types.is_integer(type_) or pa.types.is_floating(type_) or all_null):
        return None
    if kind == "int" and pa.types.is_integer(type_) and column.null_count == 0:
        return column.to_numpy().astype("int64", copy=False)
    if kind == "int" and pa.types.is_floating(type_):
        return None  # a REAL among the integers: the cursor would keep it, so must we
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _child(path: str) -> None:
    """Run the query on stdin against ``path``, write the result to stdout as Arrow IPC.

    The low-level ADBC API: its DB-API module imports pandas, which would double the
    child's start-up.
    """
    import adbc_driver_manager  # noqa: PLC0415
    import adbc_driver_sqlite  # noqa: PLC0415
    import pyarrow.ipc  # noqa: PLC0415
    import pyarrow.lib  # noqa: PLC0415

    uri = f"file:{urllib.parse.quote(path)}?mode=ro"
    sql = sys.stdin.read()
    with (
        adbc_driver_sqlite.connect(uri) as database,
        adbc_driver_manager.AdbcConnection(database) as connection,
        adbc_driver_manager.AdbcStatement(connection) as statement,
    ):
        statement.set_options(**{"adbc.sqlite.query.batch_rows": ONE_BATCH})
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        table = pyarrow.lib.RecordBatchReader._import_from_c(stream.address).read_all()
    with pyarrow.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)


if __name__ == "__main__":
    _child(sys.argv[1])
