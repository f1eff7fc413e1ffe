"""The audit log: who did what, when, from which value to which; rollback of applied prices."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from pricing.review.actions import ActionError, Actor, cents, rollback_price
from pricing.review.auth import CurrentUser, page_manager, page_user
from pricing.review.web import flash, render
from pricing.store.models import AuditLog, Product, ProductPriceChange

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def rollbackable(conn: Connection, entries: list) -> set[int]:
    """Ids of apply_price entries that are still their product's latest price change."""
    applies = [e for e in entries if e.action == "apply_price"]
    if not applies:
        return set()
    C = ProductPriceChange
    latest = select(C.product_id, func.max(C.id).label("last_id")).group_by(C.product_id).subquery()
    rows = conn.execute(
        select(Product.sku, C.source, C.suggestion_id)
        .join(latest, latest.c.last_id == C.id)
        .join(Product, Product.id == C.product_id)
        .where(Product.sku.in_({e.entity_id for e in applies}))
    ).all()
    last = {r.sku: (r.source, r.suggestion_id) for r in rows}
    return {
        e.id
        for e in applies
        if last.get(e.entity_id) == ("suggestion", (e.details or {}).get("suggestion_id"))
    }


@router.get("/audit")
def audit_page(
    request: Request,
    page: int = Query(1, ge=1, le=1_000_000),
    entity: str | None = Query(None, max_length=40),
    action: str | None = Query(None, max_length=60),
    actor: str | None = Query(None, max_length=100),
    user: CurrentUser = Depends(page_user),
) -> Response:
    where = [
        col == value
        for col, value in (
            (AuditLog.entity, entity),
            (AuditLog.action, action),
            (AuditLog.actor, actor),
        )
        if value
    ]
    with request.app.state.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(AuditLog).where(*where)).scalar_one()
        entries = conn.execute(
            select(AuditLog.__table__)
            .where(*where)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).all()
        can_roll = rollbackable(conn, entries) if user.can_decide else set()
        actions = [
            a for (a,) in conn.execute(select(AuditLog.action).distinct().order_by(AuditLog.action))
        ]
    context = {
        "nav": "audit",
        "entries": entries,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "can_roll": can_roll,
        "actions": actions,
        "filters": {"entity": entity or "", "action": action or "", "actor": actor or ""},
    }
    return render(request, "audit.html", context)


@router.post("/audit/{audit_id}/rollback")
def rollback(
    request: Request, audit_id: int, user: CurrentUser = Depends(page_manager)
) -> Response:
    try:
        price = rollback_price(request.app.state.engine, Actor.of(user), audit_id)
        flash(request, f"Rolled back: price is {cents(price)} again.")
    except ActionError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/audit", status_code=303)
