"""current states live only in offers; observations hold replaced states; view offer_states

Until 0002 every state of an offer had an ``observations`` row, and the current one was also
copied into ``offers.cur_*``: each crawl cycle updated two rows per offer seen again (the
state's ``valid_to`` and the offer's ``last_seen``). From here the current state lives only in
``offers`` (valid from the new ``cur_valid_from`` to ``last_seen``) and ``observations`` holds
the replaced states, written once and never updated. The view ``offer_states`` shows both as
the one history readers query (pricing.store.views).

Upgrade: adds the columns observations had and offers lacked, moves each offer's current
observation into its ``offers`` row and deletes that row, creates the view. On PostgreSQL the
history partitions lose fillfactor 50: it left room for in-place ``valid_to`` updates, which
no longer happen. Downgrade reverses each step. Every offers row is rewritten once: on a
large PostgreSQL store, ``VACUUM ANALYZE offers`` afterwards.

The column mapping is frozen here (migrations never import live code); a test keeps it equal
to ``pricing.store.views.CURRENT_STATE``.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "offer_states"
# observations column -> the offers column holding the current state's value.
CURRENT_STATE = {
    "id": "current_observation_id",
    "offer_id": "id",
    "valid_from": "cur_valid_from",
    "valid_to": "last_seen",
    "price": "cur_price",
    "regular_price": "cur_regular_price",
    "currency": "cur_currency",
    "availability": "cur_availability",
    "stock_quantity": "cur_stock_quantity",
    "shipping": "cur_shipping",
    "review_count": "cur_review_count",
    "rating": "cur_rating",
    "sold_count": "cur_sold_count",
    "rank": "cur_rank",
    "run_id": "cur_first_run_id",
    "last_run_id": "cur_run_id",
    "suspect": "cur_suspect",
    "suspect_reason": "cur_suspect_reason",
    "price_source": "cur_price_source",
    "confidence": "cur_confidence",
}
HAS_STATE = "current_observation_id IS NOT NULL"
NEW_COLUMNS = {
    "cur_valid_from": sa.DateTime(timezone=True),
    "cur_suspect_reason": sa.String(length=200),
    "cur_price_source": sa.String(length=40),
    "cur_confidence": sa.Float(),
    "cur_first_run_id": sa.Integer(),
}
OLD_FILLFACTOR = 50  # what 0002 gave the history partitions


def view_sql() -> str:
    names = ", ".join(CURRENT_STATE)
    current = ", ".join(f"{expr} AS {name}" for name, expr in CURRENT_STATE.items())
    return (
        f"SELECT {names} FROM observations UNION ALL SELECT {current} FROM offers WHERE {HAS_STATE}"
    )


def _partitions(bind) -> list[str]:
    if bind.dialect.name != "postgresql":
        return []
    return list(
        bind.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'observations'::regclass"
        ).scalars()
    )


def upgrade() -> None:
    bind = op.get_bind()
    run = bind.exec_driver_sql
    # A regenerated 0001 (python -m pricing.store.migrations) already has them.
    present = {c["name"] for c in sa.inspect(bind).get_columns("offers")}
    for name, type_ in NEW_COLUMNS.items():
        if name not in present:
            op.add_column("offers", sa.Column(name, type_, nullable=True))
    moved = {name: expr for name, expr in CURRENT_STATE.items() if name not in ("id", "offer_id")}
    sets = ", ".join(f"{expr} = o.{name}" for name, expr in moved.items())
    run(
        f"UPDATE offers SET {sets} FROM observations AS o "
        "WHERE o.id = offers.current_observation_id AND o.offer_id = offers.id"
    )
    # A current id naming no observation named no history before either.
    run(
        f"UPDATE offers SET current_observation_id = NULL WHERE {HAS_STATE} AND cur_valid_from IS NULL"
    )
    run(
        "DELETE FROM observations WHERE id IN "
        f"(SELECT current_observation_id FROM offers WHERE {HAS_STATE})"
    )
    for name in _partitions(bind):
        run(f"ALTER TABLE {name} RESET (fillfactor)")
    run(f"CREATE VIEW {VIEW} AS {view_sql()}")


def downgrade() -> None:
    bind = op.get_bind()
    run = bind.exec_driver_sql
    run(f"DROP VIEW {VIEW}")
    names = ", ".join(CURRENT_STATE)
    values = ", ".join(CURRENT_STATE.values())
    run(f"INSERT INTO observations ({names}) SELECT {values} FROM offers WHERE {HAS_STATE}")
    for name in _partitions(bind):
        run(f"ALTER TABLE {name} SET (fillfactor = {OLD_FILLFACTOR})")
    for name in reversed(NEW_COLUMNS):
        op.drop_column("offers", name)
