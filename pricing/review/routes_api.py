"""JSON API under /api/ (described at /api/openapi.json).

Same session cookie as the pages; every state change needs the ``X-CSRF-Token`` header
(``GET /api/csrf`` hands a script its token after it has logged in). Viewers may read, and get
403 for anything that changes state.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from pricing.matching.explain import reasons as match_reasons
from pricing.review.actions import (
    ActionError,
    Actor,
    apply_prices,
    bulk_decide,
    decide,
    decide_match,
    mark_exported,
)
from pricing.review.auth import CurrentUser, api_manager, api_user
from pricing.review.csrf import csrf_token
from pricing.review.exports import approved_frame
from pricing.review.queries import SuggestionFilter, list_suggestions, suggestion_row
from pricing.review.routes_products import current_prices, product_by_sku, product_matches
from pricing.review.web import as_utc
from pricing.store.models import AuditLog

router = APIRouter(tags=["review"])


class SuggestionOut(BaseModel):
    id: int
    sku: str
    title: str
    category: str | None
    brand: str | None
    strategy: str
    status: str
    currency: str
    current_price: Decimal | None
    proposed_price: Decimal
    final_price: Decimal | None
    change_pct: float
    margin_before: float | None = Field(description="percent of the price, 25.0 = 25 %")
    margin_after: float | None
    competitor_count: int
    lowest_competitor: str | None
    oldest_data_at: datetime | None = Field(description="age of the competitor data behind it")
    stale: bool
    explanation: str
    created_at: datetime
    decided_at: datetime | None


class SuggestionPage(BaseModel):
    total: int
    page: int
    pages: int
    items: list[SuggestionOut]


class EditIn(BaseModel):
    price: Decimal = Field(gt=0, lt=Decimal("1e9"))
    note: str | None = Field(None, max_length=1000)


class BulkIn(BaseModel):
    action: Literal["approve", "reject"]
    filter: SuggestionFilter = Field(default_factory=SuggestionFilter)


class CountOut(BaseModel):
    count: int


class MarkIn(BaseModel):
    status: Literal["exported", "applied"]
    ids: list[int] | None = Field(None, description="default: every approved (or exported) one")


class MatchOut(BaseModel):
    id: int
    site: str
    title: str | None
    url: str
    price: Decimal | None
    currency: str | None
    price_converted: Decimal | None = Field(
        None,
        description="price in the product's currency, converted with the strategies file's "
        "rates as the rules engine does; null if there is no price or no rate",
    )
    conversion_rate: float | None = Field(
        None, description="1 unit of currency in the product's currency; null if unconvertible"
    )
    availability: str | None
    confidence: float
    method: str
    status: str
    reasons: list[str] = Field(
        default_factory=list, description="the matcher's evidence in words, strongest first"
    )


class ProductOut(BaseModel):
    sku: str
    title: str
    brand: str | None
    category: str | None
    currency: str
    price: Decimal | None
    cost: Decimal | None
    matches: list[MatchOut]


def _suggestion(request: Request, row) -> SuggestionOut:
    stale_after = request.app.state.stale_after
    age_at = as_utc(row.oldest_data_at)
    return SuggestionOut(
        **{
            k: getattr(row, k)
            for k in SuggestionOut.model_fields
            if k not in ("stale", "oldest_data_at")
        },
        oldest_data_at=age_at,
        stale=age_at is None or datetime.now(age_at.tzinfo) - age_at > stale_after,
    )


def _one(request: Request, suggestion_id: int) -> SuggestionOut:
    with request.app.state.engine.connect() as conn:
        row = suggestion_row(conn, suggestion_id)
    if row is None:
        raise HTTPException(404, f"suggestion {suggestion_id} does not exist")
    return _suggestion(request, row)


@router.get("/csrf")
def get_csrf(request: Request) -> dict[str, str]:
    """The CSRF token to send as ``X-CSRF-Token`` with this session's POSTs."""
    return {"csrf_token": csrf_token(request)}


@router.get("/me")
def me(user: CurrentUser = Depends(api_user)) -> dict[str, str | int | bool]:
    return {"id": user.id, "name": user.name, "role": user.role, "can_decide": user.can_decide}


@router.get("/suggestions", response_model=SuggestionPage)
def suggestions(
    request: Request,
    f: Annotated[SuggestionFilter, Query()],
    user: CurrentUser = Depends(api_user),
) -> SuggestionPage:
    with request.app.state.engine.connect() as conn:
        page = list_suggestions(conn, f)
    items = [_suggestion(request, r) for r in page.rows]
    return SuggestionPage(total=page.total, page=page.page, pages=page.pages, items=items)


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionOut)
def suggestion(request: Request, suggestion_id: int, user: CurrentUser = Depends(api_user)):
    return _one(request, suggestion_id)


