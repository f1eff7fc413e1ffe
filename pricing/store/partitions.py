"""Monthly partitions of ``observations`` (PostgreSQL) and history retention.

Migration 0002 makes ``observations`` RANGE-partitioned by ``valid_from`` on PostgreSQL: one
partition per month (``observations_y2026m11``) and a DEFAULT partition that catches anything
else, so a write never fails for want of a partition. :func:`create_month_partitions` adds
months ahead (rows already in DEFAULT for that month move into it), and :func:`apply_retention`
forgets history older than N months. Only replaced states live in ``observations``; current
states are in ``offers`` and retention never touches them (a current state that began long
ago is still true now).

* PostgreSQL: whole month partitions before the cutoff are detached and dropped (no
  row-by-row DELETE, no vacuum debt). Replaced states that were still valid at the cutoff
  (``valid_to >= cutoff``) are first copied forward with ``valid_from`` clipped to the cutoff,
  so "the price at time T" stays answerable for every T after the cutoff.
* SQLite (and an unpartitioned PostgreSQL): the replaced states that ended before the cutoff
  are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

PARENT = "observations"
DEFAULT = "observations_default"
# Partitions keep PostgreSQL's default fill (100): history rows are written once, when their
# state is replaced, and never updated (0002 left half of each page free for in-place
# valid_to updates of current states; those now happen on offers, and 0003 reset it).


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: datetime
    partitions_dropped: list[str]
    rows_deleted: int
    rows_clipped: int
    dry_run: bool = False

    def describe(self) -> str:
        verb = "would drop" if self.dry_run else "dropped"
        parts = ", ".join(self.partitions_dropped) or "no partition"
        return (
            f"history before {self.cutoff:%Y-%m-%d}: {verb} {parts}; "
            f"{self.rows_deleted} old state(s) removed, {self.rows_clipped} still-valid "
            "state(s) kept from the cutoff on"
        )


def include_name(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Alembic ``include_name`` hook: partitions are not in models.py, and are no drift."""
    return not (
        type_ in ("table", "index")
        and name is not None
        and (name.startswith(f"{PARENT}_y") or name.startswith(DEFAULT))
    )


def month_start(at: datetime, shift: int = 0) -> datetime:
    """The first instant (UTC) of ``at``'s month, moved ``shift`` months."""
    at = at.astimezone(UTC)
    index = at.year * 12 + at.month - 1 + shift
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_y{start.year:04d}m{start.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.exec_driver_sql(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = 'observations' AND n.nspname = current_schema()"
    ).scalar()
    return kind == "p"


def month_partitions(conn: Connection) -> dict[str, datetime]:
    """Existing month partitions: name -> first instant of the month."""
    names = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'observations'::regclass"
    ).scalars()
    out = {}
    for name in names:
        if name.startswith(f"{PARENT}_y"):
            year, month = name.removeprefix(f"{PARENT}_y").split("m")
            out[name] = datetime(int(year), int(month), 1, tzinfo=UTC)
    return out


def create_month_partitions(
    conn: Connection, since: datetime | None = None, months_ahead: int = 3, now=None
) -> list[str]:
    """Partitions for every month from ``since`` (default: this month) to ``months_ahead`` on.

    Rows of such a month already in the DEFAULT partition are moved into the new partition
    (PostgreSQL refuses to attach it otherwise).
    """
    now = now or datetime.now(UTC)
    first = month_start(min(since, now) if since else now)
    last = month_start(now, months_ahead)
    existing = month_partitions(conn)
    created = []
    start = first
    while start <= last:
        name, end = partition_name(start), month_start(start, 1)
        if name not in existing:
            bounds = {"start": start, "end": end}
            conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
            conn.execute(
                text(
                    f"WITH moved AS (DELETE FROM {DEFAULT} WHERE valid_from >= :start "
                    f"AND valid_from < :end RETURNING *) INSERT INTO {name} SELECT * FROM moved"
                ),
                bounds,
            )
            conn.exec_driver_sql(  # bounds are our own datetimes, not input
                f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM "
                f"('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            created.append(name)
        start = month_start(start, 1)
    return created


_KEEP = "(o.valid_to >= :cutoff)"


def apply_retention(
    engine: Engine, keep_months: int, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Forget history that ended before the start of the month ``keep_months`` ago."""
    if keep_months < 1:
        raise ValueError("keep at least one month of history (--keep-months >= 1)")
    now = now or datetime.now(UTC)
    cutoff = month_start(now, -keep_months)
    with engine.begin() as conn:
        if is_partitioned(conn):
            report = _drop_partitions(conn, cutoff, now, dry_run)
        else:
            report = _delete_rows(conn, cutoff, dry_run)
        if dry_run:
            conn.rollback()
    return report


def _delete_rows(conn: Connection, cutoff: datetime, dry_run: bool) -> RetentionReport:
    where = f"NOT {_KEEP}"
    count = conn.execute(
        text(f"SELECT count(*) FROM observations o WHERE {where}"), {"cutoff": cutoff}
    ).scalar_one()
    if not dry_run:
        conn.execute(
            text(
                f"DELETE FROM observations WHERE id IN "
                f"(SELECT o.id FROM observations o WHERE {where})"
            ),
            {"cutoff": cutoff},
        )
    return RetentionReport(cutoff, [], count, 0, dry_run)


def _drop_partitions(conn: Connection, cutoff: datetime, now: datetime, dry_run: bool):
    create_month_partitions(conn, since=cutoff, months_ahead=3, now=now)
    old = sorted(
        n for n, start in month_partitions(conn).items() if month_start(start, 1) <= cutoff
    )
    deleted = clipped = 0
    columns = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'observations' "
            "AND table_schema = current_schema() ORDER BY ordinal_position"
        )
    ]
    chosen = ", ".join(
        "greatest(o.valid_to, :cutoff)"
        if c == "valid_to"
        else ":cutoff"
        if c == "valid_from"
        else f"o.{c}"
        for c in columns
    )
    for name in [*old, DEFAULT]:
        in_range = "" if name != DEFAULT else " AND o.valid_from < :cutoff"
        clipped += conn.execute(
            text(
                f"INSERT INTO observations ({', '.join(columns)}) SELECT {chosen} "
                f"FROM {name} o WHERE {_KEEP}{in_range}"
            ),
            {"cutoff": cutoff},
        ).rowcount
        deleted += conn.execute(
            text(f"SELECT count(*) FROM {name} o WHERE NOT {_KEEP}{in_range}"), {"cutoff": cutoff}
        ).scalar_one()
        if name == DEFAULT:
            conn.execute(
                text(f"DELETE FROM {DEFAULT} o WHERE o.valid_from < :cutoff"), {"cutoff": cutoff}
            )
        else:
            conn.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")
    return RetentionReport(cutoff, old, deleted, clipped, dry_run)
