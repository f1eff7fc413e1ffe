"""The match queue: offers the matcher could not settle, waiting for a manager's verdict.

A match in the review band (a confidence below the accept threshold, or a text match that an
unknown sibling fits as well) is used by no strategy until a manager confirms it. The product
page shows one product's matches; this page is the work list across all of them, least sure
first so the doubtful ones are not left for last, with the matcher's reasons in words.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, Select, func, select

from pricing.review.actions import ActionError, Actor, decide_match
from pricing.review.auth import CurrentUser, page_manager, page_user
from pricing.review.web import is_htmx, render
from pricing.store.models import Match, MatchStatus, Offer, Product, Site

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
STATUSES = tuple(s.value for s in MatchStatus)


def _rows() -> Select:
    return (
        select(
            Match.id,
            Match.confidence,
            Match.method,
            Match.status,
            Match.evidence,
            Product.sku,
            Product.title.label("our_title"),
            Site.name.label("site"),
            Offer.title,
            Offer.url,
        )
        .join(Offer, Offer.id == Match.offer_id)
        .join(Site, Site.id == Offer.site_id)
        .join(Product, Product.id == Match.product_id)
    )


def _filtered(stmt: Select, status: str, site: str | None, q: str | None) -> Select:
    stmt = stmt.where(Match.status == status)
    if site:
        stmt = stmt.where(Site.name == site)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            Product.sku.ilike(like) | Product.title.ilike(like) | Offer.title.ilike(like)
        )
    return stmt


def queue_row(conn: Connection, match_id: int):
    """One row of the queue, whatever its status now (after a verdict, say)."""
    return conn.execute(_rows().where(Match.id == match_id)).first()


@router.get("/matches")
def match_queue(
    request: Request,
    status: str = Query(MatchStatus.review.value, max_length=20),
    site: str | None = Query(None, max_length=200),
    q: str | None = Query(None, max_length=200),
    page: int = Query(1, ge=1, le=1_000_000),
    user: CurrentUser = Depends(page_user),
) -> Response:
    if status not in STATUSES:
        raise HTTPException(400, f"status is one of {', '.join(STATUSES)}, not {status!r}.")
    with request.app.state.engine.connect() as conn:
        listed = _filtered(_rows(), status, site, q)
        total = conn.execute(select(func.count()).select_from(listed.subquery())).scalar_one()
        rows = conn.execute(
            listed.order_by(Match.confidence, Match.id)
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).all()
        sites = list(conn.execute(select(Site.name).order_by(Site.name)).scalars())
    context = {
        "nav": "matches",
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "sites": sites,
        "statuses": STATUSES,
        "filters": {"status": status, "site": site or "", "q": q or ""},
    }
    return render(request, "matches.html", context)


@router.post("/matches/{match_id}/{verdict}")
def queue_verdict(
    request: Request, match_id: int, verdict: str, user: CurrentUser = Depends(page_manager)
) -> Response:
    """Confirm or reject from the queue; the row comes back with its new status."""
    engine = request.app.state.engine
    try:
        decide_match(engine, Actor.of(user), match_id, verdict)
    except ActionError as exc:
        raise HTTPException(400, str(exc)) from None
    with engine.connect() as conn:
        row = queue_row(conn, match_id)
    if row is None:
        raise HTTPException(404, f"No match {match_id}.")
    if not is_htmx(request):
        return RedirectResponse("/matches", status_code=303)
    return render(request, "_queue_row.html", {"m": row})
