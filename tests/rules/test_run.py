"""Suggest runs against a real store (SQLite and PostgreSQL) and through the CLI."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from pricing.cli import main
from pricing.rules import run_suggestions
from pricing.store.models import AuditLog, Decision, Product, Suggestion
from tests.rules.conftest import NOW, strategy_file

LOWEST = {"name": "lowest", "reference": {"kind": "lowest"}}


def suggestions(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(Suggestion).order_by(Suggestion.id)).all()


def test_run_stores_explained_suggestions_from_trusted_offers_only(store):
    engine = store.engine
    p1 = store.product("P1", price=25, cost=10)
    store.offer(p1, "good", 20.00, age_h=3)
    store.offer(p1, "broken-shop", 12.00, health="broken")
    store.offer(p1, "euro-shop", 11.00, currency="EUR")  # no EUR rate configured
    store.offer(p1, "old-shop", 13.00, age_h=100)
    store.offer(p1, "suspect-shop", 14.00, suspect=True)
    store.offer(p1, "unmatched", 9.00, status="review")
    store.offer(p1, "rejected", 9.50, status="rejected")
    p2 = store.product("P2", price=20)
    store.offer(p2, "good", 20.00)  # already at the target: no suggestion

    report = run_suggestions(engine, strategy_file(LOWEST), now=NOW)

    assert report.suggested == 1 and report.outcomes == {"suggest": 1, "unchanged": 1}
    [row] = suggestions(engine)
    assert row.product_id == p1 and row.strategy == "lowest"
    assert float(row.current_price) == 25.0 and float(row.proposed_price) == 20.0
    assert row.change_pct == pytest.approx(-20.0)
    assert row.margin_before == pytest.approx(60.0) and row.margin_after == pytest.approx(50.0)
    assert row.competitor_count == 1 and row.lowest_competitor == "good"
    assert row.oldest_data_at.replace(tzinfo=None) == (NOW - timedelta(hours=3)).replace(
        tzinfo=None
    )
    assert row.status == "pending" and row.currency == "USD"
    assert row.explanation == (
        "lowest competitor good 20.00; ignored 1 from broken crawl runs, 1 suspect, "
        "1 in an unconvertible currency, 1 stale (>48 h); match → 20.00"
    )


def test_converted_offers_are_compared(store):
    p1 = store.product("P1", price=25)
    store.offer(p1, "euro-shop", 18.00, currency="EUR")
    store.offer(p1, "us-shop", 21.00)
    sf = strategy_file(LOWEST, currency_rates={"base": "USD", "rates": {"EUR": 1.10}})
    run_suggestions(store.engine, sf, now=NOW)
    [row] = suggestions(store.engine)
    assert float(row.proposed_price) == pytest.approx(19.80)
    assert row.lowest_competitor == "euro-shop"


def test_site_currency_is_used_when_the_offer_has_none(store):
    store.site("ch-shop", currency="CHF")
    p1 = store.product("P1", price=25)
    store.offer(p1, "ch-shop", 10.00, currency=None)
    store.offer(p1, "us-shop", 21.00)
    run_suggestions(store.engine, strategy_file(LOWEST), now=NOW)
    [row] = suggestions(store.engine)
    assert float(row.proposed_price) == pytest.approx(21.00)
    assert "1 in an unconvertible currency" in row.explanation


def test_new_run_supersedes_pending_suggestions(store):
    engine = store.engine
    p1 = store.product("P1", price=25)
    store.offer(p1, "a", 20.00)
    first = run_suggestions(engine, strategy_file(LOWEST), now=NOW)
    second = run_suggestions(engine, strategy_file(LOWEST), now=NOW + timedelta(hours=1))
    old, new = suggestions(engine)
    assert (old.suggest_run, old.status) == (first.run_id, "superseded")
    assert (new.suggest_run, new.status) == (second.run_id, "pending")
    assert second.superseded == 1
    with engine.connect() as conn:
        audit = conn.execute(select(AuditLog).where(AuditLog.action == "supersede")).one()
    assert audit.count == 1 and second.run_id in audit.details["reason"]


def test_small_changes_are_auto_approved_and_recorded(store):
    engine = store.engine
    small = store.product("SMALL", price=20.50)
    store.offer(small, "a", 20.00)  # -2.4%
    big = store.product("BIG", price=30.00)
    store.offer(big, "a", 20.00)  # -33%
    report = run_suggestions(engine, strategy_file(LOWEST, auto_approve_below_pct=5), now=NOW)
    assert report.auto_approved == 1
    by_product = {s.product_id: s for s in suggestions(engine)}
    assert by_product[small].status == "auto_approved" and by_product[small].decided_at is not None
    assert by_product[big].status == "pending"
    with engine.connect() as conn:
        decision = conn.execute(select(Decision)).one()
        audit = conn.execute(select(AuditLog).where(AuditLog.action == "auto_approve")).one()
    assert decision.suggestion_id == by_product[small].id and decision.action == "auto_approve"
    assert float(decision.old_price) == 20.50 and float(decision.new_price) == 20.00
    assert audit.entity == "suggestion" and audit.entity_id == str(by_product[small].id)


def test_dry_run_writes_nothing(store):
    p1 = store.product("P1", price=25)
    store.offer(p1, "a", 20.00)
    report = run_suggestions(store.engine, strategy_file(LOWEST), now=NOW, dry_run=True)
    assert report.suggested == 1 and float(report.suggestions["proposed_price"].iloc[0]) == 20.0
    assert suggestions(store.engine) == []
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_cli_suggest_and_broken_file_refused(sqlite_store, tmp_path):
    engine = sqlite_store.engine
    p1 = sqlite_store.product("P1", price=25)
    sqlite_store.offer(p1, "a", 20.00, age_h=0.5)  # fresh against the real clock too
    db = str(engine.url.database)
    runner = CliRunner()

    broken = tmp_path / "broken.yaml"
    broken.write_text("strategies:\n  - name: bad\n    reference: {kind: cheapest}\n")
    result = runner.invoke(main, ["--db", db, "suggest", "--strategy", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: strategy 'bad' (strategies[0]): reference.kind" in result.output
    assert suggestions(engine) == []

    good = tmp_path / "good.yaml"
    good.write_text(
        "strategies:\n  - name: follow\n    reference: {kind: lowest}\n    guards: {stale_hours: 100000}\n"
    )
    result = runner.invoke(main, ["--db", db, "suggest", "--strategy", str(good), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would suggest 1" in result.output and "25.00 → 20.00" in result.output
    assert suggestions(engine) == []
    result = runner.invoke(main, ["--db", db, "suggest", "--strategy", str(good)])
    assert result.exit_code == 0, result.output
    assert len(suggestions(engine)) == 1


def test_nothing_matches_no_strategy_nothing_written(store):
    p1 = store.product("P1", price=25, category="Books")
    store.offer(p1, "a", 20.00)
    sf = strategy_file(
        {"name": "toys", "applies_to": {"categories": ["Toys"]}, "reference": {"kind": "lowest"}}
    )
    report = run_suggestions(store.engine, sf, now=NOW)
    assert report.suggested == 0 and report.outcomes == {"no_strategy": 1}
    assert suggestions(store.engine) == []


def test_a_failed_write_rolls_everything_back(store, monkeypatch):
    """A database error mid-run (injected: nothing here fails on its own) leaves no trace."""
    import pricing.rules.writer as writer

    engine = store.engine
    for i in range(3):
        pid = store.product(f"P{i}", price=25 + i)
        store.offer(pid, "a", 20.00)
    run_suggestions(engine, strategy_file(LOWEST), now=NOW)  # one pending suggestion each
    store.offer(store.product("NEW", price=30), "a", 20.00)

    def failing(conn, run_id, now, count):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "_audit_supersede", failing)  # after the new rows went in
    with pytest.raises(RuntimeError, match="disk full"):
        run_suggestions(engine, strategy_file(LOWEST), now=NOW + timedelta(hours=1))
    rows = suggestions(engine)
    assert len(rows) == 3 and {r.status for r in rows} == {"pending"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 1


def test_an_error_while_evaluating_rolls_back_rows_already_written(store, monkeypatch):
    """Rows of the first strategy are written while the second is evaluated: an error in
    the second still leaves no trace of the first."""
    import pricing.rules.evaluate as evaluate_module

    engine = store.engine
    for i in range(40):
        category = "Books" if i % 2 else "Toys"
        store.offer(store.product(f"P{i}", price=25 + i, category=category), "a", 20.00)
    run_suggestions(engine, strategy_file(LOWEST), now=NOW)
    before = suggestions(engine)
    explain, calls = evaluate_module.explain, []

    def explain_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("broken strategy code")
        return explain(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "explain", explain_then_fail)
    sf = strategy_file(
        {"name": "toys", "applies_to": {"categories": ["Toys"]}, "reference": {"kind": "lowest"}},
        {"name": "books", "applies_to": {"categories": ["Books"]}, "reference": {"kind": "lowest"}},
    )
    with pytest.raises(RuntimeError, match="broken strategy code"):
        run_suggestions(engine, sf, now=NOW + timedelta(hours=1))
    assert len(calls) == 2
    assert suggestions(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 1


def test_split_read_equals_single_read(store):
    """Offers read by two threads over product-id ranges are the same as one read."""
    from pricing.rules.config import Rates
    from pricing.rules.inputs import load_inputs

    for i in range(6):
        pid = store.product(f"P{i}", price=20 + i, tags=["key"] if i % 2 else None)
        for site in ("a", "b", "c"):
            store.offer(pid, site, 10.0 + i, currency="EUR" if site == "c" else "USD")
    rates = Rates(base="USD", rates={"EUR": 1.1})
    p1, o1 = load_inputs(store.engine, rates, with_tags=True, workers=1)
    p2, o2 = load_inputs(store.engine, rates, with_tags=True, workers=3, min_split=0)
    pd.testing.assert_frame_equal(p1, p2)
    pd.testing.assert_frame_equal(o1, o2)
    assert len(o2) == 18 and o2["price"].max() == pytest.approx(15.0 * 1.1)
    assert p2["tags"].dropna().tolist() == [["key"]] * 3


def test_a_product_deleted_during_the_run_fails_it_and_writes_nothing(store, monkeypatch):
    """SQLite's per-row foreign-key checks are off for the bulk write: the writer's one
    set-based check must still refuse a suggestion for a product deleted since the read."""
    import pricing.rules.run as run

    engine = store.engine
    p1 = store.product("P1", price=25)
    store.offer(p1, "a", 20.00)
    p2 = store.product("P2", price=26)
    store.offer(p2, "a", 20.00)
    read = run.load_inputs

    def read_then_delete(*args, **kwargs):
        out = read(*args, **kwargs)
        with engine.begin() as conn:
            conn.execute(delete(Product).where(Product.id == p2))
        return out

    monkeypatch.setattr(run, "load_inputs", read_then_delete)
    with pytest.raises(IntegrityError, match="1 products deleted during the run, e.g. id"):
        run_suggestions(engine, strategy_file(LOWEST), now=NOW)
    assert suggestions(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_evaluating_in_batches_changes_nothing(store, monkeypatch):
    """A strategy's products are evaluated (and written) BATCH at a time: the rows written,
    in their order (suggestion ids follow it), are those of one pass per strategy."""
    import pricing.rules.evaluate as evaluate_module

    for i in range(30):
        pid = store.product(f"P{i:02d}", price=25 + i, category=("Books", "Toys", "Misc")[i % 3])
        store.offer(pid, "a", 20.0 + i / 7)
        store.offer(pid, "b", 21.0 + i / 5, availability="out_of_stock" if i % 4 else "in_stock")
    sf = strategy_file(
        {"name": "toys", "applies_to": {"categories": ["Toys"]}, "reference": {"kind": "lowest"}},
        {"name": "books", "applies_to": {"categories": ["Books"]}, "reference": {"kind": "median"}},
        {"name": "rest", "adjustment": {"kind": "undercut", "pct": 1}, "stock": {"raise_pct": 5}},
        auto_approve_below_pct=30,
    )

    def run(batch: int) -> tuple[list, pd.DataFrame]:
        monkeypatch.setattr(evaluate_module, "BATCH", batch)
        report = run_suggestions(store.engine, sf, now=NOW)
        mine = select(
            Suggestion.product_id, Suggestion.strategy, Suggestion.proposed_price,
            Suggestion.explanation, Suggestion.status,
        ).where(Suggestion.suggest_run == report.run_id).order_by(Suggestion.id)  # fmt: skip
        with store.engine.connect() as conn:
            written = [tuple(r) for r in conn.execute(mine)]
        return written, report.suggestions.drop(columns=["suggest_run", "created_at"])

    in_batches, one_pass = run(4), run(10**9)
    assert len(in_batches[0]) > 12 and {r[4] for r in in_batches[0]} == {"pending", "auto_approved"}
    assert in_batches[0] == one_pass[0]
    pd.testing.assert_frame_equal(in_batches[1], one_pass[1])
