"""The store's tables, the same on SQLite and PostgreSQL.

Two ideas shape this schema:

* History is change-only and system-versioned. An offer's *current* state lives only in its
  ``offers`` row (the ``cur_*`` columns; it is valid from ``cur_valid_from`` to ``last_seen``),
  so seeing the same state again updates that one row and pricing reads "now" without
  touching history. ``observations`` holds the *replaced* states: a row is written once, when
  its state is replaced, and never updated.
* The view ``offer_states`` (:mod:`pricing.store.views`) is both together, every distinct
  state valid from ``valid_from`` to ``valid_to``: what readers of history query.

Money is ``Numeric`` (exact on PostgreSQL; SQLAlchemy converts to Decimal on SQLite).
Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Money = Numeric(14, 4)

# Deterministic constraint names so Alembic migrations are identical on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Availability(enum.StrEnum):
    in_stock = "in_stock"
    out_of_stock = "out_of_stock"
    preorder = "preorder"
    backorder = "backorder"
    unknown = "unknown"


class RunStatus(enum.StrEnum):
    running = "running"
    finished = "finished"
    interrupted = "interrupted"
    failed = "failed"


class RunHealth(enum.StrEnum):
    healthy = "healthy"
    degraded = "degraded"
    broken = "broken"


class MatchStatus(enum.StrEnum):
    accepted = "accepted"  # above the confidence threshold
    review = "review"  # in the band that waits for a manager
    confirmed = "confirmed"  # a manager said yes: final, survives re-matching
    rejected = "rejected"  # a manager said no: final, survives re-matching


class SuggestionStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    auto_approved = "auto_approved"
    rejected = "rejected"
    superseded = "superseded"
    exported = "exported"
    applied = "applied"


class Role(enum.StrEnum):
    viewer = "viewer"
    manager = "manager"
    admin = "admin"


def _enum(e: type[enum.Enum], length: int = 16) -> String:
    """Enums are stored as plain strings: portable, and readable in SQL."""
    return String(length)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(_enum(RunStatus), default=RunStatus.running)
    # Where the run came from: "cli", "schedule", "celery:<batch>", "bench" ...
    trigger: Mapped[str | None] = mapped_column(String(100))
    # "full" (from the site's start points) or "refresh" (a planned list of pages): health
    # compares a full run's offer count with earlier full runs only, a refresh run's never.
    kind: Mapped[str] = mapped_column(String(20), default="full", server_default="full")
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    http_3xx: Mapped[int] = mapped_column(Integer, default=0)
    http_4xx: Mapped[int] = mapped_column(Integer, default=0)
    http_5xx: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    parse_failures: Mapped[int] = mapped_column(Integer, default=0)
    ban_pages: Mapped[int] = mapped_column(Integer, default=0)
    suspect_items: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(100))
    health: Mapped[str | None] = mapped_column(_enum(RunHealth))
    health_reasons: Mapped[list | None] = mapped_column(JSON)
    stats: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_crawl_runs_site_started", "site_id", "started_at"),)


class Offer(Base):
    """A competitor's product page, plus its current state (the ``cur_*`` columns)."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key (migration 0004): its per-row check was 40% of a first crawl's
    # server CPU on PostgreSQL. The writer checks the site once per write (and locks it on
    # PostgreSQL: pricing.store.bulk); triggers delete a site's offers with it, refuse the
    # updates the constraint refused and, on PostgreSQL, check every insert once per
    # statement. On SQLite, other code that inserts offers must name an existing site.
    # info["references"]: the parent it names all the same, for readers and tools.
    site_id: Mapped[int] = mapped_column(Integer, info={"references": "sites.id"})
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(500))
    brand: Mapped[str | None] = mapped_column(String(200))
    gtin: Mapped[str | None] = mapped_column(String(14))
    mpn: Mapped[str | None] = mapped_column(String(100))
    site_sku: Mapped[str | None] = mapped_column(String(100))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped whenever title/brand/gtin/mpn change, so matching re-examines only those.
    identity_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Current state: the latest distinct state, valid from cur_valid_from to last_seen. It
    # has no observations row until it is replaced; current_observation_id is the id it will
    # have there (taken from the observations' ids, so it is unique among them).
    current_observation_id: Mapped[int | None] = mapped_column(BigId)
    cur_valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cur_price: Mapped[Decimal | None] = mapped_column(Money)
    cur_regular_price: Mapped[Decimal | None] = mapped_column(Money)
    cur_currency: Mapped[str | None] = mapped_column(String(3))
    cur_availability: Mapped[str | None] = mapped_column(_enum(Availability))
    cur_stock_quantity: Mapped[int | None] = mapped_column(Integer)
    cur_shipping: Mapped[Decimal | None] = mapped_column(Money)
    cur_review_count: Mapped[int | None] = mapped_column(Integer)
    cur_rating: Mapped[float | None] = mapped_column(Float)
    cur_sold_count: Mapped[int | None] = mapped_column(Integer)
    cur_rank: Mapped[int | None] = mapped_column(Integer)
    cur_suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    cur_suspect_reason: Mapped[str | None] = mapped_column(String(200))
    cur_price_source: Mapped[str | None] = mapped_column(String(40))
    cur_confidence: Mapped[float | None] = mapped_column(Float)
    # The run that first saw the current state, and the last run that confirmed it. No
    # foreign keys (as for observations.last_run_id): a crawl run is never deleted while its
    # offers live, and every write checks its run once (pricing.store.bulk).
    cur_first_run_id: Mapped[int | None] = mapped_column(Integer)
    cur_run_id: Mapped[int | None] = mapped_column(Integer)

    # Every crawl cycle rewrites last_seen (and often cur_*) of most offers. With no index on
    # those columns and half of each page free, PostgreSQL updates them in place ("HOT"):
    # measured over 3 cycles of 170k offers, 100% HOT, 35% less server CPU, and a smaller
    # table (74 MB against 111 MB at the default fill, which bloats with dead rows).
    # Re-measured once current states lived only here (migration 0003; the store bench, three
    # cycles, server CPU, best of 3): fill 50: 2.16 / 1.53 / 1.16 s, all updates HOT; 70:
    # 2.44 / 2.14 / 1.58 s, 55% HOT; 100: 2.20 / 2.52 / 2.82 s, none HOT. The first cycle's
    # COPY costs no more for the emptier pages, so 50 stays.
    # "Offers of a site not seen since T" scans the site's part of uq_offers_site_url.
    __table_args__ = (
        UniqueConstraint("site_id", "url", name="uq_offers_site_url"),
        # Offers by GTIN; many shops publish none, and an index entry per NULL cost 0.12 s
        # of a 170k-offer first crawl on PostgreSQL (measured). "gtin = ?" implies NOT NULL,
        # so both databases still use this index for it.
        Index(
            "ix_offers_gtin",
            "gtin",
            postgresql_where=text("gtin IS NOT NULL"),
            sqlite_where=text("gtin IS NOT NULL"),
        ),
        {"postgresql_with": {"fillfactor": 50}},
    )


