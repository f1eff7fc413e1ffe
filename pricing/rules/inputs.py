"""What the rules engine reads: our products and the competitor offers matched to them.

Two frames, loaded in a handful of set-based queries (no ORM objects: 850k offers must load
in about a second). Money arrives as float64 (cast in SQL: Decimal objects would cost more
than the whole evaluation), times as UTC ``datetime64``.

Only matches a manager confirmed or that matching accepted are read; everything else an offer
can be wrong about (broken run, suspect, stale, foreign currency) is *flagged* here and
*filtered* by the evaluation, which counts each exclusion for the explanation.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, String, cast, func, select, type_coerce

from pricing.rules.config import Rates
from pricing.store.models import (
    CrawlRun,
    ElasticityEstimate,
    Match,
    MatchStatus,
    Observation,
    Offer,
    Product,
    RunHealth,
    Site,
)

USABLE_MATCHES = (MatchStatus.accepted.value, MatchStatus.confirmed.value)


def to_utc(values: pd.Series | list) -> pd.Series:
    """Times from either driver (SQLite strings, PostgreSQL datetimes) as UTC datetime64."""
    s = pd.Series(values, dtype=object)
    if s.empty:
        return pd.Series(s, dtype="datetime64[us, UTC]")
    return pd.to_datetime(s, utc=True, format="ISO8601").astype("datetime64[us, UTC]")


def _fetch(conn: Connection, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _money(col):
    return cast(col, Float)


def _time(col):
    """Skip SQLAlchemy's per-row datetime parsing; pandas parses the column at once."""
    return type_coerce(col, String)


def load_products(conn: Connection, *, with_tags: bool = False) -> pd.DataFrame:
    """Our products, indexed by id, with their elasticity (SKU's own, else category's)."""
    cols = [
        Product.id.label("product_id"),
        Product.sku,
        Product.category,
        Product.brand,
        _money(Product.cost).label("cost"),
        _money(Product.price).label("price"),
        _money(Product.floor).label("floor"),
        _money(Product.ceiling).label("ceiling"),
        _money(Product.map_price).label("map_price"),
        Product.currency,
        Product.in_stock,
        _time(Product.price_changed_at).label("price_changed_at"),
    ]
    if with_tags:
        cols.append(type_coerce(Product.tags, String).label("tags"))
    df = _fetch(conn, select(*cols).order_by(Product.id))
    for name in ("cost", "price", "floor", "ceiling", "map_price"):
        df[name] = df[name].astype("float64")
    df["in_stock"] = df["in_stock"].fillna(True).astype(bool)
    df["price_changed_at"] = to_utc(df["price_changed_at"])
    if with_tags:
        df["tags"] = [
            (json.loads(t) if isinstance(t, str) else t) or [] if t is not None else []
            for t in df["tags"]
        ]
    df = df.set_index("product_id")
    return _attach_elasticity(conn, df)


def _attach_elasticity(conn: Connection, products: pd.DataFrame) -> pd.DataFrame:
    est = _fetch(
        conn,
        select(ElasticityEstimate.scope, ElasticityEstimate.key, ElasticityEstimate.elasticity)
        .where(ElasticityEstimate.elasticity.is_not(None)),
    )
    by_sku = est[est["scope"] == "sku"].set_index("key")["elasticity"]
    by_cat = est[est["scope"] == "category"].set_index("key")["elasticity"]
    own = products["sku"].map(by_sku).astype("float64")
    pooled = products["category"].map(by_cat).astype("float64")
    products["elasticity"] = own.fillna(pooled)
    products["elasticity_scope"] = np.where(own.notna(), "sku", np.where(pooled.notna(), "category", ""))
    return products