@router.post("/suggestions/bulk", response_model=CountOut)
def bulk(request: Request, body: BulkIn, user: CurrentUser = Depends(api_manager)) -> CountOut:
    """Approve or reject every pending suggestion matching ``filter``; one audit entry."""
    return CountOut(
        count=bulk_decide(request.app.state.engine, Actor.of(user), body.filter, body.action)
    )


def _decide(
    request: Request, user: CurrentUser, suggestion_id: int, action: str, **kw
) -> SuggestionOut:
    try:
        decide(request.app.state.engine, Actor.of(user), suggestion_id, action, **kw)
    except ActionError as exc:
        status = 404 if "does not exist" in str(exc) else 409
        raise HTTPException(status, str(exc)) from None
    return _one(request, suggestion_id)


@router.post("/suggestions/{suggestion_id}/approve", response_model=SuggestionOut)
def approve(request: Request, suggestion_id: int, user: CurrentUser = Depends(api_manager)):
    return _decide(request, user, suggestion_id, "approve")


@router.post("/suggestions/{suggestion_id}/reject", response_model=SuggestionOut)
def reject(request: Request, suggestion_id: int, user: CurrentUser = Depends(api_manager)):
    return _decide(request, user, suggestion_id, "reject")


@router.post("/suggestions/{suggestion_id}/edit", response_model=SuggestionOut)
def edit(
    request: Request, suggestion_id: int, body: EditIn, user: CurrentUser = Depends(api_manager)
):
    """Approve at another price (checked against floor, ceiling and MAP)."""
    return _decide(request, user, suggestion_id, "edit", price=body.price, note=body.note)


@router.get("/products/{sku}", response_model=ProductOut)
def product(request: Request, sku: str, user: CurrentUser = Depends(api_user)) -> ProductOut:
    with request.app.state.engine.connect() as conn:
        p = product_by_sku(conn, sku)
        matches = product_matches(conn, p.id)
    prices = current_prices(request.app.state.currencies, matches, p.currency)
    return ProductOut(
        sku=p.sku,
        title=p.title,
        brand=p.brand,
        category=p.category,
        currency=p.currency,
        price=p.price,
        cost=p.cost,
        matches=[
            MatchOut(
                id=m.id,
                site=m.site,
                title=m.title,
                url=m.url,
                price=m.cur_price,
                currency=prices[m.id].currency,
                price_converted=prices[m.id].converted,
                conversion_rate=prices[m.id].conversion.rate,
                availability=m.cur_availability,
                confidence=m.confidence,
                method=m.method,
                status=m.status,
                reasons=match_reasons(m.evidence),
            )
            for m in matches
        ],
    )


@router.post("/matches/{match_id}/{verdict}")
def match_verdict(
    request: Request,
    match_id: int,
    verdict: Literal["confirm", "reject"],
    user: CurrentUser = Depends(api_manager),
) -> dict[str, str | int]:
    try:
        status = decide_match(request.app.state.engine, Actor.of(user), match_id, verdict)
    except ActionError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"id": match_id, "status": status}


@router.get("/exports/approved")
def exports_approved(request: Request, user: CurrentUser = Depends(api_user)) -> list[dict]:
    """Approved (and auto-approved) suggestions not yet exported, at their final price."""
    with request.app.state.engine.connect() as conn:
        frame = approved_frame(conn)
    return [
        {
            **row,
            "current_price": _s(row["current_price"]),
            "new_price": _s(row["new_price"]),
            "decided_at": row["decided_at"].isoformat() if pd.notna(row["decided_at"]) else None,
        }
        for row in frame.to_dict(orient="records")
    ]


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@router.post("/exports/mark", response_model=CountOut)
def mark(request: Request, body: MarkIn, user: CurrentUser = Depends(api_manager)) -> CountOut:
    """``exported``: approved -> exported. ``applied``: approved/exported -> applied, which also
    sets our price (products.price and the price history), each change audited."""
    engine, actor = request.app.state.engine, Actor.of(user)
    if body.status == "applied":
        return CountOut(count=apply_prices(engine, actor, body.ids))
    with engine.begin() as conn:
        ids = body.ids
        if ids is None:
            ids = [int(i) for i in approved_frame(conn)["suggestion_id"]]
        return CountOut(count=mark_exported(conn, actor, ids))


@router.get("/audit")
def audit(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    user: CurrentUser = Depends(api_user),
) -> list[dict]:
    with request.app.state.engine.connect() as conn:
        rows = (
            conn.execute(select(AuditLog.__table__).order_by(AuditLog.id.desc()).limit(limit))
            .mappings()
            .all()
        )
    return [{**r, "at": as_utc(r["at"]).isoformat()} for r in rows]
