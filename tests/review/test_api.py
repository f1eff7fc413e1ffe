"""The JSON API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

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