def load_offers(conn: Connection, rates: Rates, products: pd.DataFrame) -> pd.DataFrame:
    """One row per usable match: offer state in the product's currency, plus flags.

    ``broken``: the offer's current state came from (or was last confirmed by) a broken run.
    ``convertible``: False when the offer's currency cannot be converted to the product's.
    """
    broken_runs = set(
        conn.execute(select(CrawlRun.id).where(CrawlRun.health == RunHealth.broken.value)).scalars()
    )
    stmt = (
        select(
            Match.product_id,
            Match.offer_id,
            Match.confidence,
            Match.substitute,
            Match.status.label("match_status"),
            Site.name.label("site"),
            _money(Offer.cur_price).label("orig_price"),
            func.coalesce(Offer.cur_currency, Site.currency).label("orig_currency"),
            Offer.cur_availability.label("availability"),
            Offer.cur_suspect.label("suspect"),
            Offer.cur_run_id.label("run_id"),
            Observation.run_id.label("obs_run_id"),
            _time(Offer.last_seen).label("data_at"),
        )
        .select_from(Match)
        .join(Offer, Offer.id == Match.offer_id)
        .join(Site, Site.id == Offer.site_id)
        .outerjoin(Observation, Observation.id == Offer.current_observation_id)
        .where(Match.status.in_(USABLE_MATCHES))
    )
    df = _fetch(conn, stmt)
    return prepare_offers(df, products, rates, broken_runs)


def prepare_offers(
    df: pd.DataFrame, products: pd.DataFrame, rates: Rates, broken_runs: set[int]
) -> pd.DataFrame:
    """Flags and currency conversion on raw offer rows (shared by the backtest's replay)."""
    df = df[df["product_id"].isin(products.index)].copy()
    df["orig_price"] = df["orig_price"].astype("float64")
    df["confidence"] = df["confidence"].astype("float64").fillna(0.0)
    df.loc[df["match_status"] == MatchStatus.confirmed.value, "confidence"] = 1.0
    df["substitute"] = df["substitute"].fillna(False).astype(bool)
    df["suspect"] = df["suspect"].fillna(False).astype(bool)
    df["in_stock"] = (df["availability"] == "in_stock").to_numpy()
    runs = np.array(sorted(broken_runs), dtype="int64")
    df["broken"] = df["run_id"].isin(runs).to_numpy() | df["obs_run_id"].isin(runs).to_numpy()
    if not pd.api.types.is_datetime64_any_dtype(df["data_at"]):
        df["data_at"] = to_utc(df["data_at"])
    price, ok = convert(
        df["orig_price"], df["orig_currency"], df["product_id"].map(products["currency"]), rates
    )
    df["price"], df["convertible"] = price, ok
    return df.sort_values(["product_id", "price"], kind="stable").reset_index(drop=True)


def convert(
    amount: pd.Series, from_cur: pd.Series, to_cur: pd.Series, rates: Rates
) -> tuple[np.ndarray, np.ndarray]:
    """Convert amounts between currencies with the configured table; never guess.

    Same currency: unchanged. Different: both must be in the table, else NaN and not ok.
    A missing currency on the offer counts as unconvertible too.
    """
    table = rates.to_base()
    src = from_cur.map(table).astype("float64").to_numpy()
    dst = to_cur.map(table).astype("float64").to_numpy()
    same = (from_cur.to_numpy() == to_cur.to_numpy()) & from_cur.notna().to_numpy()
    ok = same | (~np.isnan(src) & ~np.isnan(dst))
    values = amount.to_numpy(dtype="float64")
    converted = np.where(same, values, values * src / dst)
    return np.where(ok, converted, np.nan), ok


def load_inputs(
    engine: Engine, rates: Rates, *, with_tags: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products and offers as of now, read in one transaction (a consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        products = load_products(conn, with_tags=with_tags)
        offers = load_offers(conn, rates, products)
    return products, offers


def hours_since(times: pd.Series, now: datetime) -> np.ndarray:
    """Age in hours; NaN for missing times."""
    delta = pd.Timestamp(now) - times
    return (delta.dt.total_seconds() / 3600.0).to_numpy(dtype="float64", na_value=np.nan)
