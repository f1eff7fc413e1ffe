"""Wiring: the FastAPI app over one store. Behaviour lives in the routes_* modules."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from pricing.review import (
    auth,
    routes_admin,
    routes_api,
    routes_audit,
    routes_exports,
    routes_matches,
    routes_ops,
    routes_products,
    routes_suggestions,
)
from pricing.review.csrf import verify_csrf
from pricing.review.currency import CurrencyTable
from pricing.review.queries import FilterOptionsCache, refresh_planner_stats
from pricing.review.security import SecurityHeadersMiddleware
from pricing.review.sessions import DEFAULT_IDLE, DEFAULT_LIFETIME, SessionPolicy, utc_now
from pricing.review.web import STATIC_DIR, make_env, render
from pricing.rules import StrategyFile

log = logging.getLogger(__name__)

SECRET_ENV = "PRICEWATCH_SECRET_KEY"
SESSION_COOKIE = "pricewatch_session"


def create_app(
    engine: Engine,
    *,
    secret_key: str | None = None,
    stale_after: timedelta = timedelta(hours=24),
    https_only: bool = False,
    strategies: StrategyFile | str | Path | None = None,
    session_lifetime: timedelta = DEFAULT_LIFETIME,
    session_idle: timedelta = DEFAULT_IDLE,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The review app. ``secret_key`` signs session cookies (else PRICEWATCH_SECRET_KEY, else a
    random key: sessions then end when the process does). ``https_only`` adds the Secure
    cookie flag and HSTS; turn it on behind TLS.

    ``strategies`` (a loaded file or a path; None: the file shipped in pricing/rules/, as for
    ``pricewatch suggest``) supplies the currency rates competitor prices are converted with:
    serve with the file you suggest with, so the chart and the explanations agree. A broken
    file raises StrategyError before anything is served.

    Sessions live on the server (``sessions.py``): one ends ``session_lifetime`` after login,
    after ``session_idle`` without a request, at logout, or when an admin deactivates the user
    or changes their role. ``clock`` (aware UTC datetimes; default: the system clock) is what
    those limits are measured by, so tests can move time instead of sleeping."""
    secret_key = secret_key or os.environ.get(SECRET_ENV)
    if not secret_key:
        log.warning("%s not set: using a random key, sessions end on restart", SECRET_ENV)
        secret_key = secrets.token_urlsafe(32)

    app = FastAPI(
        title="Pricewatch review API",
        version="1",
        summary="Review, approve and export suggested prices.",
        dependencies=[Depends(verify_csrf)],
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads scripts from a CDN and runs inline script: not under our CSP
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.currencies = CurrencyTable.load(strategies)
    refresh_planner_stats(engine)
    app.state.templates = make_env(stale_after)
    app.state.filter_options = FilterOptionsCache()
    app.state.stale_after = stale_after
    app.state.login_throttle = auth.LoginThrottle()
    app.state.session_policy = SessionPolicy(
        lifetime=session_lifetime, idle=session_idle, clock=clock or utc_now
    )

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        # The browser's copy expires with the server's absolute lifetime; the server decides.
        max_age=max(1, int(session_lifetime.total_seconds())),
        same_site="lax",
        https_only=https_only,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=https_only)  # outermost: every response

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        auth,
        routes_suggestions,
        routes_products,
        routes_matches,
        routes_ops,
        routes_audit,
        routes_exports,
        routes_admin,
    ):
        app.include_router(module.router)
    app.include_router(routes_api.router, prefix="/api")
    _error_handlers(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(auth.LoginRequired)
    async def _login(request: Request, _exc: auth.LoginRequired) -> Response:
        target = "/login?next=" + quote(
            request.url.path + ("?" + request.url.query if request.url.query else "")
        )
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        return _error(request, 422, problems)


_TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
}


def _error(request: Request, status: int, detail: str, headers: dict | None = None) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if request.headers.get("hx-request"):  # app.js shows it as a toast
        return PlainTextResponse(detail, status_code=status, headers=headers)
    context = {"status_code": status, "title": _TITLES.get(status, "Error"), "detail": detail}
    return render(request, "error.html", context, status_code=status, headers=headers)
