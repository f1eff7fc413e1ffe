"""Our own catalog: import a CSV or XLSX file of products, all or nothing.

Every row is validated at the edge with pydantic before anything is written; one bad row
refuses the whole file, and the error lists every bad row with its line number, so a pricing
manager fixes the file in one pass. A re-import updates changed products and records changes
of our own price in ``product_price_changes`` (rules and backtests read that history).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

import pricing.tabular  # noqa: F401 - pandas' text storage
from pricing.currencies import is_currency
from pricing.store.models import Product, ProductPriceChange

COLUMNS = ("sku", "title", "brand", "gtin", "mpn", "category", "tags", "cost", "price", "floor", "ceiling", "map", "currency")  # fmt: skip
REQUIRED_COLUMNS = ("sku", "title", "currency")
MONEY = ("cost", "price", "floor", "ceiling", "map")
SOURCE = "catalog-import"
_MONEY_MAX = Decimal("9999999999")  # NUMERIC(14, 4): ten integer digits


class CatalogError(Exception):
    """The file was refused; ``problems`` holds one line per bad row (or a file-level one)."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path}: {len(problems)} problem(s), nothing imported:\n" + "\n".join(problems)
        )


@dataclass
class ImportReport:
    path: Path
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    price_changes: int = 0
    dry_run: bool = False
    changed_skus: list[str] = field(default_factory=list)

    def describe(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        tail = " (dry run: nothing written)" if self.dry_run else ""
        return (
            f"{verb} {self.path.name}: {self.rows} rows, {self.created} new, {self.updated} "
            f"updated, {self.unchanged} unchanged, {self.price_changes} price changes{tail}"
        )


# validation -------------------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _money(value: Any) -> Decimal | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a number: {value!r}")
    if amount < 0:
        raise ValueError(f"must not be negative: {value}")
    if amount > _MONEY_MAX:
        raise ValueError(f"too large: {value}")
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError(f"more than 4 decimal places: {value}")
    return amount


def gtin_check_digit_ok(gtin: str) -> bool:
    """GS1 mod-10: weights 3,1,3,... from the right, excluding the check digit."""
    body = gtin[-2::-1]  # the digits before the check digit, right to left
    total = 3 * sum(map(int, body[0::2])) + sum(map(int, body[1::2]))
    return (10 - total % 10) % 10 == int(gtin[-1])


def _gtin(value: Any) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    text = str(value)
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise ValueError(f"{text!r} is not a GTIN-8/12/13/14 (8, 12, 13 or 14 digits)")
    if not gtin_check_digit_ok(text):
        raise ValueError(f"{text!r} has a wrong check digit")
    return text


def _tags(value: Any) -> list[str]:
    value = _blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [t.strip() for t in re.split(r"[;,|]", str(value)) if t.strip()]


def _currency(value: Any) -> str:
    code = _blank_to_none(value)
    if code is None:
        raise ValueError("is required")
    code = str(code).upper()
    if not is_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _text(max_length: int, required: bool = False) -> Any:
    inner = Annotated[str, StringConstraints(max_length=max_length)]
    return Annotated[inner if required else inner | None, BeforeValidator(_blank_to_none)]


Money = Annotated[Decimal | None, BeforeValidator(_money)]


class CatalogRow(BaseModel):
    """One product line of the catalog file, validated."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sku: _text(100, required=True)
    title: _text(500, required=True)
    brand: _text(200) = None
    gtin: Annotated[str | None, BeforeValidator(_gtin)] = None
    mpn: _text(100) = None
    category: _text(200) = None
    tags: Annotated[list[str], BeforeValidator(_tags)] = []
    cost: Money = None
    price: Money = None
    floor: Money = None
    ceiling: Money = None
    map_price: Annotated[Money, Field(alias="map")] = None
    currency: Annotated[str, BeforeValidator(_currency)]

    @model_validator(mode="after")
    def _consistent(self) -> CatalogRow:
        problems = []
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            problems.append(f"floor {self.floor} is above ceiling {self.ceiling}")
        if self.price is not None and self.floor is not None and self.price < self.floor:
            problems.append(f"price {self.price} is below floor {self.floor}")
        if self.price is not None and self.ceiling is not None and self.price > self.ceiling:
            problems.append(f"price {self.price} is above ceiling {self.ceiling}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _reason(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"]).removeprefix("Value error, ")
    loc = [str(p) for p in error.get("loc", ())]
    if error["type"] == "missing" or (error["type"] == "string_type" and error["input"] is None):
        msg = "is required"
    return f"{loc[0]}: {msg}" if loc else msg


# reading ----------------------------------------------------------------------------------


def read_table(path: Path, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The file as strings (CSV) or cells (XLSX), with columns renamed by ``column_map``."""
    if not path.is_file():
        raise CatalogError(path, [f"{path}: no such file"])
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        elif suffix in (".csv", ".txt", ".tsv", ""):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                head = fh.readline()
            sep = csv.Sniffer().sniff(head, delimiters=",;\t").delimiter if head else ","
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig"
            )
        else:
            raise CatalogError(path, [f"line 1: unsupported file type {suffix!r} (CSV or XLSX)"])
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error, ValueError) as exc:
        if isinstance(exc, CatalogError):
            raise
        raise CatalogError(path, [f"cannot read the file: {exc}"]) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = []
    for src, dst in (column_map or {}).items():
        if dst not in COLUMNS:
            problems.append(f"--map {src}={dst}: {dst!r} is not a catalog column")
        elif src not in frame.columns:
            problems.append(f"line 1: --map {src}={dst}: the file has no column {src!r}")
    frame = frame.rename(columns=dict(column_map or {}))
    lowered = {c: c.lower() for c in frame.columns if c.lower() in COLUMNS}
    frame = frame.rename(columns=lowered)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        problems.append(
            f"line 1: missing column(s) {', '.join(missing)}; found: {', '.join(map(str, frame.columns))}"
        )
    if problems:
        raise CatalogError(path, problems)
    return frame


