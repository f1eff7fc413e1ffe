"""What the rules engine reads: our products and the current state of every usable offer.

Two frames, loaded with a few set-based queries. 850k offers must load in about a second, so
the offer query returns compact columns (flags packed into one small integer, times as epoch
seconds, money cast to float in SQL) and numpy unpacks them: SQLAlchemy Row objects and
Decimals would cost more than the whole evaluation (measured). On SQLite the large results
come as Arrow columns through ADBC (arrow_columns.py), not through the driver's cursor, whose
one Python object per value was most of the read.

Only matches a manager confirmed or that matching accepted are read. Everything else an offer
can be wrong about (broken run, suspect, stale, foreign currency) is *flagged* here and
*filtered* by the evaluation, which counts each exclusion for the explanation.

An offer counts as coming from a broken run when ``offers.cur_run_id`` (the last run that
wrote or confirmed its current state) is broken: a healthy run vouches for the state it saw,
a broken run's sighting does not, even of an unchanged price.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Select,
    String,
    case,
    cast,
    func,
    select,
    type_coerce,
)

from pricing.rules.config import Rates
from pricing.rules.cursor_columns import columns, epoch, object_rows, typed_columns
from pricing.store.models import (
    CrawlRun,
    ElasticityEstimate,
    Match,
    MatchStatus,
    Offer,
    Product,
    RunHealth,
    Site,
)

USABLE_MATCHES = (MatchStatus.accepted.value, MatchStatus.confirmed.value)
F_SUBSTITUTE, F_SUSPECT, F_CONFIRMED, F_IN_STOCK, F_BROKEN = 1, 2, 4, 8, 16


def _floats(col) -> np.ndarray:
    """float64 with NaN for NULL: numpy maps None to NaN (and Decimal through float()) in C."""
    return np.asarray(col, dtype="float64")


def from_epoch(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(_floats(seconds), unit="s", utc=True).as_unit("us")


def _flag(cond, bit: int):
    return case((cond, bit), else_=0)


def load_products(conn: Connection, *, with_tags: bool = False) -> pd.DataFrame:
    """Our products, indexed by id, with their elasticity (SKU's own, else category's).

    Through the cursor: this runs while the offers are read by ADBC's child process
    (load_inputs), and a second child would only compete with that one for the two cores.
    """
    money = ("cost", "price", "floor", "ceiling", "map_price")
    stmt = select(
        Product.id, Product.sku, Product.category, Product.brand,
        *(cast(getattr(Product, m), Float) for m in money),
        Product.currency, _flag(Product.in_stock.is_(False), 1),
        epoch(Product.price_changed_at),
    ).order_by(Product.id)  # fmt: skip
    a = typed_columns(
        conn, stmt, ("int", "text", "text", "text", *["float"] * 5, "text", "int", "float")
    )
    df = pd.DataFrame(
        {"sku": a[1], "category": a[2], "brand": a[3]},
        index=pd.Index(a[0], name="product_id"),
    )
    for i, name in enumerate(money, start=4):
        df[name] = a[i]
    df["currency"] = a[9]
    df["in_stock"] = a[10] == 0
    df["price_changed_at"] = from_epoch(a[11])
    df["tags"] = _tags(conn).reindex(df.index) if with_tags else np.nan
    return _attach_elasticity(conn, df)


def _tags(conn: Connection) -> pd.Series:
    """Tag lists of the products that have any (JSON text on SQLite, parsed on PostgreSQL)."""
    stmt = select(Product.id, type_coerce(Product.tags, String)).where(Product.tags.is_not(None))
    if conn.dialect.name == "sqlite":  # JSON null and [] are text there: skip them in SQL
        stmt = stmt.where(type_coerce(Product.tags, String).not_in(["null", "[]"]))
    rows = [(pid, raw) for pid, raw in object_rows(conn, stmt) if raw not in ("null", "[]", "")]
    # SQLite's JSON texts parsed in one call, as one array: 14k json.loads calls were 0.05 s.
    texts = [raw for _, raw in rows if isinstance(raw, str)]
    parsed = iter(json.loads(f"[{','.join(texts)}]") if texts else ())
    found: dict[int, list] = {}
    for pid, raw in rows:  # JSON null and empty lists, the common case, are skipped above
        value = next(parsed) if isinstance(raw, str) else raw
        if value:
            found[int(pid)] = [str(t) for t in value] if isinstance(value, list) else [str(value)]
    return pd.Series(found, dtype=object)


def _attach_elasticity(conn: Connection, products: pd.DataFrame) -> pd.DataFrame:
    est = object_rows(
        conn,
        select(
            ElasticityEstimate.scope, ElasticityEstimate.key, ElasticityEstimate.elasticity
        ).where(ElasticityEstimate.elasticity.is_not(None)),
    )
    frame = pd.DataFrame(est, columns=["scope", "key", "elasticity"])
    by_sku = frame[frame["scope"] == "sku"].set_index("key")["elasticity"]
    by_cat = frame[frame["scope"] == "category"].set_index("key")["elasticity"]
    nan = pd.Series(np.nan, index=products.index)
    own = products["sku"].map(by_sku).astype("float64") if len(by_sku) else nan
    pooled = products["category"].map(by_cat).astype("float64") if len(by_cat) else nan
    products["elasticity"] = own.fillna(pooled)
    products["elasticity_scope"] = np.where(
        own.notna(), "sku", np.where(pooled.notna(), "category", "")
    )
    return products


def load_offers(conn: Connection, rates: Rates, products: pd.DataFrame) -> pd.DataFrame:
    """One row per usable match: the offer's current state in the product's currency, flagged."""
    return prepare_offers(raw_offers(conn), products, rates)


def raw_offers(conn: Connection, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """The usable matches' current offer states, unconverted.

    ``id_range``: only products with ``lo <= id < hi`` (lets two connections share the work).
    """
    sites = load_sites(conn)
    stmt = usable_offer_select(
        price=Offer.cur_price, currency=Offer.cur_currency, suspect=Offer.cur_suspect,
        availability=Offer.cur_availability, run_id=Offer.cur_run_id, seen=Offer.last_seen,
    )  # fmt: skip
    if id_range is not None:
        stmt = stmt.where(Match.product_id >= id_range[0], Match.product_id < id_range[1])
    return offer_frame(columns(conn, stmt, OFFER_KINDS), sites)


# What usable_offer_select returns: ids and flags (never NULL), price, currency, confidence,
# flags, epoch seconds.
OFFER_KINDS = ("int", "int", "int", "float", "text", "float", "int", "float")


def usable_offer_select(*, price, currency, suspect, availability, run_id, seen) -> Select:
    """Usable matches with one state of their offer, as :func:`offer_frame` unpacks them.

    The current-state reader passes the ``offers.cur_*`` columns; the backtest passes a
    history state's (and joins the view ``offer_states``), so both apply the same flags and
    broken-run rule.
    """
    broken = select(CrawlRun.id).where(CrawlRun.health == RunHealth.broken.value)
    flags = offer_flags(
        Match.substitute.is_(True), suspect.is_(True),
        Match.status == MatchStatus.confirmed.value, availability == "in_stock",
        run_id.in_(broken),
    )  # fmt: skip
    return (
        select(
            Match.product_id,
            Match.offer_id,
            Offer.site_id,
            cast(price, Float),
            currency,
            Match.confidence,
            flags,
            epoch(seen),
        )  # fmt: skip
        .join(Offer, Offer.id == Match.offer_id)
        .where(Match.status.in_(USABLE_MATCHES))
    )


def load_sites(conn: Connection) -> np.ndarray:
    return object_rows(conn, select(Site.id, Site.name, Site.currency).order_by(Site.id))


def offer_flags(substitute, suspect, confirmed, in_stock, broken):
    """The five offer flags packed into one small integer, computed by the database."""
    return (
        _flag(substitute, F_SUBSTITUTE) + _flag(suspect, F_SUSPECT) + _flag(confirmed, F_CONFIRMED)
        + _flag(in_stock, F_IN_STOCK) + _flag(broken, F_BROKEN)
    )  # fmt: skip


def offer_frame(a: np.ndarray | list[np.ndarray], sites: np.ndarray) -> pd.DataFrame:
    """Unpack (product_id, offer_id, site_id, price, currency, confidence, flags, seen):
    rows as a 2-D object array from the cursor, or a list of columns."""
    if isinstance(a, np.ndarray):
        a = list(a.T)
    site_ids = sites[:, 0].astype("int64")
    code = np.searchsorted(site_ids, a[2].astype("int64")) if len(site_ids) else a[2]
    # Sites and currencies are few: categoricals keep them as small integer codes.
    site = pd.Categorical.from_codes(code, categories=pd.Index(sites[:, 1]))
    own_cur = a[4]
    currency = np.where(pd.isna(own_cur), sites[:, 2][code] if len(sites) else None, own_cur)
    f = a[6].astype("int64")
    return pd.DataFrame(
        {
            "product_id": a[0].astype("int64"),
            "offer_id": a[1].astype("int64"),
            "site": site,
            "orig_price": _floats(a[3]),
            "orig_currency": pd.Categorical(currency),
            "confidence": _floats(a[5]),
            "substitute": (f & F_SUBSTITUTE) > 0,
            "suspect": (f & F_SUSPECT) > 0,
            "confirmed": (f & F_CONFIRMED) > 0,
            "in_stock": (f & F_IN_STOCK) > 0,
            "broken": (f & F_BROKEN) > 0,
            "data_at": from_epoch(a[7]),
        }
    )


def prepare_offers(df: pd.DataFrame, products: pd.DataFrame, rates: Rates) -> pd.DataFrame:
    """Currency conversion and ordering, shared by the current-state and the backtest readers.

    ``df`` has product_id, offer_id, site, orig_price, orig_currency, confidence, substitute,
    suspect, confirmed, in_stock, broken, data_at. Rows come back sorted by (product, price).
    """
    df = df[df["product_id"].isin(products.index).to_numpy()]
    df = df.assign(confidence=np.where(df["confirmed"], 1.0, df["confidence"].fillna(0.0)))
    # Our currency per offer row as a categorical: mapping it to rates then touches a few
    # categories, not 850k strings (0.15 s at bench scale).
    ours = pd.Categorical(products["currency"])
    pos = products.index.get_indexer(df["product_id"].to_numpy())
    to_cur = pd.Series(pd.Categorical.from_codes(ours.codes[pos], dtype=ours.dtype), index=df.index)
    price, ok = convert(df["orig_price"], df["orig_currency"], to_cur, rates)
    df = df.assign(price=price, convertible=ok)
    order = np.lexsort((price, df["product_id"].to_numpy()))
    return df.take(order).reset_index(drop=True)


def convert(
    amount: pd.Series, from_cur: pd.Series, to_cur: pd.Series, rates: Rates
) -> tuple[np.ndarray, np.ndarray]:
    """Convert amounts between currencies with the configured table; never guess.

    Same currency: unchanged. Different: both must be in the table, else NaN and not ok.
    A missing currency on the offer (and its site) counts as unconvertible too.
    """
    table = rates.to_base()
    src = from_cur.map(table).astype("float64").to_numpy()
    dst = to_cur.map(table).astype("float64").to_numpy()
    same = (
        from_cur.astype(object).to_numpy() == to_cur.astype(object).to_numpy()
    ) & from_cur.notna().to_numpy()
    ok = same | (~np.isnan(src) & ~np.isnan(dst))
    values = amount.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        converted = np.where(same, values, values * src / dst)
    return np.where(ok, converted, np.nan), ok


def load_inputs(
    engine: Engine,
    rates: Rates,
    *,
    with_tags: bool = False,
    workers: int = 2,
    min_split: int = 10_000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products and offers as of now.

    The offer query runs in other threads while our products load in this one: on SQLite
    one part through ADBC, whose statement steps without the GIL (1.24 s one after the other
    against 0.94 s side by side at bench scale, measured; two ADBC reads at once gained
    nothing); on PostgreSQL ``workers`` parts split by product id, each on its own connection,
    so the server works on them at once. Each connection reads its own snapshot; a write
    landing between them can only make data a moment newer.
    """
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(Match.product_id), func.max(Match.product_id))).one()
        parts = 1 if conn.dialect.name == "sqlite" else workers
        if workers <= 1 or lo is None or hi - lo < min_split:
            products = load_products(conn, with_tags=with_tags)
            return products, load_offers(conn, rates, products)

    def part(id_range: tuple[int, int]) -> pd.DataFrame:
        with engine.connect() as conn:
            return raw_offers(conn, id_range)

    cuts = [lo + (hi + 1 - lo) * i // parts for i in range(parts)] + [hi + 1]
    with ThreadPoolExecutor(parts) as pool:
        futures = [pool.submit(part, (cuts[i], cuts[i + 1])) for i in range(parts)]
        with engine.connect() as conn:  # meanwhile, in this thread
            products = load_products(conn, with_tags=with_tags)
        frames = [f.result() for f in futures]
    return products, prepare_offers(_concat(frames), products, rates)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Offer frames read in parts as one, as one read would have made it: parts that saw
    different currencies concatenate their categoricals to plain text, so make it one again."""
    if len(parts) == 1:
        return parts[0]
    offers = pd.concat(parts, ignore_index=True)
    if not isinstance(offers["orig_currency"].dtype, pd.CategoricalDtype):
        offers["orig_currency"] = pd.Categorical(offers["orig_currency"].to_numpy(dtype=object))
    return offers


def hours_since(times: pd.Series, now: datetime) -> np.ndarray:
    """Age in hours; NaN for missing times."""
    delta = pd.Timestamp(now) - pd.Series(times)
    return (delta.dt.total_seconds() / 3600.0).to_numpy(dtype="float64", na_value=np.nan)
