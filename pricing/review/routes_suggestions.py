"""The suggestions table: filter, sort, page; approve, reject, edit one row; bulk decisions.

Full pages for plain requests, fragments for htmx (the results block, or one table row), so
every link and form also works with JavaScript off.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from pricing.review.actions import ActionError, Actor, bulk_decide, decide
from pricing.review.auth import CurrentUser, page_manager, page_user
from pricing.review.queries import (
    STATUS_CHOICES,
    SuggestionFilter,
    count_matching,
    list_suggestions,
    suggestion_row,
)
from pricing.review.web import flash, is_htmx, render

router = APIRouter(include_in_schema=False)


def parse_filter(params: dict) -> tuple[SuggestionFilter, str | None]:
    """The filter from a query string or form; on bad input the default plus a message."""
    try:
        return SuggestionFilter.model_validate(params), None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return SuggestionFilter(), f"Filter ignored: {problems}"


def _results_context(request: Request, user: CurrentUser, f: SuggestionFilter) -> dict:
    engine = request.app.state.engine
    with engine.connect() as conn:
        page = list_suggestions(conn, f)
        pending = (
            page.total
            if f.status == "pending" or not user.can_decide
            else count_matching(conn, f, status="pending")
        )
        options = request.app.state.filter_options.get(conn)
    return {
        "nav": "suggestions",
        "f": f,
        "page": page,
        "pending_count": pending,
        "options": options,
        "status_choices": STATUS_CHOICES,
    }


@router.get("/")
def home() -> Response:
    return RedirectResponse("/suggestions", status_code=303)


@router.get("/suggestions")
def suggestions_page(request: Request, user: CurrentUser = Depends(page_user)) -> Response:
    f, error = parse_filter(dict(request.query_params))
    context = {**_results_context(request, user, f), "filter_error": error}
    if is_htmx(request, "results"):  # the address bar gets the canonical URL, not the raw form
        url = "/suggestions" + ("?" + urlencode(f.query_params()) if f.query_params() else "")
        return render(request, "_results.html", context, headers={"HX-Push-Url": url})
    return render(request, "suggestions.html", context)


def _row(
    request: Request,
    suggestion_id: int,
    *,
    error: str | None = None,
    editing: bool = False,
    changed: bool = False,
) -> Response:
    with request.app.state.engine.connect() as conn:
        row = suggestion_row(conn, suggestion_id)
    if row is None:
        raise HTTPException(404, f"Suggestion {suggestion_id} does not exist.")
    template = "_suggestion_edit.html" if editing else "_suggestion_row.html"
    # A changed row makes the bulk buttons' count stale: they reload themselves on this event.
    headers = {"HX-Trigger": "suggestions-changed"} if changed else None
    return render(request, template, {"s": row, "row_error": error}, headers=headers)


@router.get("/suggestions/bulk-buttons")
def bulk_buttons(request: Request, user: CurrentUser = Depends(page_user)) -> Response:
    """The bulk approve/reject buttons for a filter, with the current pending count."""
    f, _ = parse_filter(dict(request.query_params))
    with request.app.state.engine.connect() as conn:
        pending = count_matching(conn, f, status="pending") if user.can_decide else 0
    return render(request, "_bulk.html", {"f": f, "pending_count": pending})


@router.get("/suggestions/{suggestion_id}/row")
def suggestion_row_fragment(
    request: Request, suggestion_id: int, user: CurrentUser = Depends(page_user)
) -> Response:
    return _row(request, suggestion_id)


@router.get("/suggestions/{suggestion_id}/edit")
def edit_form(
    request: Request, suggestion_id: int, user: CurrentUser = Depends(page_manager)
) -> Response:
    return _row(request, suggestion_id, editing=True)


@router.post("/suggestions/{suggestion_id}/edit")
def edit(
    request: Request,
    suggestion_id: int,
    price: str = Form(..., max_length=40),
    user: CurrentUser = Depends(page_manager),
) -> Response:
    try:
        decide(request.app.state.engine, Actor.of(user), suggestion_id, "edit", price=price)
    except ActionError as exc:
        return _row(request, suggestion_id, error=str(exc), editing=True)
    return _row(request, suggestion_id, changed=True)


@router.post("/suggestions/{suggestion_id}/{action}")
def decide_one(
    request: Request, suggestion_id: int, action: str, user: CurrentUser = Depends(page_manager)
) -> Response:
    if action not in ("approve", "reject"):
        raise HTTPException(404, "No such action.")
    try:
        decide(request.app.state.engine, Actor.of(user), suggestion_id, action)
    except ActionError as exc:
        return _row(request, suggestion_id, error=str(exc))
    if not is_htmx(request):
        return RedirectResponse("/suggestions", status_code=303)
    return _row(request, suggestion_id, changed=True)


@router.post("/suggestions/bulk")
async def bulk(request: Request, user: CurrentUser = Depends(page_manager)) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    params = {k: v for k, v in form.items() if k not in ("action", "csrf_token")}
    f, error = parse_filter(params)
    if error:
        raise HTTPException(400, error)
    try:
        count = bulk_decide(request.app.state.engine, Actor.of(user), f, action)
    except ActionError as exc:
        raise HTTPException(400, str(exc)) from None
    verb = "Approved" if action == "approve" else "Rejected"
    flash(request, f"{verb} {count:,} suggestion{'s' if count != 1 else ''}.")
    if is_htmx(request):
        context = {**_results_context(request, user, f), "filter_error": None}
        return render(request, "_results.html", context)
    return RedirectResponse("/suggestions?" + urlencode(f.query_params()), status_code=303)
