"""Filters, decisions, bulk actions, apply/rollback, match verdicts and exports, on SQLite and
PostgreSQL (no HTTP: these are the functions every page and the API call)."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select, update

from pricing.review.actions import (
    ActionError,
    Actor,
    apply_prices,
    bulk_decide,
    decide,
    decide_match,
    rollback_price,
)
from pricing.review.exports import export_approved
from pricing.review.queries import SuggestionFilter, list_suggestions
from pricing.store.models import AuditLog, Decision, Match, Product, ProductPriceChange, Suggestion

ANNA = Actor("anna", None)


def _page(store, **params):
    with store.engine.connect() as conn:
        return list_suggestions(conn, SuggestionFilter.model_validate(params))


def _skus(page) -> list[str]:
    return [r.sku for r in page.rows]


def _statuses(store) -> dict[int, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(Suggestion.id, Suggestion.status)).all())


def _audit(store) -> list:
    with store.engine.connect() as conn:
        return conn.execute(select(AuditLog).order_by(AuditLog.id)).all()


def test_filters_select_exactly_the_matching_rows(store):
    assert _page(store).total == 9  # default: pending
    assert _page(store, status="all").total == 12
    assert _skus(_page(store, category="tools", sort="sku", dir="asc")) == [
        "SKU-001",
        "SKU-002",
        "SKU-003",
        "SKU-004",
    ]
    assert set(_skus(_page(store, brand="Bosch", status="all"))) == {
        "SKU-001",
        "SKU-002",
        "SKU-007",
        "SKU-010",
    }
    assert set(_skus(_page(store, strategy="margin-floor"))) == {"SKU-004", "SKU-010"}
    assert set(_skus(_page(store, competitor="shop-03"))) == {"SKU-006", "SKU-011"}
    # change %: drill -5, saw -5, sander -5, grinder +5, hose -5, mower -4.4, pan -5, oven +5, speaker -6.7
    assert set(_skus(_page(store, change_min=0))) == {"SKU-004", "SKU-010"}
    assert set(_skus(_page(store, change_max=-5.5))) == {"SKU-011"}
    assert set(_skus(_page(store, change_min=-4.5, change_max=-4))) == {"SKU-006"}
    # margin after, in percent like the rules engine writes it: oven 36.5 %, grinder 44.4 %
    low = _page(store, margin_max=37)
    assert all(r.margin_after <= 37 for r in low.rows) and "SKU-010" in _skus(low)
    assert "SKU-004" not in _skus(low)
    assert _skus(_page(store, status="approved")) == ["SKU-007"]
    assert _page(store, category="tools", brand="Makita", strategy="beat-lowest").total == 1


def test_sorting_and_pagination_cover_every_row_once(store):
    by_change = _page(store, status="all", sort="change", dir="asc", per_page=100)
    values = [r.change_pct for r in by_change.rows]
    assert values == sorted(values)
    for direction in ("asc", "desc"):  # later pages are read backwards from the end
        seen = []
        for page in (1, 2):
            p = _page(store, status="all", sort="sku", dir=direction, per_page=10, page=page)
            assert p.pages == 2
            seen += _skus(p)
        skus = [f"SKU-{i:03d}" for i in range(1, 13)]
        assert seen == (skus if direction == "asc" else skus[::-1])
    past_the_end = _page(store, status="all", sort="sku", per_page=10, page=3)
    assert past_the_end.rows == [] and past_the_end.total == 12
    by_price = [
        r.proposed_price for r in _page(store, status="all", sort="price", per_page=10, page=2).rows
    ]
    assert by_price == [Decimal("28.50"), Decimal("24.00")]
    for direction in ("asc", "desc"):  # rows without data age come last either way
        ages = [
            r.oldest_data_at for r in _page(store, status="all", sort="age", dir=direction).rows
        ]
        known = [a for a in ages if a is not None]
        assert ages == known + [None] and known == sorted(known, reverse=direction == "desc")


def test_approve_reject_edit_leave_decisions_and_audit(store):
    s = store.s
    decide(store.engine, ANNA, s["drill"], "approve")
    decide(store.engine, ANNA, s["saw"], "reject")
    decide(store.engine, ANNA, s["sander"], "edit", price="77.49")
    statuses = _statuses(store)
    assert (statuses[s["drill"]], statuses[s["saw"]], statuses[s["sander"]]) == (
        "approved",
        "rejected",
        "approved",
    )
    with store.engine.connect() as conn:
        final = conn.execute(
            select(Suggestion.final_price).where(Suggestion.id == s["sander"])
        ).scalar()
        decisions = conn.execute(
            select(Decision.action, Decision.old_price, Decision.new_price).order_by(Decision.id)
        ).all()
    assert final == Decimal("77.49")
    assert [d.action for d in decisions] == ["approve", "reject", "edit"]
    assert (decisions[2].old_price, decisions[2].new_price) == (Decimal("76"), Decimal("77.49"))
    audit = _audit(store)
    assert [a.action for a in audit] == ["approve", "reject", "edit"]
    assert audit[2].old_value.startswith("pending 76")
    assert audit[2].new_value == "approved 77.49"


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ("abc", "not a number"),
        ("-3", "positive"),
        ("59.99", "below this product's floor"),
        ("79.00", "minimum advertised price"),
        ("250", "above this product's ceiling"),
    ],
)
def test_edit_refuses_bad_prices_and_changes_nothing(sqlite_store, price, problem):
    with pytest.raises(ActionError, match=problem):
        decide(sqlite_store.engine, ANNA, sqlite_store.s["drill"], "edit", price=price)
    assert _statuses(sqlite_store)[sqlite_store.s["drill"]] == "pending"
    assert _audit(sqlite_store) == []


def test_a_decision_on_a_row_that_moved_on_is_refused(store):
    with store.engine.begin() as conn:  # the rules engine superseded it meanwhile
        conn.execute(
            update(Suggestion).where(Suggestion.id == store.s["drill"]).values(status="superseded")
        )
    with pytest.raises(ActionError, match="is superseded"):
        decide(store.engine, ANNA, store.s["drill"], "approve")


def test_bulk_approve_is_one_transaction_with_one_audit_entry(store):
    f = SuggestionFilter(category="tools", status="all")  # 4 tools rows, all pending
    assert bulk_decide(store.engine, ANNA, f, "approve") == 4
    statuses = _statuses(store)
    assert {statuses[store.s[n]] for n in ("drill", "saw", "sander", "grinder")} == {"approved"}
    assert statuses[store.s["hose"]] == "pending"  # other categories untouched
    assert statuses[store.s["shears"]] == "approved" and statuses[store.s["kettle"]] == "rejected"
    (entry,) = _audit(store)
    assert (entry.action, entry.count, entry.details["filter"]) == (
        "bulk_approve",
        4,
        {"category": "tools", "status": "all"},
    )
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Decision)).scalar() == 4
    # Only pending rows are touched: rejecting "everything" now leaves the approved ones alone.
    assert bulk_decide(store.engine, ANNA, SuggestionFilter(status="all"), "reject") == 5
    assert _statuses(store)[store.s["drill"]] == "approved"


def test_apply_then_roll_back_our_price(store):
    engine = store.engine
    decide(engine, ANNA, store.s["drill"], "edit", price="94.00")
    assert apply_prices(engine, ANNA) == 2  # drill and the already-approved shears
    with engine.connect() as conn:
        price = conn.execute(select(Product.price).where(Product.sku == "SKU-001")).scalar()
        changes = conn.execute(
            select(
                ProductPriceChange.source,
                ProductPriceChange.old_price,
                ProductPriceChange.new_price,
            ).where(ProductPriceChange.product_id == 1)
        ).all()
    assert price == Decimal("94.00")
    assert changes == [("suggestion", Decimal("100.00"), Decimal("94.00"))]
    assert _statuses(store)[store.s["drill"]] == "applied"
    apply_entry = next(
        a for a in _audit(store) if a.action == "apply_price" and a.entity_id == "SKU-001"
    )
    assert Decimal(apply_entry.old_value) == 100 and Decimal(apply_entry.new_value) == 94

    assert rollback_price(engine, ANNA, apply_entry.id) == Decimal("100.00")
    with engine.connect() as conn:
        assert conn.execute(select(Product.price).where(Product.sku == "SKU-001")).scalar() == 100
        sources = (
            conn.execute(
                select(ProductPriceChange.source)
                .where(ProductPriceChange.product_id == 1)
                .order_by(ProductPriceChange.id)
            )
            .scalars()
            .all()
        )
    assert sources == ["suggestion", "rollback"]
    rollback_entry = _audit(store)[-1]
    assert (rollback_entry.action, rollback_entry.details) == (
        "rollback_price",
        {"rollback_of": apply_entry.id},
    )
    with pytest.raises(ActionError, match="only the latest change"):
        rollback_price(engine, ANNA, apply_entry.id)  # twice is refused


def test_match_verdicts_are_final_and_audited(store):
    mid = store.match_ids["drill-fuzzy"]
    assert decide_match(store.engine, ANNA, mid, "confirm") == "confirmed"
    assert (
        decide_match(store.engine, ANNA, store.match_ids["drill-hostile"], "reject") == "rejected"
    )
    with store.engine.connect() as conn:
        assert conn.execute(select(Match.status).where(Match.id == mid)).scalar() == "confirmed"
    assert [(a.action, a.old_value, a.new_value) for a in _audit(store)] == [
        ("match_confirm", "review", "confirmed"),
        ("match_reject", "accepted", "rejected"),
    ]


def test_export_csv_and_xlsx_hold_final_prices_and_defuse_formulas(store):
    engine = store.engine
    with engine.begin() as conn:
        conn.execute(update(Product).where(Product.id == 7).values(title='=HYPERLINK("http://x")'))
    decide(engine, ANNA, store.s["drill"], "edit", price="96.50")
    data, count = export_approved(engine, "csv", mark=False, actor=ANNA)
    frame = pd.read_csv(io.BytesIO(data), dtype=str)
    assert count == 2 and list(frame["sku"]) == ["SKU-001", "SKU-007"]
    assert list(frame["new_price"].astype(float)) == [96.5, 210.0]
    assert frame.loc[1, "title"].startswith("'=")  # not a formula
    xlsx, _ = export_approved(engine, "xlsx", mark=True, actor=ANNA)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert row["sku"] == "SKU-001" and row["new_price"] == 96.5
    assert sheet.cell(3, header.index("title") + 1).data_type == "s"
    statuses = _statuses(store)
    assert statuses[store.s["drill"]] == statuses[store.s["shears"]] == "exported"
    assert export_approved(engine, "csv", mark=False, actor=ANNA)[1] == 0  # nothing left to export
    assert _audit(store)[-1].action == "mark_exported" and _audit(store)[-1].count == 2


@pytest.mark.parametrize("sort", ["change", "margin", "price", "age", "sku"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_index_walking_plan_returns_the_same_pages(sqlite_store, monkeypatch, sort, direction):
    """Above WALK_SORT_INDEX_ABOVE matches SQLite walks the sort index (INDEXED BY, ranges
    hidden from the planner); the rows and their order must not change."""
    import pricing.review.queries as queries

    params = {"sort": sort, "dir": direction, "per_page": 10}
    filters = [{}, {"change_max": -4}, {"margin_min": 30, "margin_max": 40}, {"category": "tools"}]
    plain = [
        [r.id for r in _page(sqlite_store, **params, **f, page=p).rows]
        for f in filters
        for p in (1, 2)
    ]
    monkeypatch.setattr(queries, "WALK_SORT_INDEX_ABOVE", 0)
    walked = [
        [r.id for r in _page(sqlite_store, **params, **f, page=p).rows]
        for f in filters
        for p in (1, 2)
    ]
    assert walked == plain and any(plain)
