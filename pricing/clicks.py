"""Importing our own shop's daily click data (CSV or XLSX): all of it, or none of it.

One row per SKU and day: date, sku, views, clicks, add_to_cart, orders, revenue, and optionally
price (our price that day; elasticity needs it). Every row is checked before anything is
written; a file with any bad row is refused whole, and the error lists every bad line with its
number as a spreadsheet shows it (the header is line 1). Re-importing a day replaces it, so a
corrected export can simply be loaded again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, tuple_

from pricing.catalog import _money as money
from pricing.store.models import ClickDaily, Product

REQUIRED = ("date", "sku", "views", "clicks", "add_to_cart", "orders", "revenue")
OPTIONAL = ("price",)
COUNTS = ("views", "clicks", "add_to_cart", "orders")
MAX_ERRORS_SHOWN = 200
BATCH = 5000


class ClicksError(ValueError):
    """A click file that was refused; ``problems`` holds one "file:line: reason" per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        shown = problems[:MAX_ERRORS_SHOWN]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more" if more > 0 else "")
        super().__init__(f"{path}: refused, nothing imported ({len(problems)} problems)\n{text}")


@dataclass(slots=True)
class ClicksReport:
    rows: int
    skus: int
    first_day: dt.date | None
    last_day: dt.date | None
    replaced: int
    dry_run: bool

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        span = f"{self.first_day}..{self.last_day}" if self.rows else "no days"
        return (
            f"{verb} {self.rows} rows for {self.skus} SKUs ({span}); "
            f"{self.replaced} existing day(s) replaced"
        )


def read_table(path: Path) -> pd.DataFrame:
    """The file as text cells (XLSX dates become ISO dates), columns lower-cased."""
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
            frame = frame.map(_cell_text)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ClicksError(path, [f"{path}: cannot read: {exc}"]) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat() if not value.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _count(text: str) -> int:
    """A whole number ("12", or "12.0" as spreadsheets write it); anything else raises."""
    value = Decimal(text.replace(",", ""))
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(text)
    return int(value)


def validate(
    frame: pd.DataFrame, path: Path, sku_ids: dict[str, int]
) -> tuple[list[dict], list[str]]:
    """Rows ready to insert, and every problem found (empty when the file is good)."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        return [], [f"{path}:1: missing column(s): {', '.join(missing)}"]
    problems: list[str] = []
    rows: list[dict] = []
    seen: dict[tuple[str, dt.date], int] = {}
    has_price = "price" in frame.columns
    for n, rec in enumerate(frame.to_dict("records"), start=2):
        bad: list[str] = []
        sku = str(rec["sku"]).strip()
        if not sku:
            bad.append("sku is empty")
        elif sku not in sku_ids:
            bad.append(f"unknown sku {sku!r} (import the catalog first)")
        try:
            day = dt.date.fromisoformat(str(rec["date"]).strip()[:10])
        except ValueError:
            bad.append(f"date {rec['date']!r} is not a date (YYYY-MM-DD)")
            day = None
        values: dict[str, object] = {}
        for col in COUNTS:
            text = str(rec[col]).strip()
            try:
                values[col] = _count(text)
                if values[col] < 0:
                    bad.append(f"{col} is negative ({text})")
            except (ValueError, ArithmeticError):
                bad.append(f"{col} {text!r} is not a whole number")
        for col in ("revenue", "price") if has_price else ("revenue",):
            try:
                amount = money(rec[col])  # the catalog's rules: a number >= 0 fitting the column
            except ValueError as exc:
                bad.append(f"{col}: {exc}")
                continue
            if amount is None and col == "revenue":
                bad.append("revenue is empty")
            elif amount == 0 and col == "price":
                bad.append("price must be positive")
            else:
                values[col] = amount
        if day and sku:
            first = seen.setdefault((sku, day), n)
            if first != n:
                bad.append(f"duplicate of line {first} (sku {sku}, {day})")
        if bad:
            problems.append(f"{path}:{n}: " + "; ".join(bad))
        elif not problems:
            rows.append({"product_id": sku_ids[sku], "day": day, **values})
    return rows, problems


def import_clicks(engine: Engine, path: Path | str, *, dry_run: bool = False) -> ClicksReport:
    """Validate the whole file, then replace those SKU-days in one transaction."""
    path = Path(path)
    frame = read_table(path)
    with engine.connect() as conn:
        sku_ids = dict(conn.execute(select(Product.sku, Product.id)).all())
    rows, problems = validate(frame, path, sku_ids)
    if problems:
        raise ClicksError(path, problems)
    days = [r["day"] for r in rows]
    report = ClicksReport(
        rows=len(rows),
        skus=len({r["product_id"] for r in rows}),
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        replaced=0,
        dry_run=dry_run,
    )
    with engine.begin() as conn:
        keys = [(r["product_id"], r["day"]) for r in rows]
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            key = tuple_(ClickDaily.product_id, ClickDaily.day)
            if dry_run:
                report.replaced += len(
                    conn.execute(select(ClickDaily.id).where(key.in_(part))).all()
                )
            else:
                report.replaced += conn.execute(delete(ClickDaily).where(key.in_(part))).rowcount
        if not dry_run:
            for i in range(0, len(rows), BATCH):
                conn.execute(insert(ClickDaily), rows[i : i + BATCH])
    return report
