"""One of our products: price, cost, margin, competitors over time, matches, clicks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from pricing.review.actions import ActionError, Actor, decide_match
from pricing.review.auth import CurrentUser, page_manager, page_user
from pricing.review.chart import Series, Step, build_chart
from pricing.review.currency import CurrencyTable, Priced
from pricing.review.queries import suggestion_row
from pricing.review.web import as_utc, is_htmx, render
from pricing.store.models import (
    Availability,
    ClickDaily,
    Match,
    Offer,
    Product,
    ProductPriceChange,
    Site,
    Suggestion,
)
from pricing.store.views import OfferState

router = APIRouter(include_in_schema=False)
MAX_OBSERVATIONS = 3000  # per offer on the chart
MAX_MATCHES = 30


@dataclass(slots=True)
class Funnel:
    days: int
    views: int
    clicks: int
    orders: int
    revenue: Decimal

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.views * 100 if self.views else None

    @property
    def conversion(self) -> float | None:
        return self.orders / self.clicks * 100 if self.clicks else None


def product_by_sku(conn: Connection, sku: str):
    row = conn.execute(select(Product.__table__).where(Product.sku == sku)).first()
    if row is None:
        raise HTTPException(404, f"No product with SKU {sku!r}.")
    return row


def product_matches(conn: Connection, product_id: int, only: int | None = None) -> list:
    stmt = (
        select(
            Match.id,
            Match.offer_id,
            Match.confidence,
            Match.method,
            Match.status,
            Match.substitute,
            Match.evidence,
            Site.name.label("site"),
            Site.currency.label("site_currency"),
            Offer.title,
            Offer.url,
            Offer.cur_price,
            Offer.cur_currency,
            Offer.cur_availability,
            Offer.last_seen,
        )
        .join(Offer, Offer.id == Match.offer_id)
        .join(Site, Site.id == Offer.site_id)
        .where(Match.product_id == product_id)
        .order_by(Match.confidence.desc(), Match.id)
        .limit(MAX_MATCHES)
    )
    return conn.execute(stmt if only is None else stmt.where(Match.id == only)).all()


@dataclass(frozen=True, slots=True)
class NotPlotted:
    """A competitor (or part of its history) left off the chart, and why."""

    site: str
    reason: str
    dropped: int  # prices left off
    priced: int  # of this many in the period

    @property
    def whole(self) -> bool:
        return self.dropped >= self.priced


def offer_currency(m) -> str | None:
    """The offer's currency, else its site's: the rules engine's fallback (inputs.offer_frame)."""
    return m.cur_currency or m.site_currency


def current_prices(table: CurrencyTable, matches: list, currency: str | None) -> dict[int, Priced]:
    """Each match's current price, as they state it and in our ``currency``."""
    return {m.id: table.price(m.cur_price, offer_currency(m), currency) for m in matches}


def competitor_series(
    conn: Connection,
    matches: list,
    since: datetime,
    table: CurrencyTable,
    currency: str | None,
) -> tuple[list[Series], list[NotPlotted]]:
    """One series per competitor, every price converted into our ``currency``.

    Prices the rates table cannot convert are never drawn on our axis: a competitor with no
    convertible price is left off the chart, and either case is reported in ``NotPlotted``.
    """
    series, skipped = [], []
    for m in matches:
        if m.status == "rejected":
            continue
        obs = conn.execute(
            select(
                OfferState.valid_from,
                OfferState.valid_to,
                OfferState.price,
                OfferState.currency,
                OfferState.availability,
            )
            .where(OfferState.offer_id == m.offer_id, OfferState.valid_to >= since)
            .order_by(OfferState.valid_from)
            .limit(MAX_OBSERVATIONS)
        ).all()
        # An observation without a currency is in its site's (the backtest reads it so too).
        currencies = [o.currency or m.site_currency for o in obs]
        converted = table.convert([o.price for o in obs], currencies, currency)
        steps = [
            Step(o.valid_from, o.valid_to, price, o.availability == Availability.out_of_stock)
            for o, price in zip(obs, converted, strict=True)
        ]
        notes, bad = [], {}
        for step, o, cur in zip(steps, obs, currencies, strict=True):
            if o.price is None:
                continue
            if step.price is None:
                bad[cur] = bad.get(cur, 0) + 1
            elif cur != currency:
                step.original, step.currency = o.price, cur
                notes.append(cur)
        if bad:
            priced = sum(o.price is not None for o in obs)
            reason = "; ".join(table.conversion(c, currency).reason for c in bad)
            skipped.append(NotPlotted(m.site, reason, sum(bad.values()), priced))
            if skipped[-1].whole:
                continue
        # A state holds until the next one starts: close the gaps between crawls.
        for a, b in zip(steps, steps[1:], strict=False):
            a.end = max(as_utc(a.end), as_utc(b.start))
        labels = [table.conversion(c, currency).label for c in dict.fromkeys(notes)]
        series.append(Series(name=m.site, steps=steps, note="; ".join(labels)))
    return series, skipped


