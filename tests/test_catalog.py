"""Catalog import: all or nothing, one clear line per bad row, price history on re-import."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pricing.catalog import CatalogError, gtin_check_digit_ok, import_catalog
from pricing.cli import main
from pricing.store.db import session_scope
from pricing.store.models import Product, ProductPriceChange

HEADER = "sku,title,brand,gtin,mpn,category,tags,cost,price,floor,ceiling,map,currency"
GOOD = [
    "PW-1,Kettle 2L,Acme,4006381333931,K-2,kitchen,seasonal;new,10.00,19.99,15.00,25.00,,EUR",
    "PW-2,Toaster,Acme,036000291452,T-1,kitchen,,12.5,24.50,20,30,22.00,EUR",
    "PW-3,Blender,Brand B,,,kitchen,,,,,,,usd",
]


def write_csv(tmp_path, lines, name="catalog.csv", header=HEADER):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def snapshot(engine):
    with session_scope(engine) as s:
        products = [
            (p.sku, p.title, p.price, p.floor, p.ceiling, p.currency, p.tags, p.price_changed_at)
            for p in s.scalars(select(Product).order_by(Product.sku))
        ]
        changes = s.scalar(select(func.count()).select_from(ProductPriceChange))
    return products, changes


def test_gtin_check_digits():
    for good in ("4006381333931", "036000291452", "96385074", "10614141000415"):
        assert gtin_check_digit_ok(good), good
    for bad in ("4006381333932", "036000291453", "96385073"):
        assert not gtin_check_digit_ok(bad), bad


def test_import_creates_products(db_engine, tmp_path):
    report = import_catalog(db_engine, write_csv(tmp_path, GOOD))
    assert (report.rows, report.created, report.updated, report.price_changes) == (3, 3, 0, 0)
    with session_scope(db_engine) as s:
        kettle = s.scalars(select(Product).where(Product.sku == "PW-1")).one()
        blender = s.scalars(select(Product).where(Product.sku == "PW-3")).one()
    assert kettle.price == Decimal("19.99") and kettle.floor == Decimal("15")
    assert kettle.tags == ["seasonal", "new"] and kettle.gtin == "4006381333931"
    assert kettle.map_price is None and kettle.price_changed_at is None
    assert blender.currency == "USD" and blender.price is None and blender.tags == []


BAD_ROWS = {
    ",No SKU,Acme,,,,,1,2,,,,EUR": "sku: is required",
    "PW-1,Duplicate,Acme,,,,,1,2,,,,EUR": "duplicate sku 'PW-1' (first on line 2)",
    "PW-4,Cost words,Acme,,,,,ten,2,,,,EUR": "cost: not a number: 'ten'",
    "PW-5,Negative,Acme,,,,,1,-2,,,,EUR": "price: must not be negative: -2",
    "PW-6,Floor high,Acme,,,,,1,20,30,25,,EUR": "floor 30 is above ceiling 25",
    "PW-7,Under floor,Acme,,,,,1,9,10,25,,EUR": "price 9 is below floor 10",
    "PW-8,Bad money,Acme,,,,,1,2,,,,ZZZ": "currency: 'ZZZ' is not an ISO 4217 currency code",
    "PW-9,Bad GTIN,Acme,4006381333932,,,,1,2,,,,EUR": "gtin: '4006381333932' has a wrong check digit",
    "PW-10,Short GTIN,Acme,12345,,,,1,2,,,,EUR": "gtin: '12345' is not a GTIN-8/12/13/14",
}


def test_each_kind_of_bad_row_refuses_the_whole_file(db_engine, tmp_path):
    import_catalog(db_engine, write_csv(tmp_path, GOOD[:1], "first.csv"))
    before = snapshot(db_engine)
    lines = [GOOD[0].replace("19.99", "21.00"), GOOD[1], *BAD_ROWS]
    path = write_csv(tmp_path, lines)
    with pytest.raises(CatalogError) as info:
        import_catalog(db_engine, path)
    problems = info.value.problems
    assert len(problems) == len(BAD_ROWS)  # exactly one line per bad row
    for line_no, (problem, reason) in enumerate(zip(problems, BAD_ROWS.values(), strict=True), 4):
        assert problem.startswith(f"line {line_no}"), problem
        assert reason in problem, (problem, reason)
    assert snapshot(db_engine) == before  # the good rows (and the price change) were not written


def test_cli_lists_bad_rows_and_exits_nonzero(sqlite_engine, tmp_path):
    db = sqlite_engine.url.database
    path = write_csv(tmp_path, [*GOOD, "PW-9,Bad GTIN,Acme,4006381333932,,,,1,2,,,,EUR"])
    result = CliRunner().invoke(main, ["--db", db, "catalog", "import", str(path)])
    assert result.exit_code == 1
    assert (
        f"{path}: line 5 (sku PW-9): gtin: '4006381333932' has a wrong check digit" in result.output
    )
    assert "1 problem(s)" in result.output and "nothing was imported" in result.output
    assert snapshot(sqlite_engine) == ([], 0)


def test_dry_run_writes_nothing(db_engine, tmp_path):
    report = import_catalog(db_engine, write_csv(tmp_path, GOOD), dry_run=True)
    assert report.dry_run and report.created == 3
    assert "would import" in report.describe()
    assert snapshot(db_engine) == ([], 0)


def test_reimport_updates_and_records_price_history(db_engine, tmp_path):
    import_catalog(db_engine, write_csv(tmp_path, GOOD, "v1.csv"))
    v2 = [
        GOOD[0].replace(",19.99,", ",17.49,"),  # our price changed
        GOOD[1].replace("Toaster", "Toaster Pro"),  # only the title changed
        GOOD[2],
    ]
    dry = import_catalog(db_engine, write_csv(tmp_path, v2, "v2.csv"), dry_run=True)
    assert (dry.updated, dry.price_changes) == (2, 1)
    assert snapshot(db_engine)[1] == 0
    report = import_catalog(db_engine, write_csv(tmp_path, v2, "v2.csv"))
    assert (report.created, report.updated, report.unchanged, report.price_changes) == (0, 2, 1, 1)
    with session_scope(db_engine) as s:
        [change] = s.scalars(select(ProductPriceChange)).all()
        kettle = s.get(Product, change.product_id)
        toaster = s.scalars(select(Product).where(Product.sku == "PW-2")).one()
    assert kettle.sku == "PW-1" and kettle.price == Decimal("17.49")
    assert (change.old_price, change.new_price, change.source) == (
        Decimal("19.99"), Decimal("17.49"), "catalog-import",
    )  # fmt: skip
    assert kettle.price_changed_at == change.changed_at
    assert toaster.title == "Toaster Pro" and toaster.price_changed_at is None
    again = import_catalog(db_engine, write_csv(tmp_path, v2, "v2.csv"))
    assert (again.updated, again.unchanged, again.price_changes) == (0, 3, 0)


def test_xlsx_and_column_map(sqlite_engine, tmp_path):
    frame = pd.DataFrame(
        {
            "Artikel": ["PW-1", "PW-2"],
            "Bezeichnung": ["Kettle", "Toaster"],
            "EAN": [4006381333931, 36000291452],  # numbers in Excel; leading zero lost
            "price": [19.99, 24.5],
            "currency": ["EUR", "EUR"],
        }
    )
    path = tmp_path / "catalog.xlsx"
    frame.to_excel(path, index=False)
    with pytest.raises(CatalogError, match="missing column"):
        import_catalog(sqlite_engine, path)
    with pytest.raises(CatalogError) as info:
        import_catalog(
            sqlite_engine,
            path,
            column_map={"Artikel": "sku", "Bezeichnung": "title", "EAN": "gtin"},
        )
    # 36000291452 is 11 digits: the lost zero is reported, not silently accepted.
    assert info.value.problems == [
        "line 3 (sku PW-2): gtin: '36000291452' is not a GTIN-8/12/13/14 (8, 12, 13 or 14 digits)"
    ]
    frame["EAN"] = ["4006381333931", "036000291452"]
    frame.to_excel(path, index=False)
    runner = CliRunner()
    args = ["--db", sqlite_engine.url.database, "catalog", "import", str(path)]
    args += ["--map", "Artikel=sku", "--map", "Bezeichnung=title", "--map", "EAN=gtin"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "imported catalog.xlsx: 2 rows, 2 new" in result.output
    with session_scope(sqlite_engine) as s:
        assert s.scalars(select(Product.gtin).order_by(Product.sku)).all() == [
            "4006381333931",
            "036000291452",
        ]
    bad = runner.invoke(main, [*args[:5], "--map", "nope"])
    assert bad.exit_code == 2 and "expected SOURCE=COLUMN" in bad.output


def test_cli_needs_a_schema(tmp_path):
    path = write_csv(tmp_path, GOOD)
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "empty.db"), "catalog", "import", str(path)]
    )
    assert result.exit_code == 1 and "run `pricewatch init` first" in result.output