def _cell(value: Any) -> Any:
    """XLSX cells: integral floats (GTINs, whole prices) back to their digits."""
    if isinstance(value, float) and not math.isnan(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def validate(path: Path, frame: pd.DataFrame) -> list[CatalogRow]:
    """Every row validated; raises CatalogError naming every bad row (line = file line)."""
    present = [c for c in COLUMNS if c in frame.columns]
    rows: list[CatalogRow] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    cells = frame[present].to_numpy(dtype=object).tolist()  # plain lists: 10x faster to walk
    for offset, values in enumerate(cells):
        line = offset + 2  # line 1 is the header
        if not all(isinstance(v, str) for v in values):  # XLSX cells: numbers, dates
            values = [_cell(v) for v in values]
        raw = dict(zip(present, values, strict=True))
        sku = _blank_to_none(raw.get("sku"))
        label = f"line {line}" + (f" (sku {sku})" if sku else "")
        reasons = []
        if sku is not None and sku in first_line:
            reasons.append(f"duplicate sku {sku!r} (first on line {first_line[sku]})")
        elif sku is not None:
            first_line[sku] = line
        try:
            row = CatalogRow.model_validate(raw)
        except ValidationError as exc:
            reasons += [_reason(e) for e in exc.errors()]
        if reasons:
            problems.append(f"{label}: " + "; ".join(reasons))
        else:
            rows.append(row)
    if not rows and not problems:
        problems.append("the file has no product rows")
    if problems:
        raise CatalogError(path, problems)
    return rows


# writing ----------------------------------------------------------------------------------

_FIELDS = ("title", "brand", "gtin", "mpn", "category", "tags", "cost", "price", "floor", "ceiling", "map_price", "currency")  # fmt: skip


def import_catalog(
    engine: Engine,
    path: str | Path,
    *,
    dry_run: bool = False,
    column_map: Mapping[str, str] | None = None,
) -> ImportReport:
    """Validate the whole file, then create/update products in one transaction.

    Raises :class:`CatalogError` (nothing written) if any row is bad. With ``dry_run`` the
    report says what would change and nothing is written.
    """
    path = Path(path)
    rows = validate(path, read_table(path, column_map))
    report = ImportReport(path=path, rows=len(rows), dry_run=dry_run)
    products = Product.__table__
    now = datetime.now(UTC)
    with engine.begin() as conn:
        cols = [products.c.id, products.c.sku, *(products.c[f] for f in _FIELDS)]
        existing = {r.sku: r for r in conn.execute(select(*cols))}
        new, changed, price_changes = [], [], []
        for row in rows:
            values = {f: getattr(row, f) for f in _FIELDS}
            old = existing.get(row.sku)
            if old is None:
                new.append({"sku": row.sku, **values, "created_at": now, "updated_at": now})
                continue
            if all(_same(getattr(old, f), v) for f, v in values.items()):
                report.unchanged += 1
                continue
            update_values = {"b_id": old.id, **values, "updated_at": now}
            update_values["price_changed_at"] = None
            if not _same(old.price, row.price):
                update_values["price_changed_at"] = now
                price_changes.append(
                    {"product_id": old.id, "changed_at": now, "old_price": old.price,
                     "new_price": row.price, "source": SOURCE}
                )  # fmt: skip
            changed.append(update_values)
            report.changed_skus.append(row.sku)
        report.created, report.updated = len(new), len(changed)
        report.price_changes = len(price_changes)
        if dry_run:
            return report
        for i in range(0, len(new), 5000):
            conn.execute(insert(products), new[i : i + 5000])
        _update_products(conn, [c for c in changed if c["price_changed_at"] is not None], True)
        _update_products(conn, [c for c in changed if c["price_changed_at"] is None], False)
        if price_changes:
            conn.execute(insert(ProductPriceChange.__table__), price_changes)
    return report


def _update_products(conn: Connection, rows: list[dict], price_changed: bool) -> None:
    """Executemany UPDATE by id; the SET columns are the keys of the parameter dicts."""
    if not rows:
        return
    products = Product.__table__
    columns = [*_FIELDS, "updated_at"] + (["price_changed_at"] if price_changed else [])
    stmt = update(products).where(products.c.id == bindparam("b_id"))
    params = [{k: r[k] for k in ("b_id", *columns)} for r in rows]
    for i in range(0, len(params), 5000):
        conn.execute(stmt, params[i : i + 5000])


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return old == new if old is not None and new is not None else old is new
    if old is None or new is None:
        return old is new or (old in ([], None) and new in ([], None))
    return old == new
