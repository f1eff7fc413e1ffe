"""Find what deserves an alert in the store, since a moment in time.

Each finding is an :class:`Alert` with a *key* (what it is about: the same offer's price move
in the next cycle has the same key) and a *state* (what it says: a new price is a new state).
The dispatcher uses both to send each state once, not every cycle.

Only data pricing would use raises alerts: offers matched to our products (accepted or
confirmed, not substitutes), states not flagged suspect, from runs that are not broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import aliased

from pricing.alerts.config import AlertKind
from pricing.store.models import (
    CrawlRun,
    Match,
    MatchStatus,
    Offer,
    Product,
    RunHealth,
    Site,
    Suggestion,
    SuggestionStatus,
)
from pricing.store.runs import broken_run_ids, trusted_observation
from pricing.store.views import OfferState

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(text: object, limit: int = 80) -> str:
    """Scraped text is untrusted: one line, no control characters, bounded length."""
    value = _CONTROL.sub(" ", str(text if text is not None else "")).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    key: str  # what it is about; stable across cycles
    state: str  # what it says; a new state is a new alert
    text: str  # one line of the message
    magnitude: float = 0.0  # percent moved, health level, number waiting: per-channel thresholds


HEALTH_LEVEL = {RunHealth.degraded.value: 1.0, RunHealth.broken.value: 2.0}
_MATCHED = (MatchStatus.accepted.value, MatchStatus.confirmed.value)


def _matched():
    """Offers joined to our products through a usable match."""
    return and_(Match.offer_id == Offer.id, Match.status.in_(_MATCHED), Match.substitute.is_(False))


def _current_usable():
    """The offer's current state comes from a run that is not broken (or from no run)."""
    return or_(Offer.cur_run_id.is_(None), Offer.cur_run_id.not_in(broken_run_ids()))


def crawl_health_alerts(engine: Engine, since: datetime) -> list[Alert]:
    query = (
        select(Site.name, CrawlRun.id, CrawlRun.health, CrawlRun.health_reasons)
        .join(Site, Site.id == CrawlRun.site_id)
        .where(CrawlRun.finished_at >= since, CrawlRun.health.in_(list(HEALTH_LEVEL)))
        .order_by(CrawlRun.finished_at)
    )
    latest: dict[str, Alert] = {}
    with engine.connect() as conn:
        for site, run_id, health, reasons in conn.execute(query):
            why = "; ".join(clean(r, 120) for r in (reasons or [])[:3]) or "no reason recorded"
            latest[site] = Alert(
                AlertKind.crawl_health,
                key=f"crawl:{site}",
                state=health,
                text=f"{clean(site)}: crawl run {run_id} {health} ({why})",
                magnitude=HEALTH_LEVEL[health],
            )
    return list(latest.values())


def price_move_alerts(engine: Engine, since: datetime, min_pct: float) -> list[Alert]:
    """States since ``since`` whose price moved at least ``min_pct`` from the one before."""
    if min_pct == float("inf"):
        return []
    prev = aliased(OfferState)
    previous_price = (
        select(prev.price)
        .where(
            prev.offer_id == OfferState.offer_id,
            prev.valid_from < OfferState.valid_from,
            prev.suspect.is_(False),
        )
        .order_by(prev.valid_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            OfferState.offer_id,
            OfferState.id,
            OfferState.price,
            OfferState.currency,
            previous_price.label("previous"),
            Site.name,
            Offer.title,
            Product.sku,
        )
        .join(Offer, Offer.id == OfferState.offer_id)
        .join(Site, Site.id == Offer.site_id)
        .join(Match, _matched())
        .join(Product, Product.id == Match.product_id)
        .where(
            OfferState.valid_from >= since,
            OfferState.suspect.is_(False),
            OfferState.price.is_not(None),
            trusted_observation(),
        )
        .order_by(OfferState.offer_id, OfferState.valid_from)
    )
    latest: dict[int, Alert] = {}
    with engine.connect() as conn:
        for offer_id, obs_id, price, currency, previous, site, title, sku in conn.execute(query):
            if previous is None or Decimal(previous) == 0:
                continue
            pct = float((Decimal(price) - Decimal(previous)) / Decimal(previous) * 100)
            if abs(pct) < min_pct:
                continue
            latest[offer_id] = Alert(
                AlertKind.price_move,
                key=f"price:{offer_id}",
                state=f"{obs_id}",
                text=(
                    f"{clean(site)} {clean(title)!r} (our {clean(sku, 40)}): "
                    f"{previous:.2f} → {price:.2f} {currency or ''} ({pct:+.1f}%)"
                ),
                magnitude=abs(pct),
            )
    return list(latest.values())


