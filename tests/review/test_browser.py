"""The review app in a real browser (Debian's Chromium through Playwright) against the real app
under uvicorn over a temporary SQLite store, checking the store after every step.

Screenshots of the main pages go to test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from pricing.store.models import AuditLog, Decision, Match, Suggestion
from tests.review.data import HOSTILE_TITLE, PASSWORD

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def statuses(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = dict(conn.execute(select(Suggestion.id, Suggestion.status)).all())
    return {name: rows[i] for name, i in store.s.items()}


def audit_actions(store) -> list[tuple[str, int]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(AuditLog.action, AuditLog.count).order_by(AuditLog.id))
        ]


def log_in(page: Page, server: str, name: str, screenshot: str | None = None) -> None:
    page.set_default_timeout(10_000)
    page.goto(server + "/suggestions")
    expect(page).to_have_url(f"{server}/login?next=/suggestions")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    if screenshot:
        shot(page, screenshot)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server + "/suggestions")


def test_manager_filters_approves_bulk_approves_edits_charts_and_exports(
    page: Page, server, sqlite_store, tmp_path
):
    store = sqlite_store
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, server, "anna", screenshot="01-login")
    expect(page.locator("#match-count")).to_have_text("9")
    expect(page.locator(f"#s-{store.s['grinder']} .badge.stale")).to_contain_text("stale")

    # Filter: htmx swaps the results and the URL follows.
    page.get_by_label("Category").select_option("tools")
    expect(page.locator("#match-count")).to_have_text("4")
    expect(page).to_have_url(f"{server}/suggestions?category=tools")
    shown = page.locator("tbody tr td.product a.sku").all_inner_texts()
    assert sorted(shown) == ["SKU-001", "SKU-002", "SKU-003", "SKU-004"]
    assert audit_actions(store) == []  # reading changes nothing

    # Approve one row.
    drill = page.locator(f"#s-{store.s['drill']}")
    drill.get_by_role("button", name="Approve").click()
    expect(drill.locator(".badge")).to_have_text("approved")
    assert statuses(store)["drill"] == "approved"
    assert audit_actions(store) == [("approve", 1)]
    shot(page, "02-suggestions-filtered")

    # Bulk-approve everything pending in the filter: one confirmation, one audit entry.
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.locator("button[data-bulk=approve]").click()
    expect(page.locator("#results .flash")).to_have_text("Approved 3 suggestions.")
    assert dialogs == ["Approve all 3 pending suggestions matching this filter?"]
    now = statuses(store)
    assert {now[n] for n in ("drill", "saw", "sander", "grinder")} == {"approved"}
    assert now["hose"] == now["pan"] == "pending"
    assert audit_actions(store)[-1] == ("bulk_approve", 3)

    # Edit a price in another category (kitchen): approve at the typed price.
    page.get_by_label("Category").select_option("kitchen")
    expect(page.locator("#match-count")).to_have_text("2")
    pan = page.locator(f"#s-{store.s['pan']}")
    pan.get_by_role("button", name="Edit").click()
    price = pan.get_by_label("New price (EUR)")
    price.fill("20")  # below the floor (35): refused, nothing changes
    pan.get_by_role("button", name="Save & approve").click()
    expect(pan.locator(".row-error")).to_contain_text("below this product's floor")
    assert statuses(store)["pan"] == "pending"
    shot(page, "03-suggestions-edit")
    pan.get_by_label("New price (EUR)").fill("58.40")
    pan.get_by_role("button", name="Save & approve").click()
    expect(pan.locator(".final")).to_have_text("58.40")
    with store.engine.connect() as conn:
        final = conn.execute(
            select(Suggestion.final_price).where(Suggestion.id == store.s["pan"])
        ).scalar()
    assert final == Decimal("58.40") and statuses(store)["pan"] == "approved"
    assert audit_actions(store)[-1] == ("edit", 1)

    # The product page with its chart.
    page.goto(f"{server}/suggestions?status=all&sort=sku&dir=asc")
    page.get_by_role("link", name="SKU-001").click()
    expect(page).to_have_url(f"{server}/products/SKU-001")
    chart = page.locator("svg#price-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("g.series")).to_have_count(3)
    expect(chart.locator("rect.stockout")).to_have_count(1)
    expect(page.locator(".legend")).to_contain_text("out of stock")
    expect(page.locator("#our-price")).to_have_text("100.00")
    shot(page, "04-product")

    # Export: XLSX download (read-only), then CSV that marks exactly its rows exported.
    page.get_by_role("link", name="Exports").click()
    shot(page, "05-exports")
    with page.expect_download() as xlsx_info:
        page.get_by_role("link", name="Download XLSX").click()
    xlsx_path = tmp_path / "approved.xlsx"
    xlsx_info.value.save_as(xlsx_path)
    sheet = openpyxl.load_workbook(xlsx_path).active
    assert len(list(sheet.iter_rows(min_row=2))) == 6
    assert statuses(store)["pan"] == "approved"  # downloading alone marks nothing
    with page.expect_download() as csv_info:
        page.locator("#export-mark-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_info.value.path()).read_text())))
    assert {r["sku"]: r["new_price"] for r in rows}["SKU-008"] == "58.40"
    assert len(rows) == 6
    assert {statuses(store)[n] for n in ("drill", "saw", "sander", "grinder", "pan", "shears")} == {
        "exported"
    }
    assert audit_actions(store)[-1] == ("mark_exported", 6)

    # Ops and audit pages, for the screenshots (and the audit lists what happened).
    page.goto(server + "/ops")
    expect(page.locator("h1")).to_have_text("Operations")
    shot(page, "06-ops")
    page.goto(server + "/audit")
    expect(page.locator("table.audit tbody tr")).to_have_count(4)  # the refused edit left none
    expect(page.locator("table.audit tbody tr").first).to_contain_text("mark exported")
    shot(page, "07-audit")
    assert errors == []


def test_viewer_gets_no_controls_and_the_api_refuses(page: Page, server, sqlite_store):
    log_in(page, server, "victor")
    expect(page.locator("#match-count")).to_have_text("9")
    expect(page.locator("#results button")).to_have_count(0)
    expect(page.locator("form[hx-post]")).to_have_count(0)
    shot(page, "08-viewer")
    page.goto(server + "/products/SKU-001")
    expect(page.locator("main button")).to_have_count(0)
    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]
    drill = sqlite_store.s["drill"]
    api = page.request.post(
        f"{server}/api/suggestions/{drill}/approve", headers={"X-CSRF-Token": token}
    )
    assert api.status == 403
    form = page.request.post(
        f"{server}/suggestions/{drill}/approve", headers={"X-CSRF-Token": token}
    )
    assert form.status == 403
    assert statuses(sqlite_store)["drill"] == "pending" and audit_actions(sqlite_store) == []


def test_post_without_csrf_token_is_refused(page: Page, server, sqlite_store):
    log_in(page, server, "anna")
    drill = sqlite_store.s["drill"]
    for url in (
        f"/suggestions/{drill}/approve",
        f"/api/suggestions/{drill}/approve",
        "/exports/apply",
    ):
        response = page.request.post(server + url)
        assert response.status == 403 and "CSRF" in response.text()
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Decision)).scalar() == 0
    assert statuses(sqlite_store)["drill"] == "pending"


def test_competitor_title_with_a_script_tag_shows_as_text_and_runs_nothing(
    page: Page, server, sqlite_store
):
    dialogs, messages = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda msg: messages.append(msg.text))
    log_in(page, server, "anna")
    page.goto(server + "/products/SKU-001")
    title = page.locator(f"#m-{sqlite_store.match_ids['drill-hostile']} td.offer-title")
    expect(title).to_contain_text(HOSTILE_TITLE)  # the markup is visible as text
    expect(title.locator("a")).to_have_count(0)  # the javascript: URL is not a link
    expect(page.locator("img[src=x]")).to_have_count(0)
    assert page.locator("script").count() == 2  # htmx and app.js, nothing injected
    page.wait_for_timeout(300)
    assert dialogs == [] and not any("pwned" in m for m in messages)


def test_manager_works_through_the_match_queue(page: Page, server, sqlite_store):
    """The queue of matches waiting for a verdict, in the browser: the reason, then Confirm."""
    mid = sqlite_store.match_ids["drill-fuzzy"]
    log_in(page, server, "anna")
    page.get_by_role("link", name="Matches").click()
    expect(page).to_have_url(server + "/matches")
    row = page.locator(f"#q-{mid}")
    expect(row).to_contain_text("also fits bos2136<b>, another model of the line")
    expect(row).to_contain_text("review")
    shot(page, "matches")
    row.get_by_role("button", name="Confirm").click()
    expect(page.locator(f"#q-{mid} .badge")).to_have_text("confirmed")
    with sqlite_store.engine.connect() as conn:
        status = conn.execute(select(Match.status).where(Match.id == mid)).scalar_one()
    assert status == "confirmed"
    assert audit_actions(sqlite_store)[-1] == ("match_confirm", 1)
