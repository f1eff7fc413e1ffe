"""The suggestions table's SQL: filters, sort and pagination, fast at 170,000 rows.

Everything is filtered and sorted in the database; a page is one indexed ``LIMIT/OFFSET``
query plus one ``COUNT``. The product join is added only when a product column is filtered or
sorted on, because it doubles the cost of the count. Filters arrive as a validated
``SuggestionFilter`` (from the query string or the JSON API) and the same object drives the
bulk actions, so "approve everything matching" means exactly what the table shows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.exc import OperationalError

from pricing.store.models import Product, Suggestion, SuggestionStatus

S, P = Suggestion.__table__.c, Product.__table__.c

STATUS_CHOICES = [*[s.value for s in SuggestionStatus], "all"]

SORTS = {
    "change": S.change_pct,
    "margin": S.margin_after,
    "age": S.oldest_data_at,
    "price": S.proposed_price,
    "created": S.created_at,
    "competitors": S.competitor_count,
    "strategy": S.strategy,
    "sku": P.sku,
    "category": P.category,
}
_PRODUCT_SORTS = {"sku", "category"}
WALK_SORT_INDEX_ABOVE = 2000  # matching rows; see list_suggestions
# (status, sort column) indexes in models.py, walked in order when many rows match.
SORT_INDEXES = {
    "change": "ix_suggestions_status_change",
    "margin": "ix_suggestions_status_margin",
    "price": "ix_suggestions_status_price",
    "age": "ix_suggestions_status_age",
}


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class SuggestionFilter(BaseModel):
    """What the suggestions table shows; every field optional, empty form fields ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    category: str | None = Field(None, max_length=200)
    brand: str | None = Field(None, max_length=200)
    strategy: str | None = Field(None, max_length=100)
    competitor: str | None = Field(None, max_length=100)
    sku: str | None = Field(None, max_length=100)
    status: Literal[tuple(STATUS_CHOICES)] = "pending"  # type: ignore[valid-type]
    change_min: float | None = Field(None, ge=-1000, le=1000, description="change %, at least")
    change_max: float | None = Field(None, ge=-1000, le=1000, description="change %, at most")
    margin_min: float | None = Field(None, ge=-1000, le=100, description="margin after, %")
    margin_max: float | None = Field(None, ge=-1000, le=100, description="margin after, %")
    sort: Literal[tuple(SORTS)] = "change"  # type: ignore[valid-type]
    dir: Literal["asc", "desc"] = "desc"
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=10, le=500)

    _blanks = field_validator(
        "category",
        "brand",
        "strategy",
        "competitor",
        "sku",
        "change_min",
        "change_max",
        "margin_min",
        "margin_max",
        mode="before",
    )(_blank_to_none)

    @field_validator("status", "sort", "dir", "page", "per_page", mode="before")
    @classmethod
    def _defaults_for_blanks(cls, value: object, info) -> object:
        if _blank_to_none(value) is None:
            return cls.model_fields[info.field_name].default
        return value

    def query_params(self, **overrides: object) -> dict[str, str]:
        """The non-default fields as query-string parameters (for links and bulk forms)."""
        data = {**self.model_dump(exclude_defaults=True), **overrides}
        return {k: str(v) for k, v in data.items() if v is not None}

    def filter_params(self) -> dict[str, str]:
        """Only what selects rows (no sort/page): the bulk action's scope."""
        return {
            k: v
            for k, v in self.query_params().items()
            if k not in {"sort", "dir", "page", "per_page"}
        }


