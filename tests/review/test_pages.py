"""Pages over real HTTP: product chart, ops with a real APScheduler job store, audit rollback,
the CLI commands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from sqlalchemy import select

from pricing.cli import main
from pricing.review.app import create_app
from pricing.review.auth import create_user
from pricing.review.serving import serve_in_thread
from pricing.store.models import Product, Suggestion, User
from tests.review.conftest import csrf_from, login


def tick(message: str) -> None:
    """A scheduled job for the job store (never run: the scheduler is created paused)."""


def test_product_page_shows_prices_margin_chart_matches_and_clicks(server, login_as):
    html = login_as("anna").get("/products/SKU-001?days=30").text
    assert 'id="our-price">100.00<' in html
    assert "40.0 %" in html  # margin (100 - 60) / 100
    svg = html[
        html.index('<svg id="price-chart"') : html.index("</svg>", html.index("price-chart"))
    ]
    assert svg.count('class="stockout"') == 1  # shop-02's middle period
    assert svg.count("stockout-line") == 1
    assert len(re.findall(r'<g class="series"', svg)) == 3
    assert "our-price" in svg
    assert "62 %" in html and "fuzzy" in html  # match confidence and method
    # ... and why it waits, in words (the evidence is escaped like any scraped text)
    assert "titles 62% alike" in html and "also fits bos2136&lt;b&gt;, another model" in html
    assert "Second line of the explanation." in html
    assert "last 30 days" in html and "10.0 %" in html  # conversion = 2 orders / 20 clicks


def test_match_confirm_from_the_product_page(server, sqlite_store, login_as):
    anna = login_as("anna")
    mid = sqlite_store.match_ids["drill-fuzzy"]
    row = anna.post_csrf(f"/products/SKU-001/matches/{mid}/confirm", headers={"HX-Request": "true"})
    assert (
        row.status_code == 200 and "confirmed" in row.text and row.text.lstrip().startswith("<tr")
    )
    # A match of another product cannot be decided through this product's URL.
    assert anna.post_csrf(f"/products/SKU-002/matches/{mid}/reject").status_code == 404
    json = anna.get("/api/products/SKU-001").json()
    assert {m["id"]: m["status"] for m in json["matches"]}[mid] == "confirmed"
    reasons = {m["id"]: m["reasons"] for m in json["matches"]}[mid]
    assert reasons[0] == "titles 62% alike" and reasons[1].startswith("also fits bos2136<b>")


def test_match_queue_lists_what_waits_with_reasons_and_takes_verdicts(
    server, sqlite_store, login_as
):
    anna = login_as("anna")
    mid = sqlite_store.match_ids["drill-fuzzy"]
    html = anna.get("/matches").text  # default: status review
    assert f'id="q-{mid}"' in html and "1</strong> match with status review" in html
    assert "also fits bos2136&lt;b&gt;" in html  # the reason, escaped
    assert f'id="q-{sqlite_store.match_ids["drill-shop01"]}"' not in html  # accepted: not here
    assert "0</strong> matches with status review" in anna.get("/matches?q=no-such-thing").text
    assert anna.get("/matches?status=bogus").status_code == 400
    row = anna.post_csrf(f"/matches/{mid}/confirm", headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="q-{mid}"')
    assert "st-confirmed" in row.text
    assert "0</strong> matches with status review" in anna.get("/matches").text  # the queue is done
    assert f'id="q-{mid}"' in anna.get("/matches?status=confirmed").text
    assert anna.post_csrf("/matches/999999/reject").status_code == 400  # no such match


def test_match_queue_and_audit_pages_page_through_keeping_their_filters(
    server, sqlite_store, login_as, monkeypatch
):
    from pricing.review import routes_audit, routes_matches

    monkeypatch.setattr(routes_matches, "PER_PAGE", 1)  # read per request: the app's thread
    monkeypatch.setattr(routes_audit, "PER_PAGE", 1)
    anna = login_as("anna")
    first = anna.get("/matches?status=accepted").text
    assert "2</strong> matches with status accepted · page 1 of 2" in first
    assert 'href="/matches?status=accepted&amp;page=2">Next ›</a>' in first
    assert "‹ Previous" not in first
    second = anna.get("/matches?status=accepted&page=2").text
    assert 'href="/matches?status=accepted&amp;page=1">‹ Previous</a>' in second
    assert "Next ›" not in second
    ids = sqlite_store.match_ids
    anna.post_csrf(f"/matches/{ids['drill-shop01']}/reject")
    anna.post_csrf(f"/matches/{ids['drill-hostile']}/reject")
    audit = anna.get("/audit?action=match_reject").text
    assert 'href="/audit?action=match_reject&amp;page=2">Older ›</a>' in audit


def test_ops_page_shows_health_and_the_real_scheduler_job_table(server, sqlite_store, login_as):
    anna = login_as("anna")
    html = anna.get("/ops").text
    assert "No schedule" in html
    assert "items per page fell" in html and "h-broken" in html
    store = SQLAlchemyJobStore(engine=sqlite_store.engine)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    scheduler.start(paused=True)
    next_run = datetime.now(UTC) + timedelta(hours=2)
    scheduler.add_job(
        tick,
        "interval",
        hours=6,
        args=["x"],
        id="crawl-shop-01",
        name="crawl shop-01",
        next_run_time=next_run,
    )
    scheduler.shutdown(wait=False)
    html = anna.get("/ops").text
    assert "crawl shop-01" in html and "interval[6:00:00]" in html
    assert next_run.strftime("%Y-%m-%d %H:%M") in html


def test_audit_page_rolls_back_an_applied_price(server, sqlite_store, login_as):
    anna = login_as("anna")
    anna.post_csrf(f"/api/suggestions/{sqlite_store.s['drill']}/approve")
    assert anna.post_csrf("/api/exports/mark", json={"status": "applied"}).json()["count"] == 2
    page = anna.get("/audit?action=apply_price").text
    forms = re.findall(r'action="/audit/(\d+)/rollback"', page)
    assert len(forms) == 2
    entry = next(a for a in anna.get("/api/audit").json() if a["entity_id"] == "SKU-001")
    response = anna.post(f"/audit/{entry['id']}/rollback", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(Product.price).where(Product.sku == "SKU-001")).scalar() == 100
    page = anna.get("/audit").text
    assert "Rolled back: price is 100" in page and "rollback price" in page
    assert len(re.findall(r'action="/audit/(\d+)/rollback"', page)) == 1  # only SKU-007's now


def test_cli_users_add_and_export(sqlite_store, tmp_path):
    db = str(sqlite_store.engine.url.database)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["users", "add", "maria", "--role", "manager", "--password-stdin", "--db", db],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        main,
        ["users", "add", "maria", "--role", "manager", "--password-stdin", "--db", db],
        input="a-long-password\n",
    )
    assert bad.exit_code != 0 and "already exists" in bad.output
    prompt = runner.invoke(
        main,
        ["users", "add", "olga", "--role", "viewer", "--db", db],
        input="another-password\nanother-password\n",
    )
    assert prompt.exit_code == 0, prompt.output
    with sqlite_store.engine.connect() as conn:
        roles = dict(conn.execute(select(User.name, User.role)).all())
    assert roles["maria"] == "manager" and roles["olga"] == "viewer"

    out = tmp_path / "approved.xlsx"
    result = runner.invoke(
        main, ["export", "--format", "xlsx", "--out", str(out), "--mark", "exported", "--db", db]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:2] == b"PK" and "exported 1 approved price" in result.output
    with sqlite_store.engine.connect() as conn:
        status = conn.execute(
            select(Suggestion.status).where(Suggestion.id == sqlite_store.s["shears"])
        )
        assert status.scalar() == "exported"
    csv = runner.invoke(main, ["export", "--db", db])
    assert csv.stdout.startswith("suggestion_id,sku,title") and "exported 0" in csv.stderr


def test_admin_manages_users_and_nobody_else_can(server, sqlite_store, login_as):
    anna = login_as("anna")
    assert anna.get("/admin/users").status_code == 403
    assert (
        anna.post_csrf(
            "/admin/users", data={"name": "x", "role": "admin", "password": "p" * 10}
        ).status_code
        == 403
    )
    admin = login_as("admin")
    page = admin.get("/admin/users").text
    assert "victor" in page and 'href="/admin/users"' in page
    added = admin.post_csrf(
        "/admin/users", data={"name": "paula", "role": "manager", "password": "paula-password"}
    )
    assert added.status_code == 303
    with sqlite_store.engine.connect() as conn:
        users = {
            u.name: u for u in conn.execute(select(User.id, User.name, User.role, User.active))
        }
    assert users["paula"].role == "manager"
    victor = users["victor"].id
    assert admin.post_csrf(f"/admin/users/{victor}", data={"role": "manager"}).status_code == 303
    assert admin.post_csrf(f"/admin/users/{victor}", data={"active": "false"}).status_code == 303
    refused = admin.post_csrf(f"/admin/users/{users['admin'].id}", data={"role": "viewer"})
    assert refused.status_code == 400
    with sqlite_store.engine.connect() as conn:
        after = {u.name: u for u in conn.execute(select(User.name, User.role, User.active))}
    assert (after["victor"].role, after["victor"].active) == ("manager", False)
    assert after["admin"].role == "admin"
    actions = [a["action"] for a in admin.get("/api/audit").json()]
    assert actions == ["user_change", "user_change", "user_add"]


def test_every_page_renders_on_an_empty_store(sqlite_engine):
    create_user(sqlite_engine, "ada", "ada-password", "admin")
    with serve_in_thread(create_app(sqlite_engine, secret_key="k")) as base:
        ada = login(base, "ada", "ada-password")
        for path in (
            "/suggestions",
            "/ops",
            "/audit",
            "/exports",
            "/admin/users",
            "/api/suggestions",
        ):
            assert ada.get(path).status_code == 200, path
        assert "No suggestions match" in ada.get("/suggestions").text
        assert ada.get("/products/NOPE").status_code == 404
        assert ada.get("/exports/approved.csv").text.startswith("suggestion_id,sku")
        ada.close()
