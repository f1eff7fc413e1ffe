"""``offer_states``: every distinct state of every offer, replaced and current, in one view.

The store is system-versioned: an offer's current state lives in its ``offers`` row (the
``cur_*`` columns) and ``observations`` holds only the states that were replaced. Writers
never touch this view; readers of history (point in time, 90 days of prices, backtests,
analytics) query it as they would a table with the columns of ``observations``:

* the replaced states, as stored;
* each offer's current state, from ``offers`` as :data:`CURRENT_STATE` says: valid from
  ``cur_valid_from`` to ``last_seen``, with the id ``current_observation_id`` (the id the
  state keeps when it is archived, so an id names one state for its whole life).

The view is created by migration 0003, which freezes its own copy of :data:`CURRENT_STATE`
(migrations never import live code); a test keeps the two equal. A change here needs a new
migration that recreates the view.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, MetaData, Table, event
from sqlalchemy.orm import DeclarativeBase, Mapped

from pricing.store.models import Observation

VIEW = "offer_states"

# observations column -> the offers expression holding the current state's value.
CURRENT_STATE: dict[str, str] = {
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
# Offers without a state (never observed) have no row in the view.
HAS_STATE = "current_observation_id IS NOT NULL"


def view_sql(mapping: dict[str, str] = CURRENT_STATE) -> str:
    """The view's SELECT: replaced states UNION ALL current ones, in observations' columns."""
    names = ", ".join(mapping)
    current = ", ".join(f"{expr} AS {name}" for name, expr in mapping.items())
    return (
        f"SELECT {names} FROM observations UNION ALL SELECT {current} FROM offers WHERE {HAS_STATE}"
    )


class _ViewBase(DeclarativeBase):
    # Its own MetaData: create_all and Alembic's autogenerate must never see a table here.
    metadata = MetaData()


class OfferState(_ViewBase):
    """One distinct state of an offer, valid over [valid_from, valid_to] (read-only).

    The same columns as :class:`pricing.store.models.Observation`; the current state's
    ``valid_to`` is the offer's ``last_seen`` and moves forward as long as it is seen again.
    """

    __table__ = Table(
        VIEW,
        _ViewBase.metadata,
        *(
            Column(c.name, c.type, primary_key=c.primary_key and c.name == "id")
            for c in Observation.__table__.columns
        ),
    )

    id: Mapped[int]
    offer_id: Mapped[int]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime]
    price: Mapped[Decimal | None]
    regular_price: Mapped[Decimal | None]
    currency: Mapped[str | None]
    availability: Mapped[str]
    stock_quantity: Mapped[int | None]
    shipping: Mapped[Decimal | None]
    review_count: Mapped[int | None]
    rating: Mapped[float | None]
    sold_count: Mapped[int | None]
    rank: Mapped[int | None]
    run_id: Mapped[int | None]
    last_run_id: Mapped[int | None]
    suspect: Mapped[bool]
    suspect_reason: Mapped[str | None]
    price_source: Mapped[str | None]
    confidence: Mapped[float | None]


def _read_only(mapper, connection, target) -> None:
    raise TypeError("offer_states is a view: write history through pricing.store.history")


for _event in ("before_insert", "before_update", "before_delete"):
    event.listen(OfferState, _event, _read_only)
