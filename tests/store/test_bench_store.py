"""``pricewatch bench store`` runs end to end on a small cycle (figures are not asserted)."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from pricing.bench.store import bench_store, make_cycles
from tests.conftest import PG_ENV


def test_cycles_differ_in_ten_percent():
    first, second = make_cycles(500)
    assert len({r.url for r in first}) == 500
    state = ("price", "stock_quantity", "rank")
    changed = sum(
        any(getattr(a, f) != getattr(b, f) for f in state)
        for a, b in zip(first, second, strict=True)
    )
    assert changed == 50
    assert all(b.observed_at > a.observed_at for a, b in zip(first, second, strict=True))


def test_bench_store_reports_both_databases(tmp_path):
    result = CliRunner().invoke(bench_store, ["--rows", "300", "--baseline-rows", "50", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["bench"] == "store"
    assert figures["history_rows_after_cycle2"] == 330  # 300 first states + 30 changes
    assert figures["sqlite_cycle1_s"] > 0 and figures["ratio"] > 0
    if os.environ.get(PG_ENV):
        assert figures["pg_history_rows_after_cycle2"] == 330
