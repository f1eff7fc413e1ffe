"""Accounts, passwords and who is asking.

Passwords are hashed with Argon2id (argon2-cffi's defaults follow RFC 9106). The session lives
on the server (``sessions.py``, table ``web_sessions``); Starlette's signed cookie (itsdangerous,
HttpOnly, SameSite=Lax, set up in ``app.py``) holds only the random session id and the CSRF
secret, never the user id. Every request looks the session and its user up, so a logout, a
deactivated account or a changed role takes effect at once, for every copy of the cookie.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, insert, select, update

from pricing.review import sessions
from pricing.review.csrf import new_csrf_token
from pricing.store.models import Role, User

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
ROLE_RANK = {Role.viewer: 0, Role.manager: 1, Role.admin: 2}


class UserError(ValueError):
    """A user could not be created: the message says why."""


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    name: str
    role: str

    def can(self, role: Role) -> bool:
        """True when this user's role is at least ``role``."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[role]

    @property
    def can_decide(self) -> bool:
        return self.can(Role.manager)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(engine: Engine, name: str, password: str) -> int:
    """Give NAME a new password and end all of their sessions (a password is changed because
    the old one may be known: a browser logged in with it must not stay in); returns how many
    sessions were ended. Raises UserError on an unknown name or a too-short password."""
    from pricing.review.actions import Actor, audit  # actions imports this module

    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    with engine.begin() as conn:
        user_id = conn.execute(select(User.id).where(User.name == name)).scalar()
        if user_id is None:
            raise UserError(f"name: no user called {name!r}")
        conn.execute(
            update(User).where(User.id == user_id).values(password_hash=hash_password(password))
        )
        ended = sessions.revoke_user_sessions(conn, user_id)
        audit(conn, Actor("cli"), "password_set", "user", name, details={"sessions_revoked": ended})
    return ended


def create_user(engine: Engine, name: str, password: str, role: str) -> int:
    """Create an account and return its id; raises UserError on a bad name, role or password."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise UserError("name: must be 1-100 characters")
    try:
        role = Role(role).value
    except ValueError:
        raise UserError(
            f"role: {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    with engine.begin() as conn:
        if conn.execute(select(User.id).where(User.name == name)).first():
            raise UserError(f"name: a user called {name!r} already exists")
        return conn.execute(
            insert(User)
            .values(name=name, password_hash=hash_password(password), role=role, active=True)
            .returning(User.id)
        ).scalar_one()


def authenticate(engine: Engine, name: str, password: str) -> CurrentUser | None:
    """The active user with this name and password, else None (same cost either way)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(User.id, User.name, User.role, User.password_hash).where(
                User.name == name, User.active.is_(True)
            )
        ).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    with engine.begin() as conn:
        values = {"last_login_at": datetime.now(UTC)}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        conn.execute(update(User).where(User.id == row.id).values(**values))
    return CurrentUser(row.id, row.name, row.role)


class LoginRequired(Exception):
    """Raised by page dependencies; app.py turns it into a redirect to /login."""


def optional_user(request: Request) -> CurrentUser | None:
    """The user of this request's live session, else None (no session, or a dead one)."""
    session_id = request.session.get("sid")
    if not isinstance(session_id, str):
        request.session.pop("uid", None)  # a cookie from before server-side sessions
        return None
    row = sessions.resolve_session(
        request.app.state.engine, session_id, request.app.state.session_policy
    )
    if row is None:  # unknown, revoked, expired, idle, or its user deactivated
        request.session.clear()
        return None
    user = CurrentUser(row.user_id, row.name, row.role)
    request.state.user = user  # templates show who is logged in
    return user


def page_user(user: CurrentUser | None = Depends(optional_user)) -> CurrentUser:
    """Any logged-in user, for pages: anonymous visitors are sent to /login."""
    if user is None:
        raise LoginRequired()
    return user


def page_manager(user: CurrentUser = Depends(page_user)) -> CurrentUser:
    if not user.can_decide:
        raise HTTPException(403, "Your role (viewer) can read but not change anything.")
    return user


def page_admin(user: CurrentUser = Depends(page_user)) -> CurrentUser:
    if not user.can(Role.admin):
        raise HTTPException(403, "Only admins manage users.")
    return user


def api_user(user: CurrentUser | None = Depends(optional_user)) -> CurrentUser:
    if user is None:
        raise HTTPException(401, "Not logged in.")
    return user


def api_manager(user: CurrentUser = Depends(api_user)) -> CurrentUser:
    if not user.can_decide:
        raise HTTPException(403, "Your role (viewer) can read but not change anything.")
    return user


class LoginThrottle:
    """Failed logins are limited per account name (``per_name``) and, more loosely, per client
    address (``per_address``: many people may share a proxy) within ``window`` seconds; past
    either limit the login answers 429 until the oldest failure ages out. In memory, per
    process: it slows online guessing, and Argon2 already makes each guess expensive."""

    def __init__(self, per_name: int = 5, per_address: int = 30, window: float = 300.0) -> None:
        self.limits = {"name": per_name, "addr": per_address}
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures[key]
        while times and time.monotonic() - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.limits[k.split(":", 1)[0]] for k in keys)

    def failed(self, *keys: str) -> None:
        for k in keys:
            self._recent(k).append(time.monotonic())

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)


router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would make /login a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/suggestions"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:
    from pricing.review.web import render

    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    name: str = Form(...),
    password: str = Form(...),
    next: str | None = Form(None),
) -> Response:
    from pricing.review.web import render

    throttle: LoginThrottle = request.app.state.login_throttle
    keys = (f"name:{name.strip().lower()}", f"addr:{request.client.host if request.client else ''}")
    if throttle.blocked(*keys):
        context = {"next": _safe_next(next), "error": "Too many failed logins: wait a few minutes."}
        return render(request, "login.html", context, status_code=429)
    user = authenticate(request.app.state.engine, name.strip(), password)
    if user is None:
        throttle.failed(*keys)
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "Wrong name or password."},
            status_code=401,
        )
    throttle.succeeded(keys[0])
    # A new session id and CSRF token on every login; the id the browser came with dies.
    brought = request.session.get("sid")
    session_id = sessions.start_session(
        request.app.state.engine,
        user.id,
        request.app.state.session_policy,
        user_agent=request.headers.get("user-agent"),
        replaces=brought if isinstance(brought, str) else None,
    )
    request.session.clear()
    request.session.update({"sid": session_id, "csrf": new_csrf_token()})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    """Revoke the session on the server, so a copy of the cookie is worthless too."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        sessions.revoke_session(
            request.app.state.engine, session_id, request.app.state.session_policy
        )
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
