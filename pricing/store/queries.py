"""Reading history and current state back.

History is the view ``offer_states`` (:mod:`pricing.store.views`): distinct states with a
``valid_from``, the replaced ones from ``observations`` and the current one from ``offers``. The
state of an offer at time T is the last one that started at or before T. Both queries below
are one statement, answered from the ``(offer_id, valid_from)`` index and the offer's own row.
"Now" for many offers comes from ``offers.cur_*`` and never touches history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, Select, and_, func, or_, select

import pricing.tabular  # noqa: F401 - pandas' text storage
from pricing.store.bulk import BATCH, as_utc
from pricing.store.db import session_scope
from pricing.store.models import CrawlRun, Offer, RunHealth
from pricing.store.views import OfferState


def offer_state_at(engine: Engine, offer_id: int, at: datetime) -> OfferState | None:
    """The state in effect at ``at`` (None before the offer was first seen)."""
    stmt = (
        select(OfferState)
        .where(OfferState.offer_id == offer_id, OfferState.valid_from <= as_utc(at))
        .order_by(OfferState.valid_from.desc())
        .limit(1)
    )
    with session_scope(engine) as session:
        return session.scalars(stmt).first()


def offer_history(
    engine: Engine, offer_id: int, since: datetime, until: datetime | None = None
) -> list[OfferState]:
    """Every state of the offer from ``since`` to ``until`` (default: now), oldest first.

    The first row is the state in effect at ``since``, which may have started before it.
    """
    obs = OfferState
    in_effect = (
        select(func.max(obs.valid_from))
        .where(obs.offer_id == offer_id, obs.valid_from <= as_utc(since))
        .scalar_subquery()
    )
    stmt = select(obs).where(
        obs.offer_id == offer_id, obs.valid_from >= func.coalesce(in_effect, as_utc(since))
    )
    if until is not None:
        stmt = stmt.where(obs.valid_from <= as_utc(until))
    with session_scope(engine) as session:
        return list(session.scalars(stmt.order_by(obs.valid_from)))


CURRENT_COLUMNS = {
    "offer_id": Offer.id,
    "site_id": Offer.site_id,
    "url": Offer.url,
    "title": Offer.title,
    "brand": Offer.brand,
    "gtin": Offer.gtin,
    "mpn": Offer.mpn,
    "price": Offer.cur_price,
    "regular_price": Offer.cur_regular_price,
    "shipping": Offer.cur_shipping,
    "currency": Offer.cur_currency,
    "availability": Offer.cur_availability,
    "stock_quantity": Offer.cur_stock_quantity,
    "review_count": Offer.cur_review_count,
    "rating": Offer.cur_rating,
    "sold_count": Offer.cur_sold_count,
    "rank": Offer.cur_rank,
    "suspect": Offer.cur_suspect,
    "last_seen": Offer.last_seen,
    "run_id": Offer.cur_run_id,
    "run_health": CrawlRun.health,
}
MONEY = ("price", "regular_price", "shipping")


def current_offers(
    engine: Engine,
    *,
    offer_ids: Iterable[int] | None = None,
    site_ids: Iterable[int] | None = None,
    exclude_broken: bool = True,
) -> pd.DataFrame:
    """The current state of many offers as a DataFrame (one row per offer, from offers.cur_*).

    Money columns are floats (pricing works in vectorised arithmetic and rounds at the end).
    With ``exclude_broken``, offers whose current state came from a run judged broken are
    left out: a broken run's numbers must not pick a price.
    """
    base = select(*(c.label(name) for name, c in CURRENT_COLUMNS.items())).outerjoin(
        CrawlRun, CrawlRun.id == Offer.cur_run_id
    )
    if site_ids is not None:
        base = base.where(Offer.site_id.in_(list(site_ids)))
    if exclude_broken:
        base = base.where(or_(CrawlRun.health.is_(None), CrawlRun.health != RunHealth.broken))
    if offer_ids is None:
        frames = [_frame(engine, base)]
    else:
        ids = list(offer_ids)
        frames = [
            _frame(engine, base.where(and_(Offer.id.in_(ids[i : i + BATCH]))))
            for i in range(0, len(ids), BATCH)
        ] or [_frame(engine, base.where(Offer.id.in_([])))]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in MONEY:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["suspect"] = frame["suspect"].astype(bool)
    return frame.sort_values("offer_id", ignore_index=True)


def _frame(engine: Engine, stmt: Select) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.all(), columns=list(result.keys()))
