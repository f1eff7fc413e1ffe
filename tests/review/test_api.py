"""The JSON API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select

from pricing.rules.run import run_suggestions
from pricing.store.models import AuditLog, Suggestion
from tests.review.conftest import login


def test_api_lists_decides_and_reports_conflicts(any_server, store):
    anna = login(any_server, "anna")
    page = anna.get(
        "/api/suggestions", params={"category": "tools", "sort": "sku", "dir": "asc"}
    ).json()
    assert page["total"] == 4 and [i["sku"] for i in page["items"]] == [
        "SKU-001",
        "SKU-002",
        "SKU-003",
        "SKU-004",
    ]
    grinder = next(i for i in page["items"] if i["sku"] == "SKU-004")
    assert grinder["stale"] is True and page["items"][0]["stale"] is False
    assert anna.get("/api/suggestions", params={"change_min": "abc"}).status_code == 422

    edited = anna.post_csrf(f"/api/suggestions/{store.s['drill']}/edit", json={"price": "93.5"})
    assert edited.status_code == 200 and Decimal(edited.json()["final_price"]) == Decimal("93.5")
    again = anna.post_csrf(f"/api/suggestions/{store.s['headset']}/approve")  # superseded
    assert again.status_code == 409 and "superseded" in again.json()["detail"]
    assert anna.post_csrf("/api/suggestions/999999/approve").status_code == 404
    below = anna.post_csrf(f"/api/suggestions/{store.s['saw']}/edit", json={"price": "1"})
    assert below.status_code == 409 and "floor" in below.json()["detail"]

    bulk = anna.post_csrf(
        "/api/suggestions/bulk", json={"action": "reject", "filter": {"category": "garden"}}
    )
    assert bulk.json() == {"count": 2}  # hose and mower; shears was already approved
    exported = anna.get("/api/exports/approved").json()
    assert {r["sku"]: r["new_price"] for r in exported} == {"SKU-001": "93.50", "SKU-007": "210.00"}
    with store.engine.connect() as conn:
        actions = conn.execute(select(AuditLog.action, AuditLog.count).order_by(AuditLog.id)).all()
        garden = (
            conn.execute(select(Suggestion.status).where(Suggestion.product_id.in_([5, 6])))
            .scalars()
            .all()
        )
    assert [tuple(a) for a in actions] == [("edit", 1), ("bulk_reject", 2)]
    assert set(garden) == {"rejected"}
    anna.close()


def test_suggestions_written_by_the_rules_engine_are_reviewable(server, sqlite_store):
    """The real rules engine (pricing.rules) over the hand-made store, then the review API."""
    with sqlite_store.engine.begin() as conn:
        conn.execute(delete(Suggestion))
    report = run_suggestions(sqlite_store.engine)
    assert report.suggested >= 1
    anna = login(server, "anna")
    items = anna.get("/api/suggestions", params={"sku": "SKU-001", "status": "all"}).json()["items"]
    assert len(items) == 1 and items[0]["lowest_competitor"] == "shop-01"
    assert "shop-01" in items[0]["explanation"] and items[0]["stale"] is False
    assert 0 < items[0]["margin_after"] < 100  # percent, as the table shows it
    if items[0]["status"] == "pending":
        assert (
            anna.post_csrf(f"/api/suggestions/{items[0]['id']}/approve").json()["status"]
            == "approved"
        )
    assert "SKU-001" in anna.get("/suggestions", params={"status": "all"}).text
    anna.close()
