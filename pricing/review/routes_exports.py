"""Exports page: download approved prices, mark them exported, apply them as our prices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from pricing.review.actions import Actor, apply_prices
from pricing.review.auth import CurrentUser, page_manager, page_user
from pricing.review.exports import MEDIA_TYPES, export_approved
from pricing.review.web import flash, is_htmx, render
from pricing.store.models import Suggestion, SuggestionStatus

router = APIRouter(include_in_schema=False)


def download(data: bytes, fmt: str) -> Response:
    name = f"approved-prices-{datetime.now(UTC):%Y%m%d-%H%M%S}.{fmt}"
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/exports")
def exports_page(request: Request, user: CurrentUser = Depends(page_user)) -> Response:
    with request.app.state.engine.connect() as conn:
        counts = dict(
            conn.execute(select(Suggestion.status, func.count()).group_by(Suggestion.status)).all()
        )
    statuses = [s.value for s in SuggestionStatus]
    return render(
        request, "exports.html", {"nav": "exports", "counts": counts, "statuses": statuses}
    )


@router.get("/exports/approved.{fmt}")
def download_approved(
    request: Request, fmt: Literal["csv", "xlsx"], user: CurrentUser = Depends(page_user)
) -> Response:
    data, _ = export_approved(request.app.state.engine, fmt, mark=False, actor=Actor.of(user))
    return download(data, fmt)


@router.post("/exports/approved.{fmt}")
def download_and_mark(
    request: Request,
    fmt: Literal["csv", "xlsx"],
    mark: Literal["exported", ""] = Form(""),
    user: CurrentUser = Depends(page_manager),
) -> Response:
    data, _ = export_approved(
        request.app.state.engine, fmt, mark=mark == "exported", actor=Actor.of(user)
    )
    return download(data, fmt)


@router.post("/exports/apply")
def apply_all(request: Request, user: CurrentUser = Depends(page_manager)) -> Response:
    count = apply_prices(request.app.state.engine, Actor.of(user))
    flash(request, f"Applied {count:,} approved price{'s' if count != 1 else ''} to the catalog.")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": "/exports"})
    return RedirectResponse("/exports", status_code=303)
