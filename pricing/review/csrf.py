"""CSRF protection for every state change, pages and JSON API alike.

A synchronizer token: a random secret kept in the signed session cookie, echoed back by the
page either as the ``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx sends the
header on every request, scripts using the API do the same). A cross-site page can make the
browser send the cookie but cannot read the token, so it cannot forge the echo. SameSite=Lax
cookies and the Origin check are a second and third line, not the defence itself.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

HEADER = "x-csrf-token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """This session's token, created on first use (the login form needs one before login)."""
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def _origin_ok(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None  # an opaque "null" origin is never ours
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def verify_csrf(request: Request) -> None:
    """App-wide dependency: refuse an unsafe request whose token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again.")
    if not _origin_ok(request):
        raise HTTPException(403, "Cross-origin request refused.")
