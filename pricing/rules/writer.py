"""Writing a suggest run, in one transaction: all of it or nothing.

Pending suggestions are listed first; new rows go in as storage-form tuples (driver
executemany on SQLite, binary COPY on PostgreSQL: ORM objects were 9-17x slower in
``pricewatch bench suggest``), chunk by chunk on a writer thread while the next chunk is
evaluated (:class:`ChunkWriter`); the listed pending ones of every decided product are then
superseded; auto-approvals get their decisions and audit rows with set-based INSERT … SELECT.

SQLite's foreign-key checks are off for the write (the bulk sink's transaction): one check
of all product ids replaces a lookup per row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, String, cast, insert, literal, select
from sqlalchemy.exc import IntegrityError

from pricing.store.bulk import sink_for
from pricing.store.models import AuditLog, Decision, Product, Suggestion, SuggestionStatus

ACTOR = "rules"
COLUMNS = (
    "product_id", "created_at", "suggest_run", "strategy", "current_price", "proposed_price",
    "currency", "change_pct", "margin_before", "margin_after", "competitor_count",
    "lowest_competitor", "oldest_data_at", "explanation", "status", "decided_at",
)  # fmt: skip


def _py(values) -> list:
    """Python values with None for NaN/NA (what drivers expect), converted column-wise."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.tolist()
    if arr.dtype.kind == "f":
        return np.where(np.isnan(arr), None, arr).tolist()
    obj = np.asarray(values, dtype=object)
    return np.where(pd.isna(obj), None, obj).tolist()


def stamps(sink, times: pd.Series) -> list:
    """Storage forms of a datetime column; vectorized when the sink stores ISO text."""
    present = times.notna().to_numpy()
    if not present.any():
        return [None] * len(times)
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ").astype(object)
    first = int(np.flatnonzero(present)[0])
    if sink.ts(times.iloc[first].to_pydatetime()) != text[first]:  # not a text-storing sink
        return [
            sink.ts(t.to_pydatetime()) if ok else None for t, ok in zip(times, present, strict=True)
        ]
    return np.where(present, text, None).tolist()


def records(rows: pd.DataFrame) -> list[dict]:
    """The rows as dicts of Python values (for ORM or Core inserts)."""
    cols = {c: _py(rows[c]) for c in COLUMNS if c != "oldest_data_at"}
    cols["oldest_data_at"] = [
        t.to_pydatetime() if ok else None
        for t, ok in zip(rows["oldest_data_at"], rows["oldest_data_at"].notna(), strict=True)
    ]
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def storage_rows(sink, rows: pd.DataFrame, now: datetime) -> list[tuple]:
    """The rows as tuples of storage-form values, in ``COLUMNS`` order."""
    stamp = sink.ts(now)
    auto = (rows["status"] == SuggestionStatus.auto_approved.value).to_numpy()
    skip = ("created_at", "oldest_data_at", "decided_at")
    cols = {c: _py(rows[c]) for c in COLUMNS if c not in skip}
    cols["created_at"] = [stamp] * len(rows)
    cols["oldest_data_at"] = stamps(sink, rows["oldest_data_at"])
    cols["decided_at"] = np.where(auto, stamp, None).tolist()
    for c in ("current_price", "proposed_price"):
        cols[c] = [None if v is None else sink.money(v) for v in cols[c]]
    return list(zip(*(cols[c] for c in COLUMNS), strict=True))


class ChunkWriter:
    """Inserts a run's suggestions chunk by chunk on one worker thread, in the order given,
    while the caller evaluates the next chunk; :meth:`finish` does the rest of a run's write.

    On SQLite the rows go first into an index-free temporary table, then into ``suggestions``
    with one ``INSERT … SELECT``: maintaining the table's ten indexes (most of the write) then
    runs inside one statement, which releases the GIL, so it overlaps the evaluation on the
    other core. (Plain executemany from a thread gained nothing: the GIL changes hands per
    row.) PostgreSQL's binary COPY runs on the thread as it is.
    """

    STAGE = "suggest_stage"

    def __init__(self, conn: Connection, now: datetime, pool: ThreadPoolExecutor):
        self.conn, self.now, self.pool = conn, now, pool
        self.sink = sink_for(conn)
        self.pending = pending_suggestions(conn)  # listed before any new row goes in
        self.known = _product_ids(conn)
        self.futures: list = []

    def submit(self, rows: pd.DataFrame) -> None:
        if not len(rows):
            return
        _check_products(None, rows["product_id"].to_numpy(), self.known)
        values = storage_rows(self.sink, rows, self.now)
        self.futures.append(self.pool.submit(self._insert, values))

    def _insert(self, values: list[tuple]) -> None:
        if self.conn.dialect.name != "sqlite":
            self.sink.insert(Suggestion.__table__, COLUMNS, values)
            return
        names = ", ".join(COLUMNS)
        stage = f"temp.{self.STAGE}"
        cursor = self.sink.raw.cursor()
        try:  # untyped columns: values reach suggestions exactly as a direct insert sends them
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} ({names})")
            marks = ", ".join("?" * len(COLUMNS))
            for i in range(0, len(values), 5000):
                cursor.executemany(f"INSERT INTO {stage} VALUES ({marks})", values[i : i + 5000])
            cursor.execute(
                f"INSERT INTO suggestions ({names}) SELECT {names} FROM {stage} ORDER BY rowid"
            )
            cursor.execute(f"DELETE FROM {stage}")
        finally:
            cursor.close()

    def finish(
        self, rows: pd.DataFrame, decided: np.ndarray, run_id: str, audit: dict
    ) -> tuple[int, int]:
        """Wait for the inserts, then supersede, record auto-approvals and audit the run."""
        for future in self.futures:
            future.result()
        if self.conn.dialect.name == "sqlite" and self.futures:
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{self.STAGE}")
        return after_insert(self.conn, rows, self.pending, decided, run_id, self.now, audit)


