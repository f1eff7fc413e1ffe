"""Templates and the small formatting helpers every page shares.

Autoescape is on for every template (not only *.html): competitor titles, sellers and URLs are
scraped text and must never reach the page as markup. ``safe_url`` keeps only http(s) links,
because an escaped ``javascript:`` URL is still a working link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pricing.matching.explain import reasons as match_reasons
from pricing.review.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
MAX_TEXT = 300  # scraped strings are cut to this many characters on display


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money(value: Decimal | float | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}" if currency else text


def pct(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f} %" if sign else f"{value:.1f} %"


def age(value: datetime | None, now: datetime | None = None) -> str:
    value = as_utc(value)
    if value is None:
        return "unknown"
    seconds = max(0, ((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def duration(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} days"


def when(value: datetime | None) -> str:
    value = as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def short(value: object, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(value: str | None) -> str | None:
    if not value or len(value) > 2000:
        return None
    try:
        return value if urlsplit(value).scheme in ("http", "https") else None
    except ValueError:
        return None


def make_env(stale_after: timedelta) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, pct=pct, age=age, when=when, short=short, safe_url=safe_url)
    env.filters["match_reasons"] = match_reasons
    env.globals.update(urlencode=urlencode, stale_after=duration(stale_after))
    env.tests["stale"] = lambda dt: dt is None or datetime.now(UTC) - as_utc(dt) > stale_after
    return env


def render_string(request: Request, template: str, context: dict) -> str:
    """Render with what every page needs: user, CSRF token, flash messages."""
    env: Environment = request.app.state.templates
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    context.setdefault("nav", "")
    return env.get_template(template).render(
        request=request,
        user=getattr(request.state, "user", None),
        csrf=csrf_token(request),
        flashes=flashes,
        **context,
    )


def render(
    request: Request,
    template: str,
    context: dict,
    status_code: int = 200,
    headers: dict | None = None,
) -> HTMLResponse:
    html = render_string(request, template, context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-line message shown on the next rendered page (after a redirect)."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def is_htmx(request: Request, target: str | None = None) -> bool:
    if request.headers.get("hx-request") != "true":
        return False
    return target is None or request.headers.get("hx-target") == target