class Observation(Base):
    """A replaced state of an offer, valid over [valid_from, valid_to]: written once, never
    updated. Read history through :class:`pricing.store.views.OfferState`, which adds the
    current states kept in ``offers``."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    price: Mapped[Decimal | None] = mapped_column(Money)
    regular_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    availability: Mapped[str] = mapped_column(_enum(Availability), default=Availability.unknown)
    stock_quantity: Mapped[int | None] = mapped_column(Integer)
    shipping: Mapped[Decimal | None] = mapped_column(Money)
    review_count: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[float | None] = mapped_column(Float)
    sold_count: Mapped[int | None] = mapped_column(Integer)
    rank: Mapped[int | None] = mapped_column(Integer)
    # The run that first saw this state and the last run that confirmed it.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    suspect_reason: Mapped[str | None] = mapped_column(String(200))
    price_source: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        # Point-in-time and range queries: WHERE offer_id = ? AND valid_from <= ? ORDER BY valid_from.
        Index("ix_observations_offer_valid_from", "offer_id", "valid_from", unique=True),
    )


class Product(Base):
    """One of our own products (a SKU)."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    brand: Mapped[str | None] = mapped_column(String(200), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)
    mpn: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    tags: Mapped[list | None] = mapped_column(JSON)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    price: Mapped[Decimal | None] = mapped_column(Money)
    floor: Mapped[Decimal | None] = mapped_column(Money)
    ceiling: Mapped[Decimal | None] = mapped_column(Money)
    map_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    in_stock: Mapped[bool] = mapped_column(Boolean, default=True)
    key_item: Mapped[bool] = mapped_column(Boolean, default=False)
    price_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProductPriceChange(Base):
    """History of our own price: from catalog re-imports and applied suggestions."""

    __tablename__ = "product_price_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    old_price: Mapped[Decimal | None] = mapped_column(Money)
    new_price: Mapped[Decimal | None] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(40))  # catalog-import, suggestion, rollback
    suggestion_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_price_changes_product_at", "product_id", "changed_at"),)


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(20))  # gtin, mpn, fuzzy, manual
    status: Mapped[str] = mapped_column(_enum(MatchStatus))
    evidence: Mapped[dict | None] = mapped_column(JSON)
    # True for a substitute (similar, not identical) product, kept apart by the rules engine.
    substitute: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("product_id", "offer_id", name="uq_matches_product_offer"),)


class ClickDaily(Base):
    """Our own shop's daily click data per SKU."""

    __tablename__ = "clicks_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    day: Mapped[datetime] = mapped_column(Date)
    views: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    add_to_cart: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Our price that day, when known: elasticity needs it.
    price: Mapped[Decimal | None] = mapped_column(Money)

    __table_args__ = (UniqueConstraint("product_id", "day", name="uq_clicks_daily_product_day"),)


