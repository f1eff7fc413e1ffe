"""Writing a suggest run: one transaction, filled by a thread while evaluation goes on.

The database does its share of an insert (B-trees, indexes, WAL) without holding Python's GIL,
so a writer thread that inserts strategy N's suggestions while the main thread evaluates
strategy N+1 keeps both cores busy. Everything happens in one transaction on the writer's
connection: pending suggestions are listed first, new rows inserted as they come, and at the
end the listed pending ones of every decided product are superseded, auto-approvals get their
decisions and audit rows (set-based INSERT … SELECT), and the transaction commits. Any error,
in either thread, rolls everything back.
"""

from __future__ import annotations

import queue
import threading
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, String, cast, insert, literal, select

from pricing.store.bulk import sink_for
from pricing.store.models import AuditLog, Decision, Suggestion, SuggestionStatus

ACTOR = "rules"
COLUMNS = (
    "product_id", "created_at", "suggest_run", "strategy", "current_price", "proposed_price",
    "currency", "change_pct", "margin_before", "margin_after", "competitor_count",
    "lowest_competitor", "oldest_data_at", "explanation", "status", "decided_at",
)  # fmt: skip
_DONE = object()


def _py(values) -> list:
    """Python values with None for NaN/NA (what drivers expect)."""
    return [None if v is None or v != v else v for v in np.asarray(values, dtype=object).tolist()]


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


class BackgroundWriter:
    """Inserts suggestion batches on its own connection and thread; one transaction."""

    def __init__(self, engine: Engine, run_id: str, now: datetime):
        self.engine, self.run_id, self.now = engine, run_id, now
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._finish: tuple[np.ndarray, dict] | None = None
        self.superseded = 0
        self._thread = threading.Thread(target=self._run, name="suggest-writer", daemon=True)
        self._thread.start()

    def put(self, rows: pd.DataFrame) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(rows)

    def close(self, decided: np.ndarray, audit: dict) -> None:
        """Finish and commit (raises what went wrong in the thread, after rolling back)."""
        self._finish = (decided, audit)
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._finish = None
        self._queue.put(_DONE)
        self._thread.join()

    def _run(self) -> None:
        done = False
        try:
            with self.engine.connect() as conn, conn.begin():
                pending = pending_suggestions(conn)
                auto = False
                while not (done := (rows := self._queue.get()) is _DONE):
                    insert_rows(conn, rows, self.now)
                    auto |= bool((rows["status"] == SuggestionStatus.auto_approved.value).any())
                if self._finish is None:
                    raise _Aborted
                decided, audit = self._finish
                self.superseded = supersede(conn, pending, decided, self.run_id, self.now)
                if auto:
                    record_auto_approvals(conn, self.run_id, self.now)
                conn.execute(insert(AuditLog).values(**audit))
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the main thread by put() or close()
            self._error = exc
            while not done:  # keep taking batches so the main thread never blocks
                done = self._queue.get() is _DONE


class _Aborted(Exception):
    """The main thread gave up: roll back."""
