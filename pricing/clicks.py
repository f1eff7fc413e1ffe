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

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

import pricing.tabular  # noqa: F401 - pandas' text storage
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


def _amount(text: str, *, empty_ok: bool = False) -> Decimal | None:
    """Fast path for money: plain digits that fit NUMERIC(14, 4); anything else raises."""
    text = text.strip()
    if not text and empty_ok:
        return None
    value = Decimal(text) if text.replace(".", "", 1).isdigit() else None
    if value is None or value >= _LIMIT or value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError(text)
    return value


_LIMIT = Decimal("10000000000")


def clean_rows(frame: pd.DataFrame, sku_ids: dict[str, int]) -> list[dict] | None:
    """The rows, if the whole file is plainly good (checked column-wise: millions of rows take
    seconds); None if anything is doubtful, so :func:`validate` can name every problem."""
    if any(c not in frame.columns for c in REQUIRED) or frame.empty:
        return None
    text = frame.astype(str)
    ids = text["sku"].str.strip().map(sku_ids)
    days = pd.to_datetime(text["date"].str.strip().str[:10], format="%Y-%m-%d", errors="coerce")
    counts = {c: pd.to_numeric(text[c], errors="coerce") for c in COUNTS}
    if (
        ids.isna().any()
        or days.isna().any()
        or any(v.isna().any() or (v < 0).any() or (v % 1 != 0).any() for v in counts.values())
        or pd.DataFrame({"s": ids, "d": days}).duplicated().any()
    ):
        return None
    try:
        revenue = [_amount(v) for v in text["revenue"]]
        prices = [_amount(v, empty_ok=True) for v in text["price"]] if "price" in text else None
    except ValueError:
        return None
    if any(v is None for v in revenue) or (prices and any(v == 0 for v in prices)):
        return None
    out = pd.DataFrame(
        {
            "product_id": ids.astype(int),
            "day": days.dt.date,
            **{c: v.astype("int64") for c, v in counts.items()},
            "revenue": revenue,
        }
    )
    if prices is not None:
        out["price"] = prices
    return [
        {k: (int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
        for r in out.to_dict("records")
    ]


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
    rows = clean_rows(frame, sku_ids)
    problems: list[str] = []
    if rows is None:  # something is off: the row-by-row check says exactly what, line by line
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
        stale = _existing_ids(conn, rows, report.first_day, report.last_day)
        report.replaced = len(stale)
        if not dry_run:
            for i in range(0, len(stale), BATCH):
                conn.execute(delete(ClickDaily).where(ClickDaily.id.in_(stale[i : i + BATCH])))
            for i in range(0, len(rows), BATCH):
                conn.execute(insert(ClickDaily), rows[i : i + BATCH])
    return report


def _existing_ids(conn, rows: list[dict], first: dt.date | None, last: dt.date | None) -> list[int]:
    """Ids of stored rows for exactly the file's SKU-days (read once, matched in memory)."""
    if not rows:
        return []
    stored = conn.execute(
        select(ClickDaily.id, ClickDaily.product_id, ClickDaily.day).where(
            ClickDaily.day >= first, ClickDaily.day <= last
        )
    ).all()
    wanted = {(r["product_id"], r["day"]) for r in rows}
    return [i for i, product, day in stored if (product, _as_date(day)) in wanted]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value  # type: ignore[return-value]
