"""Server-side sessions: the cookie names a row in ``web_sessions``, the row says who.

A signed cookie alone cannot be taken back: logging out clears the browser's copy, but a copied
cookie stays good until it expires, which is not acceptable in a tool that approves prices. So
the cookie (still Starlette's signed one) carries only a random session id and the CSRF token;
the server keeps the SHA-256 of the id with the user, its lifetime and its revocation, and
every request looks the row up. Logging out, deactivating the user or changing their role ends
the row, and with it every copy of the cookie.

Each request costs one indexed read (the unique ``sid_hash``, joined to ``users`` by primary
key, so a deactivated user is out at once whatever the session says). ``last_seen_at`` is
written at most once per ``touch_every`` (a minute), not on every request; the idle timeout is
therefore exact to within that minute.

Time comes from ``SessionPolicy.clock`` so tests (and anyone checking the expiry rules) drive
it without sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update

from pricing.store.models import User, WebSession

DEFAULT_LIFETIME = timedelta(hours=12)  # absolute: a session never outlives this
DEFAULT_IDLE = timedelta(hours=2)  # ... and ends after this long without a request
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ENDED = timedelta(days=30)  # ended rows are kept this long (``users sessions`` shows them)
USER_AGENT_MAX = 200  # the column's length

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last, and the clock they are measured by."""

    lifetime: timedelta = DEFAULT_LIFETIME
    idle: timedelta = DEFAULT_IDLE
    touch_every: timedelta = TOUCH_EVERY
    clock: Clock = field(default=utc_now)

    def __post_init__(self) -> None:
        if self.lifetime <= timedelta(0) or self.idle <= timedelta(0):
            raise ValueError("session lifetime and idle timeout must be positive")


def new_session_id() -> str:
    """256 random bits: the cookie's only secret, never stored as such."""
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str) -> str:
    """What the table keeps: a stolen copy of it cannot be turned back into cookies.

    A plain SHA-256 is enough (no salt, no slow hash): the input is 256 random bits, not a
    password, and the lookup must stay one indexed equality."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(
    engine: Engine,
    user_id: int,
    policy: SessionPolicy,
    *,
    user_agent: str | None = None,
    replaces: str | None = None,
) -> str:
    """Open a session for ``user_id`` and return its id (for the cookie).

    Every login gets a new id, whatever the browser brought: ``replaces`` (the id in the
    cookie at login, if any) is revoked, so an id planted before login (session fixation) or
    the previous user's session on a shared browser is dead afterwards. The user's sessions
    that ended more than ``KEEP_ENDED`` ago are deleted here, which bounds the table."""
    session_id = new_session_id()
    now = policy.clock()
    with engine.begin() as conn:
        if replaces:
            _revoke_where(conn, now, WebSession.sid_hash == hash_session_id(replaces))
        conn.execute(
            delete(WebSession).where(
                WebSession.user_id == user_id, WebSession.expires_at < now - KEEP_ENDED
            )
        )
        conn.execute(
            insert(WebSession).values(
                sid_hash=hash_session_id(session_id),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + policy.lifetime,
                user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
            )
        )
    return session_id


def resolve_session(engine: Engine, session_id: str, policy: SessionPolicy) -> Row | None:
    """The live session's user (``user_id``, ``name``, ``role``), else None.

    None covers every way a session can be dead: unknown id, revoked, past its absolute
    lifetime, idle too long, or its user deactivated or deleted."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                WebSession.id,
                WebSession.last_seen_at,
                WebSession.expires_at,
                User.id.label("user_id"),
                User.name,
                User.role,
            )
            .join(User, User.id == WebSession.user_id)
            .where(
                WebSession.sid_hash == hash_session_id(session_id),
                WebSession.revoked_at.is_(None),
                User.active.is_(True),
            )
        ).first()
    if row is None:
        return None
    now = policy.clock()
    idle_for = now - row.last_seen_at
    if now >= row.expires_at or idle_for >= policy.idle:
        return None
    if idle_for >= policy.touch_every:
        with engine.begin() as conn:
            conn.execute(
                update(WebSession)
                .where(WebSession.id == row.id, WebSession.revoked_at.is_(None))
                .values(last_seen_at=now)
            )
    return row


def revoke_session(engine: Engine, session_id: str, policy: SessionPolicy) -> bool:
    """End one session (logout); True if it was live."""
    with engine.begin() as conn:
        return (
            _revoke_where(conn, policy.clock(), WebSession.sid_hash == hash_session_id(session_id))
            > 0
        )


def revoke_user_sessions(conn: Connection, user_id: int, now: datetime | None = None) -> int:
    """End every session of a user, in the caller's transaction (so an admin's change and the
    revocation commit together); returns how many were still open. Rows past their lifetime
    are left alone: they are dead already."""
    now = now or utc_now()
    return _revoke_where(conn, now, WebSession.user_id == user_id, WebSession.expires_at > now)


def _revoke_where(conn: Connection, now: datetime, *conditions) -> int:
    result = conn.execute(
        update(WebSession)
        .where(*conditions, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def session_state(row: Row, policy: SessionPolicy, now: datetime | None = None) -> str:
    """For listings: "live", "revoked", "expired" (absolute lifetime) or "idle" (idle time)."""
    now = now or policy.clock()
    if row.revoked_at is not None:
        return "revoked"
    if now >= row.expires_at:
        return "expired"
    if now - row.last_seen_at >= policy.idle:
        return "idle"
    return "live"


def user_sessions(conn: Connection, user_id: int) -> Sequence[Row]:
    """A user's sessions, newest first (never the id: the table does not have it)."""
    return conn.execute(
        select(
            WebSession.id,
            WebSession.created_at,
            WebSession.last_seen_at,
            WebSession.expires_at,
            WebSession.revoked_at,
            WebSession.user_agent,
        )
        .where(WebSession.user_id == user_id)
        .order_by(WebSession.created_at.desc(), WebSession.id.desc())
    ).all()