def _matched_current(since: datetime):
    return (
        select(
            Offer.id,
            Offer.current_observation_id,
            Offer.cur_price,
            Offer.cur_currency,
            Site.name,
            Offer.title,
            Product.sku,
            Product.map_price,
        )
        .join(Site, Site.id == Offer.site_id)
        .join(Match, _matched())
        .join(Product, Product.id == Match.product_id)
        .where(Offer.last_seen >= since, Offer.cur_suspect.is_(False), _current_usable())
    )


def under_map_alerts(engine: Engine, since: datetime) -> list[Alert]:
    query = _matched_current(since).where(
        Product.map_price.is_not(None),
        Offer.cur_price.is_not(None),
        Offer.cur_price < Product.map_price,
        func.coalesce(Offer.cur_currency, Product.currency) == Product.currency,
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Alert(
            AlertKind.under_map,
            key=f"map:{offer_id}:{sku}",
            state=f"{price}",
            text=(
                f"{clean(site)} sells {clean(title)!r} at {price:.2f} {currency or ''}, "
                f"under our MAP {map_price:.2f} (our {clean(sku, 40)})"
            ),
            magnitude=float((map_price - price) / map_price * 100) if map_price else 0.0,
        )
        for offer_id, _obs, price, currency, site, title, sku, map_price in rows
    ]


def out_of_stock_alerts(engine: Engine, since: datetime) -> list[Alert]:
    query = _matched_current(since).where(Offer.cur_availability == "out_of_stock")
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Alert(
            AlertKind.out_of_stock,
            key=f"oos:{offer_id}",
            # The observation id: back in stock and out again is a new alert.
            state=f"{obs_id}",
            text=f"{clean(site)} is out of stock of {clean(title)!r} (our {clean(sku, 40)})",
        )
        for offer_id, obs_id, _price, _cur, site, title, sku, _map in rows
    ]


def review_waiting_alerts(engine: Engine) -> list[Alert]:
    query = select(func.count(), func.min(Suggestion.id)).where(
        Suggestion.status == SuggestionStatus.pending.value
    )
    with engine.connect() as conn:
        count, oldest = conn.execute(query).one()
    if not count:
        return []
    return [
        Alert(
            AlertKind.review_waiting,
            key="review",
            # The oldest waiting suggestion: the same queue is reminded of only after
            # repeat_after; once the queue has been worked and new ones wait, alert again.
            state=f"{oldest}",
            text=f"{count} price suggestion(s) wait for review",
            magnitude=float(count),
        )
    ]


def collect_alerts(
    engine: Engine, since: datetime, *, kinds: set[AlertKind], price_move_pct: float
) -> list[Alert]:
    """Every alert of the wanted kinds about what happened since ``since``."""
    found: list[Alert] = []
    if AlertKind.crawl_health in kinds:
        found += crawl_health_alerts(engine, since)
    if AlertKind.price_move in kinds:
        found += price_move_alerts(engine, since, price_move_pct)
    if AlertKind.under_map in kinds:
        found += under_map_alerts(engine, since)
    if AlertKind.out_of_stock in kinds:
        found += out_of_stock_alerts(engine, since)
    if AlertKind.review_waiting in kinds:
        found += review_waiting_alerts(engine)
    return found
