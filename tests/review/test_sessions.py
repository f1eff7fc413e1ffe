"""Server-side sessions over real HTTP: revocation, expiry, fixation, what the cookie holds.

Time is the app's injectable clock (``create_app(clock=...)``), moved by the tests; the cookie's
own signature timestamp keeps real time, so an expiry seen here is the server's decision.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from itsdangerous import TimestampSigner
from sqlalchemy import insert, select

from pricing.cli import main
from pricing.review.app import SESSION_COOKIE, create_app
from pricing.review.serving import serve_in_thread
from pricing.store.models import AuditLog, Suggestion, User, WebSession
from tests.review.conftest import Client, csrf_from, login
from tests.review.data import PASSWORD, Store


class Clock:
    """The app's clock, moved by hand (shared with the server thread)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def payload(cookie: str) -> dict:
    """What Starlette's signed cookie carries: base64 JSON before the first dot (signed, not
    encrypted: anyone holding the cookie can read it)."""
    data = cookie.split(".", 1)[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


def forge(session: dict, secret: str = "test-secret") -> str:
    """A correctly signed cookie with any content: only the server's key can make one."""
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(secret).sign(data).decode()


def client_with(server: str, cookie: str) -> Client:
    client = Client(base_url=server, timeout=20)
    client.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1")
    return client


def user_id(store: Store, name: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(User.id).where(User.name == name)).scalar_one()


def session_rows(store: Store, name: str) -> list:
    with store.engine.connect() as conn:
        return conn.execute(
            select(WebSession.__table__)
            .where(WebSession.user_id == user_id(store, name))
            .order_by(WebSession.id)
        ).all()


def assert_no_session(client: httpx.Client) -> None:
    page = client.get("/suggestions")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert client.get("/api/me").status_code == 401


@pytest.fixture
def clocked(store: Store) -> Iterator[tuple[str, Clock]]:
    """The real app on SQLite and PostgreSQL, with a clock the test moves."""
    clock = Clock()
    app = create_app(store.engine, secret_key="test-secret", clock=clock)
    with serve_in_thread(app) as base_url:
        yield base_url, clock


def test_logout_revokes_the_session_so_a_copied_cookie_is_worthless(any_server, store):
    anna = login(any_server, "anna")
    copied = anna.cookies[SESSION_COOKIE]
    thief = client_with(any_server, copied)
    assert thief.get("/api/me").json()["name"] == "anna"  # a copy works while logged in
    token = csrf_from(anna.get("/suggestions").text)
    assert anna.post("/logout", data={"csrf_token": token}).status_code == 303
    assert session_rows(store, "anna")[-1].revoked_at is not None
    thief = client_with(any_server, copied)
    assert_no_session(thief)
    # Not even a state change with the CSRF token that was valid in that session.
    drill = store.s["drill"]
    thief = client_with(any_server, copied)
    refused = thief.post(
        f"/api/suggestions/{drill}/approve", headers={"X-CSRF-Token": payload(copied)["csrf"]}
    )
    assert refused.status_code == 401
    with store.engine.connect() as conn:
        status = conn.execute(select(Suggestion.status).where(Suggestion.id == drill)).scalar()
    assert status == "pending"


def test_cookie_holds_a_random_session_id_and_the_table_only_its_hash(server, sqlite_store):
    anonymous = httpx.Client(base_url=server)
    anonymous.get("/login")
    assert set(payload(anonymous.cookies[SESSION_COOKIE])) == {"csrf"}  # no session before login
    first, second = login(server, "anna"), login(server, "anna")
    session = payload(first.cookies[SESSION_COOKIE])
    assert set(session) == {"sid", "csrf"}  # no user id, name or role
    sid = session["sid"]
    assert len(sid) >= 43 and sid != payload(second.cookies[SESSION_COOKIE])["sid"]
    rows = session_rows(sqlite_store, "anna")
    assert len(rows) == 2
    assert rows[0].sid_hash == hashlib.sha256(sid.encode()).hexdigest()
    assert all(sid not in str(value) for row in rows for value in row)
    assert rows[0].user_agent.startswith("python-httpx/")
    assert rows[0].expires_at - rows[0].created_at == timedelta(hours=12)


def test_unknown_or_old_style_sessions_are_no_session_even_when_signed(server, sqlite_store):
    admin_id = user_id(sqlite_store, "admin")
    live = login(server, "admin")
    stored_hash = session_rows(sqlite_store, "admin")[0].sid_hash
    for session in (
        {"sid": secrets.token_urlsafe(32), "csrf": "x"},  # an id the server never issued
        {"uid": admin_id, "csrf": "x"},  # the cookie format before server-side sessions
        {"sid": stored_hash, "csrf": "x"},  # a copy of the table is no key to the sessions
    ):
        client = client_with(server, forge(session))
        assert_no_session(client)
        left = client.cookies.get(SESSION_COOKIE)  # cleared, or a fresh anonymous one
        assert left is None or "sid" not in payload(left)
    # The real session is untouched, and a cookie signed with another key is no session either.
    assert live.get("/api/me").json()["role"] == "admin"
    stolen_key = forge({"uid": admin_id}, secret="not-the-secret")
    assert client_with(server, stolen_key).get("/api/me").status_code == 401


def test_login_never_reuses_the_session_id_the_browser_brought(server, sqlite_store):
    # Session fixation: an attacker plants their own valid cookie in the victim's browser and
    # waits for the victim to log in through it.
    attacker = login(server, "victor")
    planted = attacker.cookies[SESSION_COOKIE]
    victim = client_with(server, planted)
    token = csrf_from(victim.get("/login").text)
    response = victim.post(
        "/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    after = payload(victim.cookies[SESSION_COOKIE])
    assert after["sid"] != payload(planted)["sid"]
    assert after["csrf"] not in (token, payload(planted)["csrf"])  # the CSRF token turns too
    assert victim.get("/api/me").json()["name"] == "anna"
    # The planted id is dead: it neither became anna's session nor stays victor's.
    assert attacker.get("/api/me").status_code == 401
    assert session_rows(sqlite_store, "victor")[-1].revoked_at is not None
    # An anonymous visitor's pre-login cookie has no session id to carry over at all.
    fresh = httpx.Client(base_url=server)
    token = csrf_from(fresh.get("/login").text)
    fresh.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token})
    assert payload(fresh.cookies[SESSION_COOKIE])["csrf"] != token


