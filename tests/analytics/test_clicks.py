"""Click import through the real CLI on SQLite and PostgreSQL: all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from pricing.cli import main
from pricing.clicks import ClicksError, import_clicks
from pricing.store.models import ClickDaily, Product

GOOD = """date,sku,views,clicks,add_to_cart,orders,revenue,price
2026-01-01,A1,100,30,5,2,39.98,19.99
2026-01-02,A1,120,33,6,3,59.97,19.99
2026-01-01,B2,10,2,0,0,0,5.00
"""


@pytest.fixture
def store(db_engine):
    with db_engine.begin() as conn:
        conn.execute(insert(Product), [{"sku": "A1", "title": "a"}, {"sku": "B2", "title": "b"}])
    return db_engine


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ClickDaily)).scalar()


def test_good_csv_imports_and_reimport_replaces(store, tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text(GOOD)
    report = import_clicks(store, path)
    assert (report.rows, report.skus, report.replaced) == (3, 2, 0)
    assert report.first_day == dt.date(2026, 1, 1)
    path.write_text(GOOD.replace("2026-01-02,A1,120,33,6,3", "2026-01-02,A1,120,33,6,4"))
    dry = import_clicks(store, path, dry_run=True)
    assert dry.dry_run and dry.replaced == 3
    with store.connect() as conn:  # the dry run changed nothing
        assert conn.execute(select(func.sum(ClickDaily.orders))).scalar() == 5
    again = import_clicks(store, path)
    assert again.replaced == 3 and count(store) == 3
    with store.connect() as conn:
        orders, price = conn.execute(
            select(ClickDaily.orders, ClickDaily.price).where(ClickDaily.day == dt.date(2026, 1, 2))
        ).one()
    assert orders == 4 and Decimal(price) == Decimal("19.99")


def test_bad_file_is_refused_whole_with_line_numbers(store, tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text(
        GOOD
        + "2026-13-01,A1,1,1,1,1,1,1\n"  # line 5: bad date
        + "2026-01-03,ZZ,1,1,1,1,1,1\n"  # line 6: unknown sku
        + "2026-01-04,A1,-1,1.5,x,1,-3,0\n"  # line 7: several problems
        + "2026-01-01,B2,1,1,1,1,1,1\n"  # line 8: duplicate of line 4
    )
    with pytest.raises(ClicksError) as err:
        import_clicks(store, path)
    problems = err.value.problems
    assert [p.split(":")[1] for p in problems] == ["5", "6", "7", "8"]
    assert "date '2026-13-01' is not a date" in problems[0]
    assert "unknown sku 'ZZ'" in problems[1]
    assert (
        "views is negative" in problems[2] and "clicks '1.5' is not a whole number" in problems[2]
    )
    assert (
        "add_to_cart 'x'" in problems[2]
        and "revenue: must not be negative: -3" in problems[2]
        and "price must be positive" in problems[2]
    )
    assert "duplicate of line 4" in problems[3]
    assert count(store) == 0  # the three good lines were not imported either


def test_missing_columns(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("date,sku,views\n2026-01-01,A1,3\n")
    with pytest.raises(ClicksError, match="missing column"):
        import_clicks(store, path)


def test_xlsx_through_cli(store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "SKU", "views", "clicks", "add_to_cart", "orders", "revenue"])
    sheet.append([dt.datetime(2026, 2, 1), "A1", 50, 10, 2, 1, 19.99])
    sheet.append([dt.datetime(2026, 2, 2), "B2", 5, 1, 0, 0, 0])
    sheet.append([dt.datetime(2026, 2, 3), "B2", 5.5, 1, 0, 0, 0])  # line 4: not whole
    book.save(tmp_path / "c.xlsx")
    url = str(store.url.render_as_string(hide_password=False))
    runner = CliRunner()
    bad = runner.invoke(main, ["--db", url, "clicks", "import", str(tmp_path / "c.xlsx")])
    assert bad.exit_code != 0 and "c.xlsx:4: views '5.5' is not a whole number" in bad.output
    assert count(store) == 0
    sheet.delete_rows(4)
    book.save(tmp_path / "c.xlsx")
    ok = runner.invoke(main, ["--db", url, "clicks", "import", str(tmp_path / "c.xlsx")])
    assert ok.exit_code == 0, ok.output
    assert "imported 2 rows for 2 SKUs (2026-02-01..2026-02-02)" in ok.output
    assert count(store) == 2