def _conditions(f: SuggestionFilter, hide_ranges_except: str | None = None) -> tuple[list, bool]:
    """WHERE clauses and whether they need the products table.

    ``hide_ranges_except``: write the change/margin ranges (except on that column) as ``+0``
    expressions, which SQLite cannot serve from an index. SQLite (without STAT4 statistics)
    takes any two-sided range for very selective and picks its index even when the range spans
    most rows, then sorts them all; hidden, it walks the (status, sort column) index in order and
    stops after one page: 150 ms -> 1 ms at 170k rows. Only used when many rows match.
    """
    where: list = []
    change, margin = S.change_pct, S.margin_after
    if hide_ranges_except is not None:
        change = change if hide_ranges_except == "change" else change + 0
        margin = margin if hide_ranges_except == "margin" else margin + 0
    if f.status != "all":
        where.append(S.status == f.status)
    if f.strategy:
        where.append(S.strategy == f.strategy)
    if f.competitor:
        where.append(S.lowest_competitor == f.competitor)
    if f.change_min is not None:
        where.append(change >= f.change_min)
    if f.change_max is not None:
        where.append(change <= f.change_max)
    # margin_* columns are percent of the price, as the rules engine writes them.
    if f.margin_min is not None:
        where.append(margin >= f.margin_min)
    if f.margin_max is not None:
        where.append(margin <= f.margin_max)
    product_where = []
    if f.category:
        product_where.append(P.category == f.category)
    if f.brand:
        product_where.append(P.brand == f.brand)
    if f.sku:
        product_where.append(P.sku == f.sku)
    return where + product_where, bool(product_where)


ROW_COLUMNS = (
    S.id,
    S.product_id,
    S.created_at,
    S.strategy,
    S.current_price,
    S.proposed_price,
    S.final_price,
    S.currency,
    S.change_pct,
    S.margin_before,
    S.margin_after,
    S.competitor_count,
    S.lowest_competitor,
    S.oldest_data_at,
    S.explanation,
    S.status,
    S.decided_at,
    P.sku,
    P.title,
    P.brand,
    P.category,
    P.cost,
    P.floor,
    P.ceiling,
    P.map_price,
)

_FROM = Suggestion.__table__.join(Product.__table__, P.id == S.product_id)


def matching_ids(f: SuggestionFilter) -> Select:
    """SELECT of the ids of every suggestion the filter matches (all pages)."""
    where, needs_product = _conditions(f)
    stmt = select(S.id).where(*where)
    return stmt.select_from(_FROM) if needs_product else stmt


def count_matching(conn: Connection, f: SuggestionFilter, *, status: str | None = None) -> int:
    where, needs_product = _conditions(f)
    if status is not None:
        where.append(S.status == status)
    stmt = select(func.count()).select_from(_FROM if needs_product else Suggestion.__table__)
    return conn.execute(stmt.where(*where)).scalar_one()


@dataclass(slots=True)
class Page:
    rows: list
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, math.ceil(self.total / self.per_page))


def list_suggestions(conn: Connection, f: SuggestionFilter) -> Page:
    """One page of the table. Sort ties break on id, so pages never overlap or skip rows.

    A deferred join: the sort and offset run over narrow (id, sort key) rows, mostly straight
    from the (status, sort column) indexes, and only the rows shown are then read in full.
    The count comes first because it decides the plan: with many matches, walking the sort
    index finds a page at once; with few, reading them by the filter's index and sorting is
    cheaper.
    """
    total = count_matching(conn, f)
    walk = conn.dialect.name == "sqlite" and f.status != "all" and total > WALK_SORT_INDEX_ABOVE
    where, needs_product = _conditions(f, hide_ranges_except=f.sort if walk else None)
    column = SORTS[f.sort]
    desc = f.dir == "desc"
    offset, limit = (f.page - 1) * f.per_page, f.per_page
    # Past the middle, read the page backwards from the end: OFFSET costs what it skips, so
    # the last page costs what the first does. (Not for nullable columns: NULLs stay last.)
    if offset >= total:  # past the last page: nothing to read (and no negative LIMIT below)
        return Page([], total, f.page, f.per_page)
    flip = column.nullable is False and offset > total / 2
    if flip:
        desc, end = not desc, total - offset
        offset, limit = max(0, end - f.per_page), min(f.per_page, end)
    order = (column.desc() if desc else column.asc()).nulls_last()
    if conn.dialect.name == "sqlite" and desc:
        order = column.desc()  # SQLite puts NULLs last in DESC anyway, and then uses the index
    ids_stmt = (
        select(S.id)
        .select_from(_FROM if needs_product or f.sort in _PRODUCT_SORTS else Suggestion.__table__)
        .where(*where)
        .order_by(order, S.id.desc() if desc else S.id.asc())
        .limit(limit)
        .offset(offset)
    )
    if walk and f.sort in SORT_INDEXES and not (f.strategy or f.competitor):
        ids = _run_indexed_by(conn, ids_stmt, SORT_INDEXES[f.sort])
    else:
        ids = conn.execute(ids_stmt).scalars().all()
    if flip:
        ids = ids[::-1]
    rows = []
    if ids:
        by_id = {
            r.id: r
            for r in conn.execute(select(*ROW_COLUMNS).select_from(_FROM).where(S.id.in_(ids)))
        }
        rows = [by_id[i] for i in ids if i in by_id]
    return Page(rows, total, f.page, f.per_page)