class Suggestion(Base):
    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    suggest_run: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(100))
    current_price: Mapped[Decimal | None] = mapped_column(Money)
    proposed_price: Mapped[Decimal] = mapped_column(Money)
    final_price: Mapped[Decimal | None] = mapped_column(Money)  # after a manager's edit
    currency: Mapped[str] = mapped_column(String(3))
    change_pct: Mapped[float] = mapped_column(Float)
    margin_before: Mapped[float | None] = mapped_column(Float)
    margin_after: Mapped[float | None] = mapped_column(Float)
    competitor_count: Mapped[int] = mapped_column(Integer, default=0)
    lowest_competitor: Mapped[str | None] = mapped_column(String(100))
    oldest_data_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(_enum(SuggestionStatus), default=SuggestionStatus.pending)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Every index costs a suggest run ~0.25 s of SQLite upkeep per 120k rows (measured), so
    # only these seven: (product, status) serves the product page, the review app's joins from
    # products and foreign-key cascades; status-led ones serve the review app's filters and
    # sorts. Without a lone strategy or change_pct index the filter dropdown's DISTINCT
    # strategy (cached) and the unfiltered all-status page sort in a temp b-tree instead
    # (2 -> 17 ms at 170k rows); the filtered pages are unchanged (EXPLAIN QUERY PLAN).
    __table_args__ = (
        Index("ix_suggestions_product_status", "product_id", "status", "created_at"),
        # Review app: the default view (one status, by change) and its common filters.
        Index("ix_suggestions_status_change", "status", "change_pct"),
        Index("ix_suggestions_status_strategy", "status", "strategy", "change_pct"),
        Index("ix_suggestions_status_competitor", "status", "lowest_competitor"),
        Index("ix_suggestions_status_margin", "status", "margin_after"),
        Index("ix_suggestions_status_price", "status", "proposed_price"),
        Index("ix_suggestions_status_age", "status", "oldest_data_at"),
    )


class Decision(Base):
    """A person's (or auto-approval's) verdict on a suggestion."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(20))  # approve, reject, edit, auto_approve, ...
    old_price: Mapped[Decimal | None] = mapped_column(Money)
    new_price: Mapped[Decimal | None] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(_enum(Role))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A review-app login, so logging out or an admin's change ends it on the server.

    The cookie carries the random session id; only its SHA-256 (``sid_hash``) is stored, so a
    copy of this table cannot be replayed as cookies. A session ends at ``expires_at`` (its
    absolute lifetime), after an idle timeout counted from ``last_seen_at``, or when
    ``revoked_at`` is set (logout, deactivation, role change, ``pricewatch users sessions
    --revoke``). Written by pricing.review.sessions.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)  # every request: one lookup
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Who did what, when, from which value to which."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))  # user name, "scheduler", "cli", ...
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))  # suggestion, product, match, user, ...
    entity_id: Mapped[str | None] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    details: Mapped[dict | None] = mapped_column(JSON)


class ElasticityEstimate(Base):
    """Price elasticity of demand per SKU (or pooled per category), written by analytics.

    ``scope`` is "sku" or "category"; a SKU with too little data of its own gets the category's
    estimate with ``pooled`` set. ``elasticity`` is None when there is not enough data.
    """

    __tablename__ = "elasticity_estimates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))  # the SKU or the category
    elasticity: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    n_days: Mapped[int] = mapped_column(Integer, default=0)
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_elasticity_scope_key"),)


class MatchRun(Base):
    """One run of store matching; the next run examines only offers new or changed since
    ``started_at`` of the last finished run (written by pricing.matching.engine)."""

    __tablename__ = "match_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    offers_examined: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    review: Mapped[int] = mapped_column(Integer, default=0)


class PageValidator(Base):
    """ETag / Last-Modified of a fetched page, so the next crawl asks "changed since?"."""

    __tablename__ = "page_validators"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What a 304 stands in for: the offer URLs the page showed and the links followed from it
    # ({"offers": [...], "links": [[url, kind], ...]}), so a crawl goes on past unchanged pages.
    page_info: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("site_id", "url", name="uq_page_validators_site_url"),)


class SchedulerLock(Base):
    """Who runs the scheduler: one row per lock name, naming the holding process.

    A second scheduler reads this row to say which process holds the lock; a holder whose
    heartbeat went stale (or whose pid is gone on this host) may be taken over.
    """

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(40))  # distinguishes holders across restarts
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertSent(Base):
    """The last time an alert was sent to a channel: de-duplicates alerts across cycles."""

    __tablename__ = "alerts_sent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64))  # the alerted state; a new state re-alerts
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("channel", "key", name="uq_alerts_sent_channel_key"),)


class CrawlBatch(Base):
    """One batch of one site's crawl in one cycle (scale-out, crawler/distributed/).

    The row is the batch's idempotency key: a task delivered twice (a worker died, a visibility
    timeout passed) claims it with a lease, and one that finds it ``done`` does nothing.
    ``attempts`` doubles as a fencing token, so a stale holder cannot overwrite a newer one.
    """

    __tablename__ = "crawl_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle: Mapped[str] = mapped_column(String(40))
    site: Mapped[str] = mapped_column(String(100))
    batch_no: Mapped[int] = mapped_column(Integer)
    batch_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued/running/done/failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returncode: Mapped[int | None] = mapped_column(Integer)
    run_ids: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("cycle", "site", "batch_no", name="uq_crawl_batches_cycle_site_batch"),
    )
