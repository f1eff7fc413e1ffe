"""Change-only price history: the one place crawl results enter the store.

An offer's history is a chain of distinct states. An observation equal to the offer's current
state only moves that state's ``valid_to`` (and the offer's ``last_seen``) forward; a different
one adds a row and becomes the current state, copied into ``offers.cur_*`` so readers never
scan history for "now". The previous row is not closed: between its ``valid_to`` and the new
row's ``valid_from`` nobody looked.

The writer reads the offers' ``cur_*`` columns once per call and classifies the records in
Python, comparing in storage form, one chunk of thousands at a time. Each classified chunk
goes to :mod:`pricing.store.bulk` as a handful of bulk statements (on PostgreSQL from a
worker thread while the next chunk is classified, so client and server work at once; there
the read rows also become Python objects only as the chunks need them).
On SQLite writers take turns (BEGIN IMMEDIATE). On PostgreSQL two concurrent writers to one
site may both create the same new URL; the second then fails on the (site, url) unique key
and its call rolls back whole: crawl each site from one process at a time.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from pricing.store.bulk import (
    OBSERVATIONS,
    OFFERS,
    Sink,
    as_utc,
    write_transaction,
)
from pricing.store.models import Availability, Site
from pricing.store.pipeline import Pipeline

SuspectCheck = Callable[[Decimal | None, Decimal | None], str | None]

_AVAILABILITY = frozenset(a.value for a in Availability)
_IDENTITY = ("title", "brand", "gtin", "mpn", "site_sku")


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_OFFER_INSERT = _columns(
    "id site_id url title brand gtin mpn site_sku first_seen last_seen identity_changed_at "
    "current_observation_id cur_price cur_regular_price cur_currency cur_availability "
    "cur_stock_quantity cur_shipping cur_review_count cur_rating cur_sold_count cur_rank "
    "cur_suspect cur_run_id"
)
_OFFER_CURRENT = _OFFER_INSERT[_OFFER_INSERT.index("current_observation_id") :]
_OBS_INSERT = _columns(
    "id offer_id valid_from valid_to price regular_price currency availability "
    "stock_quantity shipping review_count rating sold_count rank suspect run_id last_run_id "
    "suspect_reason price_source confidence"
)


@dataclass(slots=True)
class ObservationRecord:
    """One sighting of an offer, as the crawler pipeline hands it to the store."""

    url: str
    observed_at: datetime
    title: str | None = None
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    site_sku: str | None = None
    price: Decimal | None = None
    regular_price: Decimal | None = None
    shipping: Decimal | None = None
    currency: str | None = None
    availability: str = "unknown"
    stock_quantity: int | None = None
    review_count: int | None = None
    sold_count: int | None = None
    rank: int | None = None
    rating: float | None = None
    suspect: bool = False
    price_source: str | None = None
    confidence: float | None = None


@dataclass(slots=True)
class WriteResult:
    offers_created: int = 0
    rows_inserted: int = 0
    rows_extended: int = 0
    suspect: int = 0
    # Records older than what the store already knows of their offer: ignored.
    stale: int = 0


# What a call knows about one offer while it classifies records, all values in storage form.
# A plain list (not an object): a cycle builds 170,000 of them and object creation cost ~0.5 s.
_ID, _FIRST, _LAST, _OBS, _STATE, _IDENT, _FLAGS, _URL = range(8)
# Flags say what happened to the offer in the chunk being classified.
_NEW, _CHANGED, _IDENT_CHANGED, _EXTENDED = 1, 2, 4, 8
CHUNK = 20_000
_MONEY_MAX = 10**10  # NUMERIC(14, 4) holds ten integer digits
_INT_MAX = 2**31 - 1


class HistoryWriter:
    """Writes batches of observations as change-only history; see the module docstring.

    ``suspect_check(previous_price, new_price)`` is called whenever an offer's price differs
    from its current one (previous is None for a new offer); a returned reason stores the row
    flagged suspect, with the reason, instead of dropping it. A suspect price that holds on
    the next observation is stored again unflagged, since the check then sees no change.
    """

    def __init__(self, engine: Engine, *, suspect_check: SuspectCheck | None = None):
        self.engine = engine
        self.suspect_check = suspect_check

    # public API ---------------------------------------------------------------------------
    def write(
        self, site_id: int, run_id: int | None, records: Sequence[ObservationRecord]
    ) -> WriteResult:
        """Store ``records`` for the site in one transaction and say what happened."""
        result = WriteResult()
        if not records:
            return result
        if len({r.url for r in records}) != len(records):
            # The same page seen twice in one call: apply the sightings in time order.
            records = sorted(records, key=lambda r: as_utc(r.observed_at))
        gc_was_on = gc.isenabled()
        # A cycle holds ~10 objects per record alive at once; the cyclic collector would
        # rescan them all again and again (measured: half the CPU time). Nothing here cycles.
        gc.disable()
        try:
            with write_transaction(self.engine) as sink:
                sink.check_references(site_id, run_id)
                offers, scan = self._load(sink, site_id, records)
                with Pipeline(threaded=sink.threaded) as pipeline:
                    for chunk in _chunks(records):
                        if scan is not None and not _await_states(offers, scan, chunk):
                            scan = None
                        touched, new_obs, extended = self._classify(
                            sink, run_id, chunk, offers, result
                        )
                        rows = self._rows(site_id, run_id, touched)
                        obs_rows = [tuple(r) for r in new_obs.values()]
                        pipeline.submit(_flush, sink, *rows, obs_rows, list(extended.values()))
        finally:
            if gc_was_on:
                gc.enable()
        return result

    def touch(
        self, site_id: int, run_id: int | None, urls: Sequence[str], seen_at: datetime
    ) -> int:
        """A 304 said these pages are unchanged: extend their current state to ``seen_at``.

        Returns how many offers were extended (unknown URLs and offers already seen later
        are left alone).
        """
        if not urls:
            return 0
        with write_transaction(self.engine) as sink:
            sink.check_references(site_id, run_id)
            at = sink.ts(seen_at)
            rows = sink.load_offers(site_id, list(dict.fromkeys(urls)))
            due = [r for r in rows if r[3] is not None and r[2] <= at]
            sink.extend([(r[0], r[3], at, run_id) for r in due])
        return len(due)

    # steps --------------------------------------------------------------------------------
    def _load(
        self, sink: Sink, site_id: int, records: Sequence[ObservationRecord]
    ) -> tuple[dict[str, list], Iterator[list[tuple]] | None]:
        """The offers' states by URL, and batches of the site's rows still to add (or None)."""
        offers: dict[str, list] = {}
        existing = sink.count_offers(site_id)
        if existing == 0:
            return offers, None
        if len(records) * 4 >= existing:  # most of the site: one scan beats IN-lists
            scan = sink.scan_offers(site_id)
            if sink.threaded:  # the database works on early chunks while later rows convert
                return offers, scan
            for batch in scan:
                _add_states(offers, batch)
            return offers, None
        _add_states(offers, sink.load_offers(site_id, list(dict.fromkeys(r.url for r in records))))
        return offers, None

    def _classify(
        self,
        sink: Sink,
        run_id: int | None,
        records: Sequence[ObservationRecord],
        offers: dict[str, list],
        result: WriteResult,
    ) -> tuple[list[list], dict[int, list], dict[int, tuple]]:
        """Decide for every record of a chunk: new offer, new state or extension.

        Returns the offers the chunk touched, its new observation rows by id and
        the extensions of observations stored earlier. Writes nothing.
        """
        ts_of, money, flag = sink.ts, sink.money, sink.flag
        offer_ids = sink.ids(OFFERS, len(records))
        obs_ids = sink.ids(OBSERVATIONS, len(records))
        check = self.suspect_check
        touched: list[list] = []
        new_obs: dict[int, list] = {}  # observation id -> row (this chunk's inserts)
        # Stored observation id -> (offer id, observation id, new valid_to, last_run_id).
        extended: dict[int, tuple] = {}
        created = inserted = extended_n = stale = suspects = 0
        for rec in records:
            at = ts_of(rec.observed_at)
            availability = rec.availability
            if availability not in _AVAILABILITY:
                availability = "unknown"
            currency = rec.currency
            if currency is not None and len(currency) != 3:
                currency = None
            rating = rec.rating
            if rating is not None and math.isnan(rating):
                rating = None
            regular, shipping = rec.regular_price, rec.shipping
            suspect, reason = bool(rec.suspect), None
            url = rec.url
            offer = offers.get(url)
            p_db = money(rec.price)
            if p_db is not None and not -_MONEY_MAX < p_db < _MONEY_MAX:
                # A garbage number must not abort the whole batch on NUMERIC(14, 4).
                p_db, suspect, reason = None, True, f"price out of range: {rec.price}"
            if regular is not None and not -_MONEY_MAX < regular < _MONEY_MAX:
                regular = None
            if shipping is not None and not -_MONEY_MAX < shipping < _MONEY_MAX:
                shipping = None
            if check is not None and reason is None:
                prev = offer[_STATE][0] if offer is not None else None
                if offer is None or prev != p_db:
                    reason = check(_as_decimal(prev), _as_decimal(p_db))
                    suspect = suspect or reason is not None
            state = (
                p_db,
                None if regular is None else money(regular),
                currency,
                availability,
                _int(rec.stock_quantity),
                None if shipping is None else money(shipping),
                _int(rec.review_count),
                rating,
                _int(rec.sold_count),
                _int(rec.rank),
                flag(suspect),
            )
            identity = _identity(rec)
            if offer is None:
                offer = offers[url] = [offer_ids(), at, at, None, None, identity, _NEW, url]
                touched.append(offer)
                created += 1
            else:
                last = offer[_LAST]
                if at < last or (at == last and state != offer[_STATE]):
                    stale += 1
                    continue
                if not offer[_FLAGS]:
                    touched.append(offer)
                if identity != offer[_IDENT] and any(v is not None for v in identity):
                    merged = tuple(
                        o if n is None else n for n, o in zip(identity, offer[_IDENT], strict=True)
                    )
                    if merged != offer[_IDENT]:
                        offer[_IDENT] = merged
                        offer[_FLAGS] |= _IDENT_CHANGED
                if state == offer[_STATE]:
                    offer[_LAST] = at
                    offer[_FLAGS] |= _EXTENDED
                    pending = new_obs.get(offer[_OBS])
                    if pending is not None:
                        pending[3], pending[16] = at, run_id
                    else:
                        extended[offer[_OBS]] = (offer[_ID], offer[_OBS], at, run_id)
                    extended_n += 1
                    continue
            obs_id = obs_ids()
            new_obs[obs_id] = [
                obs_id, offer[_ID], at, at, *state, run_id, run_id, reason, rec.price_source,
                rec.confidence,
            ]  # fmt: skip
            offer[_OBS], offer[_STATE], offer[_LAST] = obs_id, state, at
            offer[_FLAGS] |= _CHANGED
            inserted += 1
            suspects += suspect
        result.offers_created += created
        result.rows_inserted += inserted
        result.rows_extended += extended_n
        result.stale += stale
        result.suspect += suspects
        return touched, new_obs, extended

    @staticmethod
    def _rows(site_id: int, run_id: int | None, touched: list[list]) -> tuple[list, list, list]:
        """The offers' rows for a classified chunk; resets their flags for the next chunk.

        Built on the caller's thread: the worker must never read the offers' lists while
        the next chunk is being classified into them. (Offers only seen unchanged need no
        row here: the extensions of their states carry them.)
        """
        offer_rows, current_rows, identity_rows = [], [], []
        for o in touched:
            flags, o[_FLAGS] = o[_FLAGS], 0
            if flags & _NEW:
                first = o[_FIRST]
                offer_rows.append(
                    (o[_ID], site_id, o[_URL], *o[_IDENT], first, o[_LAST], first, o[_OBS], *o[_STATE], run_id)
                )  # fmt: skip
                continue
            if flags & _CHANGED:
                current_rows.append((o[_ID], o[_OBS], *o[_STATE], run_id, o[_LAST]))
            if flags & _IDENT_CHANGED:
                identity_rows.append((o[_ID], *o[_IDENT], o[_LAST]))
        return offer_rows, current_rows, identity_rows


def _chunks(records: Sequence[ObservationRecord]) -> Iterator[Sequence[ObservationRecord]]:
    """CHUNK records at a time, the first a tenth of that: the database starts sooner."""
    first = max(1, CHUNK // 10)
    yield records[:first]
    for i in range(first, len(records), CHUNK):
        yield records[i : i + CHUNK]


def _add_states(offers: dict[str, list], rows: Sequence[tuple]) -> None:
    for r in rows:
        offers[r[1]] = [r[0], None, r[2], r[3], r[4:15], r[15:20], 0, r[1]]


def _await_states(
    offers: dict[str, list], scan: Iterator[list[tuple]], chunk: Sequence[ObservationRecord]
) -> bool:
    """Take rows from ``scan`` until every URL of ``chunk`` has its state; False when done.

    A URL still unknown once the scan is over is a new offer. A later batch never holds an
    offer this call already knows (and may have changed): it looked for every URL it met
    until found or the scan ended.
    """
    missing = [r.url for r in chunk if r.url not in offers]
    while missing:
        batch = next(scan, None)
        if batch is None:
            return False
        _add_states(offers, batch)
        missing = [url for url in missing if url not in offers]
    return True


def _flush(
    sink: Sink,
    offer_rows: list[tuple],
    current_rows: list[tuple],
    identity_rows: list[tuple],
    obs_rows: list[tuple],
    extend_rows: list[tuple],
) -> None:
    """Write one classified chunk: inserts first, then updates by id (on the worker thread).

    A state extended and then replaced in one chunk (the same page seen twice) sets its
    offer's ``last_seen`` twice: the current-state update comes after and has the later time.
    """
    sink.insert(OFFERS, _OFFER_INSERT, offer_rows)
    sink.insert(OBSERVATIONS, _OBS_INSERT, obs_rows)
    sink.extend(extend_rows)
    sink.update(OFFERS, (*_OFFER_CURRENT, "last_seen"), current_rows)
    sink.update(OFFERS, (*_IDENTITY, "identity_changed_at"), identity_rows)


def _identity(rec: ObservationRecord) -> tuple:
    """The offer's identity columns, cut to the column sizes (scraped text is unbounded)."""
    t, b, g, m, k = rec.title, rec.brand, rec.gtin, rec.mpn, rec.site_sku
    return (
        t if t is None or len(t) <= 500 else t[:500],
        b if b is None or len(b) <= 200 else b[:200],
        g if g is None or len(g) <= 14 else g[:14],
        m if m is None or len(m) <= 100 else m[:100],
        k if k is None or len(k) <= 100 else k[:100],
    )


def _int(value: int | None) -> int | None:
    """Counts outside a 32-bit INTEGER are scraping noise: stored as unknown."""
    return value if value is None or -_INT_MAX <= value <= _INT_MAX else None


def _as_decimal(value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def ensure_site(engine: Engine, name: str, base_url: str, currency: str | None = None) -> int:
    """The id of the site called ``name``, created on first use (safe under concurrency)."""
    sites = Site.__table__
    with engine.begin() as conn:
        found = conn.execute(select(sites.c.id).where(sites.c.name == name)).scalar()
        if found is not None:
            return found
    try:
        with engine.begin() as conn:
            return conn.execute(
                insert(sites)
                .values(name=name, base_url=base_url, currency=currency)
                .returning(sites.c.id)
            ).scalar_one()
    except IntegrityError:  # another process created it between our two statements
        with engine.begin() as conn:
            return conn.execute(select(sites.c.id).where(sites.c.name == name)).scalar_one()
