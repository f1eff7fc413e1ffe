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


def _conditions(f: SuggestionFilter, dialect: str = "") -> tuple[list, bool]:
    """WHERE clauses and whether they need the products table.

    SQLite (without STAT4 statistics) guesses that a two-sided range is very selective and
    picks the change_pct index over the status indexes even when the range spans most rows
    (147 ms vs 3 ms at 170k). With a status to narrow by, the range columns are written as
    ``+0`` expressions so SQLite uses the composite (status, ...) indexes instead.
    """
    where: list = []
    ranged = S.change_pct
    if dialect == "sqlite" and f.status != "all":
        ranged = S.change_pct + 0
    if f.status != "all":
        where.append(S.status == f.status)
    if f.strategy:
        where.append(S.strategy == f.strategy)
    if f.competitor:
        where.append(S.lowest_competitor == f.competitor)
    if f.change_min is not None:
        where.append(ranged >= f.change_min)
    if f.change_max is not None:
        where.append(ranged <= f.change_max)
    # margin_* columns are percent of the price, as the rules engine writes them.
    if f.margin_min is not None:
        where.append(S.margin_after >= f.margin_min)
    if f.margin_max is not None:
        where.append(S.margin_after <= f.margin_max)
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


def matching_ids(f: SuggestionFilter, dialect: str = "") -> Select:
    """SELECT of the ids of every suggestion the filter matches (all pages)."""
    where, needs_product = _conditions(f, dialect)
    stmt = select(S.id).where(*where)
    return stmt.select_from(_FROM) if needs_product else stmt


def count_matching(conn: Connection, f: SuggestionFilter, *, status: str | None = None) -> int:
    where, needs_product = _conditions(f, conn.dialect.name)
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
    from indexes, and only the 50 rows shown are then read in full (explanations are long).
    """
    where, needs_product = _conditions(f, conn.dialect.name)
    column = SORTS[f.sort]
    order = column.desc() if f.dir == "desc" else column.asc()
    tiebreak = S.id.desc() if f.dir == "desc" else S.id.asc()
    ordering = [order, tiebreak]
    if column.nullable is not False:  # NULLs (no margin, no data age) last either way
        ordering.insert(0, column.is_(None))
    ids_stmt = (
        select(S.id)
        .select_from(_FROM if needs_product or f.sort in _PRODUCT_SORTS else Suggestion.__table__)
        .where(*where)
        .order_by(*ordering)
        .limit(f.per_page)
        .offset((f.page - 1) * f.per_page)
    )
    ids = conn.execute(ids_stmt).scalars().all()
    rows = []
    if ids:
        by_id = {
            r.id: r
            for r in conn.execute(select(*ROW_COLUMNS).select_from(_FROM).where(S.id.in_(ids)))
        }
        rows = [by_id[i] for i in ids if i in by_id]
    return Page(rows, count_matching(conn, f), f.page, f.per_page)


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
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
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
