"""Writing a suggest run, in one transaction: all of it or nothing.

Pending suggestions are listed first; new rows go in through the store's bulk sink (driver
executemany on SQLite, binary COPY on PostgreSQL: ORM objects were 9-17x slower in
``pricewatch bench suggest``); the listed pending ones of every decided product are then
superseded; auto-approvals get their decisions and audit rows with set-based INSERT … SELECT.
SQLite's per-row foreign-key lookups are off for the write (the bulk sink's transaction, as
for the history writer): one check of all product ids replaces them.

(A writer thread inserting one strategy's rows while the next was evaluated was tried and
measured: no gain, the GIL serialised the two, so the simple order stays. Tried again with
the upkeep of the ten indexes moved into one GIL-free ``INSERT … SELECT`` from a temp table,
product chunk by chunk: it overlaps, but chunking and staging cost 1.2 s more CPU, a loss
whenever the machine has no idle core, as here.)
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, String, cast, insert, literal, select
from sqlalchemy.exc import IntegrityError

from pricing.store.bulk import sink_for
from pricing.store.models import AuditLog, Decision, Suggestion, SuggestionStatus

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


def insert_rows(conn: Connection, rows: pd.DataFrame, now: datetime) -> None:
    """Bulk insert through the store's sink (driver executemany on SQLite, COPY on PostgreSQL)."""
    if not len(rows):
        return
    _check_products(conn, rows["product_id"].to_numpy())
    sink = sink_for(conn)
    stamp = sink.ts(now)
    auto = (rows["status"] == SuggestionStatus.auto_approved.value).to_numpy()
    skip = ("created_at", "oldest_data_at", "decided_at")
    cols = {c: _py(rows[c]) for c in COLUMNS if c not in skip}
    cols["created_at"] = [stamp] * len(rows)
    cols["oldest_data_at"] = stamps(sink, rows["oldest_data_at"])
    cols["decided_at"] = np.where(auto, stamp, None).tolist()
    for c in ("current_price", "proposed_price"):
        cols[c] = [None if v is None else sink.money(v) for v in cols[c]]
    sink.insert(Suggestion.__table__, COLUMNS, list(zip(*(cols[c] for c in COLUMNS), strict=True)))


def _check_products(conn: Connection, product_ids: np.ndarray) -> None:
    """Every product still exists: one set-based check instead of SQLite's per-row FK lookup.

    Runs inside the write transaction (SQLite: ``BEGIN IMMEDIATE``, so no product can be
    deleted before commit); a product deleted since the read fails the run, as the foreign
    key would have.
    """
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SELECT id FROM products")
        known = np.array(cursor.fetchall(), dtype="int64").ravel()
    finally:
        cursor.close()
    ids = np.asarray(product_ids, dtype="int64")
    missing = ids[~np.isin(ids, known)]
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


def write_run(
    conn: Connection,
    rows: pd.DataFrame,
    decided: np.ndarray,
    run_id: str,
    now: datetime,
    audit: dict,
) -> tuple[int, int]:
    """Everything a run writes, inside the caller's transaction: (superseded, auto-approved)."""
    pending = pending_suggestions(conn)
    insert_rows(conn, rows, now)
    superseded = supersede(conn, pending, decided, run_id, now)
    auto = int((rows["status"] == SuggestionStatus.auto_approved.value).sum()) if len(rows) else 0
    if auto:
        record_auto_approvals(conn, run_id, now)
    conn.execute(insert(AuditLog).values(**audit))
    return superseded, auto
