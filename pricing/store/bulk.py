"""Bulk reads and writes for the history writer, one implementation per database.

Both speak the same small vocabulary (load offers, allocate ids, insert rows, update rows by
id, archive current states) over *storage-form* values: what the driver stores, so the writer
can compare incoming values with loaded ones without converting 170,000 rows back to Python
types. Archiving copies offers' current states into ``observations`` with one
``INSERT .. SELECT`` (the values never travel to Python and back).

* SQLite: plain INSERT/UPDATE statements run as driver executemany over tuples, in batches
  of thousands, in one ``BEGIN IMMEDIATE`` transaction. SQLAlchemy's per-row dict processing
  doubled the time of a 170k-row cycle (measured), so values are converted up front into
  what SQLAlchemy itself stores: datetimes in its text format, money as REAL. Both compare
  correctly as stored.
* PostgreSQL (:mod:`pricing.store.bulk_pg`): binary ``COPY`` through psycopg 3: new rows
  straight into their tables with ids taken from the sequences; updates COPY'd into a
  temporary table, then ``UPDATE .. FROM``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from pricing.store.models import Observation, Offer
from pricing.store.views import CURRENT_STATE, HAS_STATE

BATCH = 5000
OFFERS: Table = Offer.__table__  # type: ignore[assignment]
OBSERVATIONS: Table = Observation.__table__  # type: ignore[assignment]

# The current state's values an observation is compared with (one tuple per offer).
CURRENT_VALUES = (
    "cur_price",
    "cur_regular_price",
    "cur_currency",
    "cur_availability",
    "cur_stock_quantity",
    "cur_shipping",
    "cur_review_count",
    "cur_rating",
    "cur_sold_count",
    "cur_rank",
    "cur_suspect",
)
# What the writer needs to know about an offer to classify an incoming observation.
STATE_COLUMNS = (
    "id",
    "url",
    "last_seen",
    "current_observation_id",
    *CURRENT_VALUES,
    "title",
    "brand",
    "gtin",
    "mpn",
    "site_sku",
)

# A new offer's row as the writer builds it. What is the same for a whole call (site, runs) or
# repeats within the row (identity_changed_at is first_seen) insert_offers adds: on SQLite
# every value bound costs: leaving out these four made the 170k-row insert ~20% faster
# (best and median of 12, measured).
NEW_OFFER = (
    "id",
    "url",
    "title",
    "brand",
    "gtin",
    "mpn",
    "site_sku",
    "first_seen",
    "last_seen",
    "current_observation_id",
    *CURRENT_VALUES,
    "cur_valid_from",
    "cur_suspect_reason",
    "cur_price_source",
    "cur_confidence",
)
NEW_OFFER_ADDED = ("site_id", "identity_changed_at", "cur_first_run_id", "cur_run_id")
_FIRST_SEEN = NEW_OFFER.index("first_seen")

# Archiving: the current states of some offers (an id filter is appended) into history.
ARCHIVE_SQL = (
    f"INSERT INTO observations ({', '.join(CURRENT_STATE)}) "
    f"SELECT {', '.join(CURRENT_STATE.values())} FROM offers WHERE {HAS_STATE}"
)

_Q4 = Decimal("0.0001")


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


class Sink:
    """The database-specific half of :class:`pricing.store.history.HistoryWriter`."""

    threaded = True  # write chunks on a worker thread (see pricing.store.pipeline)

    def __init__(self, conn: Connection):
        self.conn = conn
        self.dialect = conn.dialect
        self.raw = conn.connection.dbapi_connection

    # storage forms -----------------------------------------------------------------------
    def ts(self, value: datetime) -> Any:
        return as_utc(value)

    def money(self, value: Decimal | None) -> Any:
        """Rounded as NUMERIC(14, 4) rounds, so a re-read value equals what we compared."""
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return value.quantize(_Q4, ROUND_HALF_UP)

    def flag(self, value: bool) -> Any:
        return bool(value)

    # transaction and ids -----------------------------------------------------------------
    def begin(self) -> None:
        """Start the one transaction of a write (explicitly: most work bypasses SQLAlchemy)."""
        self.conn.begin()

    def end(self) -> None:
        """After commit or rollback: undo what :meth:`begin` changed on the connection."""

    # How check_references reads the site: offers.site_id has no foreign key (migration
    # 0004), so on PostgreSQL the check locks the row as the constraint's check did (FOR KEY
    # SHARE: a concurrent DELETE or id change of the site waits for this write to commit,
    # and its trigger then deletes the offers written). SQLite needs no lock: the write holds
    # the database's write lock from begin().
    _site_lock = ""

    def check_references(self, site_id: int, run_id: int | None) -> None:
        """The site and crawl run exist: checked once per call, with a clear message.

        Offers have no foreign key to their site: this is the check (pricing.store.models).
        """
        for table, key in (("sites", site_id), ("crawl_runs", run_id)):
            if key is None:
                continue
            sql = f"SELECT 1 FROM {table} WHERE id = {self._p}"
            if table == "sites":
                sql += self._site_lock
            if self.conn.exec_driver_sql(sql, (key,)).first() is None:
                raise IntegrityError(
                    f"{table}.id = {key}", None, LookupError(f"no row in {table} with id {key}")
                )

    def ids(self, table: Table, expected: int) -> Callable[[], int]:
        """A function handing out new primary keys of ``table``, one per call.

        ``expected`` is how many the caller may need next (an upper bound).
        """
        raise NotImplementedError

    # reads --------------------------------------------------------------------------------
    def load_offers(self, site_id: int, urls: Sequence[str]) -> list[tuple]:
        """Rows of STATE_COLUMNS for these URLs of the site."""
        base = f"SELECT {', '.join(STATE_COLUMNS)} FROM offers WHERE site_id = {self._p}"
        cursor = self.raw.cursor()
        rows: list[tuple] = []
        for i in range(0, len(urls), BATCH):
            sql, params = self._url_filter(base, list(urls[i : i + BATCH]))
            cursor.execute(sql, (site_id, *params))
            rows.extend(cursor.fetchall())
        return rows

    def scan_offers(self, site_id: int, limit: int) -> Iterator[list[tuple]] | None:
        """All the site's rows of STATE_COLUMNS in batches, or None if it has over ``limit``.

        No count first: the read stops after ``limit + 1`` rows (a round trip and a pass over
        the site's offers saved).
        """
        raise NotImplementedError

    # writes -------------------------------------------------------------------------------
    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        raise NotImplementedError

    def insert_offers(self, site_id: int, run_id: int | None, rows: Sequence[tuple]) -> None:
        """New offers, each row NEW_OFFER's values; first and last seen by ``run_id``."""
        raise NotImplementedError

    def update(self, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        """``UPDATE table SET columns WHERE id = ?``; each row is (id, *values)."""
        raise NotImplementedError

    def extend(self, rows: Sequence[tuple], run_id: int | None) -> None:
        """Seen again unchanged: the current states stay valid to ``at`` (``last_seen``).

        Each row is ``(offer_id, at)``; ``run_id`` is the last run to confirm them (the same
        for a whole call, so it is not sent with every row).
        """
        raise NotImplementedError

    def archive_current(self, offer_ids: Sequence[int]) -> None:
        """Copy these offers' current states into ``observations``, as they are now.

        Called before the offers rows are overwritten with new states; offers without a
        state are skipped.
        """
        for i in range(0, len(offer_ids), BATCH):
            batch = offer_ids[i : i + BATCH]
            sql, params = self._id_filter(ARCHIVE_SQL, batch)
            self.conn.exec_driver_sql(sql, params)

    def replace_current(
        self, archive_ids: Sequence[int], columns: Sequence[str], rows: Sequence[tuple]
    ) -> None:
        """New current states over stored ones: the stored states of ``archive_ids`` are
        archived first, then ``rows`` ((id, *columns) of offers) are written over them."""
        self.archive_current(archive_ids)
        self.update(OFFERS, columns, rows)

    def _id_filter(self, base: str, ids: Sequence[int]) -> tuple[str, tuple]:
        raise NotImplementedError

    _p = "?"

    def _url_filter(self, base: str, urls: list[str]) -> tuple[str, tuple]:
        raise NotImplementedError


class SQLiteSink(Sink):
    _p = "?"
    threaded = False

    def __init__(self, conn: Connection):
        super().__init__(conn)
        self._ids: dict[str, _LazyCount] = {}

    def ts(self, value: datetime) -> str:
        # SQLAlchemy's SQLite text format (what its DateTime reads back), 5x faster than its
        # own formatter: "2026-01-05 06:00:00.000000".
        return as_utc(value).isoformat(" ", "microseconds")[:26]

    def money(self, value: Decimal | None) -> float | None:
        # SQLAlchemy stores Numeric as REAL on SQLite; comparing floats with floats is exact.
        return None if value is None else float(value)

    def flag(self, value: bool) -> int:
        return 1 if value else 0

    def begin(self) -> None:
        # Foreign keys are checked by the writer, once per call (check_references; offer ids
        # are its own), not by SQLite once per row: that per-row lookup was 40% of the
        # observations' insert time (measured). The pragma only works outside a transaction.
        self.raw.execute("PRAGMA foreign_keys=OFF")
        # Take the write lock now: ids are allocated from max(id) below, and a deferred
        # transaction that upgrades to a writer later can fail with SQLITE_BUSY at once.
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def end(self) -> None:
        self.raw.execute("PRAGMA foreign_keys=ON")

    def ids(self, table: Table, expected: int) -> Callable[[], int]:
        # We hold the write lock (BEGIN IMMEDIATE), so nobody else inserts until we commit.
        if table.name not in self._ids:
            self._ids[table.name] = _LazyCount(self.conn, _TOP_ID[table.name])
        return self._ids[table.name].__next__

    def scan_offers(self, site_id: int, limit: int) -> Iterator[list[tuple]] | None:
        """One batch, read at once."""
        # When the whole table is no bigger than the read (its largest id says so, at once),
        # rows come faster in table order than through the (site_id, url) index in URL
        # order: 0.65 against 0.78 s for 170k offers (best of 10, measured).
        small_table = (self.raw.execute("SELECT max(id) FROM offers").fetchone()[0] or 0) <= limit
        source = "offers NOT INDEXED" if small_table else "offers"
        sql = f"SELECT {', '.join(STATE_COLUMNS)} FROM {source} WHERE site_id = ? LIMIT ?"
        rows = self.raw.execute(sql, (site_id, limit + 1)).fetchall()
        return None if len(rows) > limit else iter([rows])

    def _url_filter(self, base: str, urls: list[str]) -> tuple[str, tuple]:
        return f"{base} AND url IN ({','.join('?' * len(urls))})", tuple(urls)

    def _id_filter(self, base: str, ids: Sequence[int]) -> tuple[str, tuple]:
        return f"{base} AND id IN ({','.join('?' * len(ids))})", tuple(ids)

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self._many(sql, rows)

    def insert_offers(self, site_id: int, run_id: int | None, rows: Sequence[tuple]) -> None:
        run = "NULL" if run_id is None else str(int(run_id))  # ids we hold, not input text
        values = [f"?{n}" for n in range(1, len(NEW_OFFER) + 1)]
        values += [str(int(site_id)), f"?{_FIRST_SEEN + 1}", run, run]  # NEW_OFFER_ADDED
        columns = ", ".join((*NEW_OFFER, *NEW_OFFER_ADDED))
        self._many(f"INSERT INTO offers ({columns}) VALUES ({', '.join(values)})", rows)

    def update(self, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        # Rows arrive as (id, *values): numbered parameters take them as they are.
        sets = ", ".join(f"{c} = ?{n}" for n, c in enumerate(columns, 2))
        self._many(f"UPDATE {table.name} SET {sets} WHERE id = ?1", rows)

    def extend(self, rows: Sequence[tuple], run_id: int | None) -> None:
        run = "NULL" if run_id is None else int(run_id)  # an id we hold, not input text
        self._many(f"UPDATE offers SET last_seen = ?2, cur_run_id = {run} WHERE id = ?1", rows)

    def _many(self, sql: str, rows: Sequence[tuple]) -> None:
        cursor = self.raw.cursor()
        for i in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[i : i + BATCH])


# The largest id in use; a current state's id is taken from the observations' ids but lives in
# offers.current_observation_id until the state is archived.
_TOP_ID = {
    "offers": "SELECT coalesce(max(id), 0) FROM offers",
    "observations": (
        "SELECT max((SELECT coalesce(max(id), 0) FROM observations), "
        "(SELECT coalesce(max(current_observation_id), 0) FROM offers))"
    ),
}


class _LazyCount:
    """Consecutive ids after the largest in use, which is read on the first call only: a
    write that creates no state never pays the scan of offers."""

    def __init__(self, conn: Connection, top_sql: str):
        self.conn, self.top_sql = conn, top_sql
        self._next: Callable[[], int] | None = None

    def __next__(self) -> int:
        if self._next is None:
            top = self.conn.exec_driver_sql(self.top_sql).scalar_one()
            self._next = itertools.count(top + 1).__next__
        return self._next()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Sink]:
    """One transaction around a bulk write; driver errors come out as SQLAlchemy's."""
    with engine.connect() as conn:
        sink = sink_for(conn)
        dbapi_error = conn.dialect.loaded_dbapi.Error
        sink.begin()
        try:
            yield sink
            conn.commit()
        except dbapi_error as exc:
            conn.rollback()
            raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
        except BaseException:
            conn.rollback()
            raise
        finally:
            sink.end()


def sink_for(conn: Connection) -> Sink:
    if conn.dialect.name == "sqlite":
        return SQLiteSink(conn)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        from pricing.store.bulk_pg import PostgresSink  # it builds on Sink, defined here

        return PostgresSink(conn)
    raise NotImplementedError(f"no bulk writer for {conn.dialect.name}+{conn.dialect.driver}")
