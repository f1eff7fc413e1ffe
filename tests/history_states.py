"""Fixtures that write history by hand: make each offer's latest observation its current state.

The store keeps an offer's current state in its ``offers`` row and only replaced states in
``observations`` (pricing.store.views). Fixtures that insert a history as Observation rows
call :func:`promote_latest_states` afterwards: each offer's latest observation moves into its
row (every column of pricing.store.views.CURRENT_STATE, ``last_seen`` taken from the
observation's ``valid_to``, as migration 0003 moves them) and leaves ``observations``. An
offer whose current state is older than its latest observation has it archived first, as the
writer would; offers without newer observations keep what they have.

Call it once, after the fixture's last Observation insert: SQLite gives a new row the id after
the largest one left in the table, which may be the id a moved (current) state still has.
A fixture that builds offers one at a time gives each its current state directly, with an id
from :func:`new_state_id` (what the writer does).
"""

from __future__ import annotations

from sqlalchemy import Connection

from pricing.store.bulk import ARCHIVE_SQL
from pricing.store.views import CURRENT_STATE, HAS_STATE

_MOVED = {name: expr for name, expr in CURRENT_STATE.items() if name != "offer_id"}
_LATEST = (
    "(SELECT max(valid_from) FROM observations l WHERE l.offer_id = offers.id "
    "AND (offers.cur_valid_from IS NULL OR l.valid_from > offers.cur_valid_from))"
)


def new_state_id(conn: Connection) -> int:
    """An id for a new current state, unique among observations' ids (as the writer takes)."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT nextval(pg_get_serial_sequence('observations', 'id'))"
    else:
        sql = (
            "SELECT max((SELECT coalesce(max(id), 0) FROM observations), "
            "(SELECT coalesce(max(current_observation_id), 0) FROM offers)) + 1"
        )
    return conn.exec_driver_sql(sql).scalar_one()


def promote_latest_states(conn: Connection) -> int:
    """Move every offer's newest observation into its offers row; returns how many moved."""
    # (An offer given only cur_* values by a fixture, no cur_valid_from, has no state yet.)
    conn.exec_driver_sql(f"{ARCHIVE_SQL} AND cur_valid_from IS NOT NULL AND {_LATEST} IS NOT NULL")
    sets = ", ".join(f"{expr} = o.{name}" for name, expr in _MOVED.items())
    moved = conn.exec_driver_sql(
        f"UPDATE offers SET {sets} FROM observations AS o "
        f"WHERE o.offer_id = offers.id AND o.valid_from = {_LATEST}"
    ).rowcount
    conn.exec_driver_sql(
        "DELETE FROM observations WHERE id IN "
        f"(SELECT current_observation_id FROM offers WHERE {HAS_STATE})"
    )
    return moved