def _product_ids(conn: Connection) -> np.ndarray:
    return np.fromiter(conn.execute(select(Product.id)).scalars(), dtype="int64")


def _check_products(
    conn: Connection | None, product_ids: np.ndarray, known: np.ndarray | None = None
) -> None:
    """Every product still exists: one set-based check instead of SQLite's per-row FK lookup.

    Runs inside the write transaction (SQLite: ``BEGIN IMMEDIATE``, so no product can be
    deleted before commit); a product deleted since the read fails the run, as the foreign
    key would have.
    """
    known = _product_ids(conn) if known is None else known
    missing = np.setdiff1d(np.asarray(product_ids, dtype="int64"), known)
    if len(missing):
        raise IntegrityError(
            "suggestions.product_id",
            None,
            LookupError(f"{len(missing)} products deleted during the run, e.g. id {missing[0]}"),
        )


def pending_suggestions(conn: Connection) -> pd.DataFrame:
    rows = conn.execute(
        select(Suggestion.id, Suggestion.product_id).where(
            Suggestion.status == SuggestionStatus.pending.value
        )
    ).all()
    return pd.DataFrame(rows, columns=["id", "product_id"])


def supersede(
    conn: Connection, pending: pd.DataFrame, decided: np.ndarray, run_id: str, now: datetime
) -> int:
    """Mark the listed pending suggestions of the decided products as superseded."""
    stale = pending.loc[pending["product_id"].isin(decided), "id"].tolist()
    if not stale:
        return 0
    sink = sink_for(conn)
    values = (SuggestionStatus.superseded.value, sink.ts(now))
    sink.update(Suggestion.__table__, ("status", "decided_at"), [(i, *values) for i in stale])
    conn.execute(
        insert(AuditLog).values(
            at=now,
            actor=ACTOR,
            action="supersede",
            entity="suggestion",
            entity_id=run_id,
            count=len(stale),
            details={"reason": f"replaced by suggest run {run_id}"},
        )  # fmt: skip
    )
    return len(stale)


def record_auto_approvals(conn: Connection, run_id: str, now: datetime) -> None:
    """A decisions row and an audit_log row for each auto-approved suggestion of the run."""
    mine = (Suggestion.suggest_run == run_id) & (
        Suggestion.status == SuggestionStatus.auto_approved.value
    )
    conn.execute(
        insert(Decision).from_select(
            ["suggestion_id", "decided_at", "action", "old_price", "new_price", "note"],
            select(
                Suggestion.id,
                literal(now, Decision.decided_at.type),
                literal("auto_approve"),
                Suggestion.current_price,
                Suggestion.proposed_price,
                literal("change below the auto-approval threshold"),
            ).where(mine),
        )  # fmt: skip
    )
    conn.execute(
        insert(AuditLog).from_select(
            ["at", "actor", "action", "entity", "entity_id", "old_value", "new_value", "count"],
            select(
                literal(now, AuditLog.at.type),
                literal(ACTOR),
                literal("auto_approve"),
                literal("suggestion"),
                cast(Suggestion.id, String),
                cast(Suggestion.current_price, String),
                cast(Suggestion.proposed_price, String),
                literal(1),
            ).where(mine),
        )  # fmt: skip
    )


def after_insert(
    conn: Connection,
    rows: pd.DataFrame,
    pending: pd.DataFrame,
    decided: np.ndarray,
    run_id: str,
    now: datetime,
    audit: dict,
) -> tuple[int, int]:
    """After the new rows: supersede, auto-approvals, the run's audit row."""
    superseded = supersede(conn, pending, decided, run_id, now)
    auto = int((rows["status"] == SuggestionStatus.auto_approved.value).sum()) if len(rows) else 0
    if auto:
        record_auto_approvals(conn, run_id, now)
    conn.execute(insert(AuditLog).values(**audit))
    return superseded, auto