def test_deactivation_and_role_change_by_an_admin_end_live_sessions(server, sqlite_store):
    admin, anna, victor = login(server, "admin"), login(server, "anna"), login(server, "victor")
    anna_on_phone = login(server, "anna")
    anna_id, victor_id = user_id(sqlite_store, "anna"), user_id(sqlite_store, "victor")

    assert admin.post_csrf(f"/admin/users/{anna_id}", data={"active": "false"}).status_code == 303
    assert_no_session(anna)
    assert_no_session(anna_on_phone)
    assert victor.get("/api/me").status_code == 200  # only anna's sessions ended
    assert admin.get("/api/me").status_code == 200
    assert all(r.revoked_at is not None for r in session_rows(sqlite_store, "anna"))

    assert admin.post_csrf(f"/admin/users/{victor_id}", data={"role": "manager"}).status_code == 303
    assert_no_session(victor)
    assert login(server, "victor").get("/api/me").json()["role"] == "manager"
    # Re-activated, anna logs in again; the old cookies stay dead.
    assert admin.post_csrf(f"/admin/users/{anna_id}", data={"active": "true"}).status_code == 303
    assert login(server, "anna").get("/api/me").status_code == 200
    assert anna.get("/api/me").status_code == 401
    with sqlite_store.engine.connect() as conn:
        details = conn.execute(
            select(AuditLog.details).where(AuditLog.action == "user_change").order_by(AuditLog.id)
        ).scalars()
        assert list(details) == [{"sessions_revoked": 2}, {"sessions_revoked": 1}, None]


def test_idle_timeout_and_last_seen_written_at_most_once_a_minute(clocked, store):
    server, clock = clocked
    anna = login(server, "anna")
    start = clock.now
    clock.advance(seconds=30)
    assert anna.get("/api/me").status_code == 200
    assert session_rows(store, "anna")[0].last_seen_at == start  # no write within the minute
    clock.advance(seconds=31)
    assert anna.get("/api/me").status_code == 200
    assert session_rows(store, "anna")[0].last_seen_at == clock.now
    # Activity keeps it alive past two hours from login ...
    for _ in range(2):
        clock.advance(hours=1, minutes=59)
        assert anna.get("/suggestions").status_code == 200
    # ... two hours without a request end it: pages go to /login, the API answers 401.
    clock.advance(hours=2)
    assert_no_session(anna)
    assert session_rows(store, "anna")[0].revoked_at is None  # idle, not revoked


