"""Accounts, sessions, CSRF, roles, headers and escaping, over real HTTP."""

from __future__ import annotations

import httpx
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from pricing.review.auth import UserError, create_user
from pricing.store.models import AuditLog, Decision, Suggestion, User
from tests.review.conftest import csrf_from, login
from tests.review.data import HOSTILE_TITLE, PASSWORD


def _status(engine, suggestion_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(Suggestion.status).where(Suggestion.id == suggestion_id)
        ).scalar()


def test_passwords_are_argon2id_and_bad_accounts_are_refused(sqlite_store):
    engine = sqlite_store.engine
    with engine.connect() as conn:
        stored = conn.execute(select(User.password_hash).where(User.name == "anna")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    for name, password, role, field in [
        ("anna", "long-enough-pw", "manager", "already exists"),
        ("bob", "short", "manager", "password"),
        ("bob", "long-enough-pw", "owner", "role"),
        ("", "long-enough-pw", "viewer", "name"),
    ]:
        try:
            create_user(engine, name, password, role)
        except UserError as exc:
            assert field in str(exc)
        else:
            raise AssertionError(f"{name!r}/{role!r} was accepted")


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_it(server):
    with httpx.Client(base_url=server) as client:
        assert client.get("/suggestions").headers["location"].startswith("/login?next=")
        token = csrf_from(client.get("/login").text)
        bad = client.post("/login", data={"name": "anna", "password": "wrong", "csrf_token": token})
        assert bad.status_code == 401 and "Wrong name or password" in bad.text
        ok = client.post(
            "/login",
            data={
                "name": "anna",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/x",
            },
        )
        assert (
            ok.status_code == 303 and ok.headers["location"] == "/suggestions"
        )  # no open redirect
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        page = client.get("/suggestions")
        assert page.status_code == 200 and "anna" in page.text
        # The cookie is signed: a tampered copy is no session at all.
        value = client.cookies["pricewatch_session"]
        for cookie_value, expected in ((value, 200), (value[:-3] + "AAA", 303)):
            with httpx.Client(
                base_url=server, cookies={"pricewatch_session": cookie_value}
            ) as other:
                assert other.get("/suggestions").status_code == expected
        token = csrf_from(client.get("/suggestions").text)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
        assert client.get("/suggestions").status_code == 303
        assert client.get("/api/me").status_code == 401


def test_deactivated_user_is_logged_out_at_once(server, sqlite_store):
    client = login(server, "anna")
    assert client.get("/api/me").json()["name"] == "anna"
    with sqlite_store.engine.begin() as conn:
        conn.execute(update(User).where(User.name == "anna").values(active=False))
    assert client.get("/api/me").status_code == 401


def test_security_headers_on_pages_api_and_static(server):
    client = login(server, "anna")
    for path in ("/login", "/suggestions", "/api/suggestions", "/static/htmx.min.js", "/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"


def test_post_without_or_with_wrong_csrf_token_is_refused_and_changes_nothing(server, sqlite_store):
    client = login(server, "anna")
    drill = sqlite_store.s["drill"]
    attempts = [
        client.post(f"/suggestions/{drill}/approve"),
        client.post(f"/suggestions/{drill}/approve", data={"csrf_token": "forged"}),
        client.post(f"/suggestions/{drill}/approve", headers={"X-CSRF-Token": "forged"}),
        client.post(f"/api/suggestions/{drill}/approve"),
        client.post("/api/suggestions/bulk", json={"action": "approve"}),
        client.post_csrf(
            f"/api/suggestions/{drill}/approve", headers={"Origin": "http://evil.example"}
        ),
    ]
    assert [r.status_code for r in attempts] == [403] * 6
    assert "CSRF" in attempts[0].text
    assert _status(sqlite_store.engine, drill) == "pending"
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Decision)).scalar() == 0
    # The same request with the token goes through.
    assert client.post_csrf(f"/api/suggestions/{drill}/approve").json()["status"] == "approved"


def test_login_itself_needs_the_csrf_token(server):
    with httpx.Client(base_url=server) as client:
        response = client.post("/login", data={"name": "anna", "password": PASSWORD})
        assert response.status_code == 403


def test_viewer_reads_but_cannot_change_anything(server, sqlite_store, login_as):
    viewer = login_as("victor")
    page = viewer.get("/suggestions?status=all")
    assert page.status_code == 200 and "SKU-001" in page.text
    assert "hx-post" not in page.text and "Approve" not in page.text  # no controls at all
    product = viewer.get("/products/SKU-001").text
    assert "/matches/" not in product and "Confirm" not in product
    queue = viewer.get("/matches").text
    assert "SKU-001" in queue and "Confirm" not in queue and "hx-post" not in queue
    assert "Roll back" not in viewer.get("/audit").text
    assert "mark exported" not in viewer.get("/exports").text
    s = sqlite_store.s
    refused = [
        viewer.post_csrf(f"/api/suggestions/{s['drill']}/approve"),
        viewer.post_csrf(f"/api/suggestions/{s['drill']}/edit", json={"price": "99"}),
        viewer.post_csrf("/api/suggestions/bulk", json={"action": "approve"}),
        viewer.post_csrf(f"/api/matches/{sqlite_store.match_ids['drill-fuzzy']}/confirm"),
        viewer.post_csrf(f"/matches/{sqlite_store.match_ids['drill-fuzzy']}/confirm"),
        viewer.post_csrf("/api/exports/mark", json={"status": "applied"}),
        viewer.post_csrf(f"/suggestions/{s['drill']}/reject"),
        viewer.post_csrf("/exports/apply"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar() == 0
    assert _status(sqlite_store.engine, s["drill"]) == "pending"
    assert viewer.get("/api/suggestions").status_code == 200  # reading is fine
    assert viewer.get("/exports/approved.csv").status_code == 200


def test_scraped_text_is_escaped_and_javascript_urls_are_not_links(server, login_as):
    html = login_as("anna").get("/products/SKU-001").text
    assert HOSTILE_TITLE not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert "<script>" not in html.replace('<script src="/static/', "")


def test_openapi_describes_the_api(server):
    spec = httpx.get(server + "/api/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/suggestions",
        "/api/suggestions/{suggestion_id}/approve",
        "/api/suggestions/bulk",
        "/api/exports/approved",
        "/api/products/{sku}",
    ):
        assert path in paths, path
    assert not any(p.startswith("/suggestions") for p in paths)  # pages stay out of the API


def test_repeated_failed_logins_are_throttled(server):
    with httpx.Client(base_url=server) as client:
        token = csrf_from(client.get("/login").text)
        codes = [
            client.post(
                "/login", data={"name": "anna", "password": f"guess{i}", "csrf_token": token}
            ).status_code
            for i in range(6)
        ]
        assert codes == [401] * 5 + [429]
        # Even the right password waits now: the throttle does not reveal which guess was right.
        right = client.post(
            "/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 429 and "Too many failed logins" in right.text