def _run_indexed_by(conn: Connection, stmt: Select, index: str) -> list[int]:
    """Run ``stmt`` with SQLite's ``INDEXED BY`` on the suggestions table.

    Even with ANALYZE statistics SQLite prefers reading every matching row and sorting them
    (25-70 ms at 170k) to walking the (status, sort column) index and stopping after a page
    (under 1 ms); INDEXED BY is SQLite's documented way to pin a plan. SQLAlchemy renders no
    table hints for SQLite, hence the one string edit on the compiled statement.
    """
    compiled = stmt.compile(dialect=conn.dialect)
    sql = compiled.string.replace("FROM suggestions", f"FROM suggestions INDEXED BY {index}", 1)
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    try:
        return [row[0] for row in conn.exec_driver_sql(sql, params)]
    except OperationalError as exc:  # a store created before the index: slower, still right
        if "no such index" not in str(exc):
            raise
        return list(conn.execute(stmt).scalars())


def suggestion_row(conn: Connection, suggestion_id: int):
    """One row in the table's shape (for htmx row swaps), or None."""
    return conn.execute(
        select(*ROW_COLUMNS).select_from(_FROM).where(S.id == suggestion_id)
    ).first()


def refresh_planner_stats(engine: Engine, *, drift: float = 0.2) -> bool:
    """On SQLite, run ANALYZE when the table statistics are missing or the suggestions table has
    grown or shrunk by more than ``drift`` since. Without statistics SQLite assumes every index
    is selective and walks the status index for a status that matches 70 % of the rows: the
    filtered pages took 60-90 ms instead of 2-15. PostgreSQL's autovacuum does this itself.
    Returns True when it analysed."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        rows = conn.execute(select(func.max(S.id))).scalar() or 0
        has_stats = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_stat1'"
        ).first()
        stat = None
        if has_stats:
            stat = conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl='suggestions' AND idx IS NOT NULL LIMIT 1"
            ).scalar()
    counted = int(stat.split()[0]) if stat else None
    if counted is not None and abs(rows - counted) <= drift * max(counted, 1000):
        return False
    with engine.begin() as conn:  # only the tables this page reads: observations may be huge
        conn.exec_driver_sql("ANALYZE suggestions")
        conn.exec_driver_sql("ANALYZE products")
    return True


@dataclass(slots=True)
class FilterOptions:
    categories: list[str]
    brands: list[str]
    strategies: list[str]
    competitors: list[str]


class FilterOptionsCache:
    """Distinct values for the filter dropdowns, refreshed at most every ``ttl`` seconds.

    Four DISTINCT scans per page view would cost more than the page itself at 170k rows, and
    the lists change only when the catalog is imported or the rules engine runs.
    """

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._value: FilterOptions | None = None
        self._at = 0.0

    def get(self, conn: Connection) -> FilterOptions:
        if self._value is None or time.monotonic() - self._at > self.ttl:
            self._value = FilterOptions(
                categories=_distinct(conn, P.category),
                brands=_distinct(conn, P.brand, limit=2000),
                strategies=_distinct(conn, S.strategy),
                competitors=_distinct(conn, S.lowest_competitor),
            )
            self._at = time.monotonic()
        return self._value

    def clear(self) -> None:
        self._value = None


def _distinct(conn: Connection, column, limit: int = 500) -> list[str]:
    stmt = select(column).distinct().where(column.is_not(None)).order_by(column).limit(limit)
    return [v for (v,) in conn.execute(stmt) if v]