def test_absolute_lifetime_ends_even_a_busy_session(clocked, store):
    server, clock = clocked
    anna = login(server, "anna")
    for _ in range(6):  # 11 hours of steady work
        clock.advance(minutes=110)
        assert anna.get("/api/me").status_code == 200
    clock.advance(minutes=59, seconds=59)
    assert anna.get("/api/me").status_code == 200
    clock.advance(seconds=1)  # 12 hours after login
    assert_no_session(anna)
    assert login(server, "anna").get("/api/me").status_code == 200  # logging in again works


def test_login_deletes_the_users_sessions_that_ended_a_month_ago(clocked, store):
    server, clock = clocked
    anna_id = user_id(store, "anna")
    with store.engine.begin() as conn:
        conn.execute(
            insert(WebSession),
            [
                {
                    "sid_hash": f"{age:064d}",
                    "user_id": anna_id,
                    "created_at": clock.now - timedelta(days=age, hours=12),
                    "last_seen_at": clock.now - timedelta(days=age, hours=12),
                    "expires_at": clock.now - timedelta(days=age),
                }
                for age in (31, 29)
            ],
        )
    login(server, "anna")
    assert [r.sid_hash for r in session_rows(store, "anna")][:1] == [f"{29:064d}"]
    assert len(session_rows(store, "anna")) == 2


def test_cli_lists_and_revokes_a_users_sessions(server, sqlite_store):
    db = str(sqlite_store.engine.url.database)
    runner = CliRunner()
    desk, phone, victor = login(server, "anna"), login(server, "anna"), login(server, "victor")
    listed = runner.invoke(main, ["users", "sessions", "anna", "--db", db])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2 and all("\tlive\t" in line and "python-httpx/" in line for line in lines)
    revoked = runner.invoke(main, ["users", "sessions", "anna", "--revoke", "--db", db])
    assert revoked.exit_code == 0 and "revoked 2 sessions of 'anna'" in revoked.output
    assert_no_session(desk)
    assert_no_session(phone)
    assert victor.get("/api/me").status_code == 200
    listed = runner.invoke(main, ["users", "sessions", "anna", "--db", db])
    assert [line.split("\t")[1] for line in listed.output.strip().splitlines()] == ["revoked"] * 2
    with sqlite_store.engine.connect() as conn:
        entry = conn.execute(select(AuditLog).where(AuditLog.action == "sessions_revoke")).one()
    assert (entry.actor, entry.entity_id, entry.count) == ("cli", "anna", 2)
    unknown = runner.invoke(main, ["users", "sessions", "nobody", "--db", db])
    assert unknown.exit_code != 0 and "no user called 'nobody'" in unknown.output


def test_a_new_password_logs_the_user_out_everywhere(server, sqlite_store):
    db = str(sqlite_store.engine.url.database)
    runner = CliRunner()
    desk, victor = login(server, "anna"), login(server, "victor")
    short = runner.invoke(
        main, ["users", "passwd", "anna", "--password-stdin", "--db", db], "abc\n"
    )
    assert short.exit_code != 0 and "password: must be at least" in short.output
    assert desk.get("/api/me").status_code == 200  # a refused change changes nothing

    new_password = "a-much-longer-secret-42"
    changed = runner.invoke(
        main, ["users", "passwd", "anna", "--password-stdin", "--db", db], new_password + "\n"
    )
    assert changed.exit_code == 0, changed.output
    assert "1 session ended" in changed.output
    assert_no_session(desk)
    assert victor.get("/api/me").status_code == 200
    with Client(base_url=server, timeout=20) as fresh:
        token = csrf_from(fresh.get("/login").text)
        old = fresh.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token})
        assert old.status_code != 303  # the old password no longer logs in
    assert login(server, "anna", password=new_password).get("/api/me").status_code == 200
    with sqlite_store.engine.connect() as conn:
        entry = conn.execute(select(AuditLog).where(AuditLog.action == "password_set")).one()
    assert (entry.actor, entry.entity_id) == ("cli", "anna")
    assert entry.details == {"sessions_revoked": 1}