def our_price_steps(conn: Connection, product, since: datetime, until: datetime) -> list[Step]:
    C = ProductPriceChange
    changes = conn.execute(
        select(C.changed_at, C.old_price, C.new_price)
        .where(C.product_id == product.id)
        .order_by(C.changed_at, C.id)
    ).all()
    if not changes:
        return [Step(since, until, product.price, False)]
    steps = [Step(since, changes[0].changed_at, changes[0].old_price, False)]
    for a, b in zip(changes, [*changes[1:], None], strict=False):
        steps.append(Step(a.changed_at, b.changed_at if b else until, a.new_price, False))
    return steps


def funnels(conn: Connection, product_id: int, today) -> list[Funnel]:
    out = []
    for days in (7, 30, 90):
        row = conn.execute(
            select(
                func.coalesce(func.sum(ClickDaily.views), 0),
                func.coalesce(func.sum(ClickDaily.clicks), 0),
                func.coalesce(func.sum(ClickDaily.orders), 0),
                func.coalesce(func.sum(ClickDaily.revenue), 0),
            ).where(
                ClickDaily.product_id == product_id, ClickDaily.day > today - timedelta(days=days)
            )
        ).one()
        out.append(Funnel(days, int(row[0]), int(row[1]), int(row[2]), Decimal(row[3])))
    return out


@router.get("/products/{sku}")
def product_page(
    request: Request,
    sku: str,
    days: int = Query(30, ge=1, le=730),
    user: CurrentUser = Depends(page_user),
) -> Response:
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    with request.app.state.engine.connect() as conn:
        product = product_by_sku(conn, sku)
        matches = product_matches(conn, product.id)
        table = request.app.state.currencies
        series, not_plotted = competitor_series(conn, matches, since, table, product.currency)
        ours = our_price_steps(conn, product, since, now)
        chart = build_chart(series, ours, since, now, product.currency)
        latest_id = conn.execute(
            select(Suggestion.id)
            .where(Suggestion.product_id == product.id)
            .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        suggestion = suggestion_row(conn, latest_id) if latest_id else None
        last_click_day = conn.execute(
            select(func.max(ClickDaily.day)).where(ClickDaily.product_id == product.id)
        ).scalar_one_or_none()
        stats = funnels(conn, product.id, last_click_day) if last_click_day else []
    margin = (
        (product.price - product.cost) / product.price * 100
        if product.price and product.cost is not None
        else None
    )
    context = {
        "nav": "suggestions",
        "p": product,
        "margin": margin,
        "matches": matches,
        "prices": current_prices(table, matches, product.currency),
        "chart": chart,
        "not_plotted": not_plotted,
        "rates_source": table.source,
        "days": days,
        "s": suggestion,
        "funnels": stats,
        "last_click_day": last_click_day,
    }
    return render(request, "product.html", context)


@router.post("/products/{sku}/matches/{match_id}/{verdict}")
def match_verdict(
    request: Request,
    sku: str,
    match_id: int,
    verdict: str,
    user: CurrentUser = Depends(page_manager),
) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        product = product_by_sku(conn, sku)
        owner = conn.execute(select(Match.product_id).where(Match.id == match_id)).scalar()
    if owner != product.id:
        raise HTTPException(404, f"Match {match_id} does not belong to {sku}.")
    try:
        decide_match(engine, Actor.of(user), match_id, verdict)
    except ActionError as exc:
        raise HTTPException(400, str(exc)) from None
    if not is_htmx(request):
        return RedirectResponse(f"/products/{quote(sku)}", status_code=303)
    with engine.connect() as conn:
        (row,) = product_matches(conn, product.id, only=match_id)
    prices = current_prices(request.app.state.currencies, [row], product.currency)
    return render(request, "_match_row.html", {"m": row, "p": product, "prices": prices})
