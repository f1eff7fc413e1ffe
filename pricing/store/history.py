"""Change-only, system-versioned price history: the one place crawl results enter the store.

An offer's history is a chain of distinct states. The current one lives only in the offer's
row (``offers.cur_*``, valid from ``cur_valid_from`` to ``last_seen``), so readers never scan
history for "now" and a sighting equal to it updates that one row: ``last_seen`` and the run
that last confirmed it. A different sighting replaces it: the old state is archived into
``observations`` (copied from the offers row with one INSERT .. SELECT, before the row is
overwritten) and the new one takes its place. An ``observations`` row is written once and
never updated; the view ``offer_states`` (:mod:`pricing.store.views`) shows both as one
history. States are not closed: between one's ``valid_to`` and the next one's ``valid_from``
nobody looked. A state keeps one id for its whole life: ``current_observation_id`` while
current, its ``observations.id`` once archived.

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
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from pricing.store import chunks
from pricing.store.bulk import (
    NEW_OFFER,
    OBSERVATIONS,
    OFFERS,
    Sink,
    as_utc,
    write_transaction,
)
from pricing.store.chunks import (
    _CHANGED,
    _EXTENDED,
    _FIRST,
    _FLAGS,
    _ID,
    _IDENT,
    _IDENT_CHANGED,
    _LAST,
    _NEW,
    _OBS,
    _PENDING,
    _PROV,
    _STATE,
    _URL,
    _VFROM,
    add_states,
    await_states,
)
from pricing.store.models import Availability, Site
from pricing.store.pipeline import Pipeline
from pricing.store.records import (
    INT_MAX,
    MONEY_MAX,
    ObservationRecord,
    WriteResult,
    as_decimal,
    identity,
)

__all__ = ["HistoryWriter", "ObservationRecord", "WriteResult", "ensure_site"]

SuspectCheck = Callable[[Decimal | None, Decimal | None], str | None]

_AVAILABILITY = frozenset(a.value for a in Availability)
_IDENTITY = ("title", "brand", "gtin", "mpn", "site_sku")


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# A changed offer's new current state (and when it was last seen).
_OFFER_CURRENT = (
    *NEW_OFFER[NEW_OFFER.index("current_observation_id") : NEW_OFFER.index("cur_valid_from")],
    "cur_valid_from", "cur_first_run_id", "cur_run_id", "cur_suspect_reason", "cur_price_source",
    "cur_confidence", "last_seen",
)  # fmt: skip
_OBS_INSERT = _columns(
    "id offer_id valid_from valid_to price regular_price currency availability "
    "stock_quantity shipping review_count rating sold_count rank suspect run_id last_run_id "
    "suspect_reason price_source confidence"
)


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
                    for chunk in chunks.chunks(records):
                        if scan is not None and not await_states(offers, scan, chunk):
                            scan = None
                        chunk_rows = self._classify(sink, run_id, chunk, offers, result)
                        pipeline.submit(_flush, sink, *self._rows(site_id, run_id, *chunk_rows))
        finally:
            if gc_was_on:
                gc.enable()
        return result

    def touch(
        self, site_id: int, run_id: int | None, urls: Sequence[str], seen_at: datetime
    ) -> int:
        """A 304 said these pages are unchanged: extend their current state to ``seen_at``.

        Returns how many offers were extended (unknown URLs, offers without a state and
        offers already seen later are left alone).
        """
        if not urls:
            return 0
        with write_transaction(self.engine) as sink:
            sink.check_references(site_id, run_id)
            at = sink.ts(seen_at)
            rows = sink.load_offers(site_id, list(dict.fromkeys(urls)))
            due = [r for r in rows if r[3] is not None and r[2] <= at]
            sink.extend([(r[0], at) for r in due], run_id)
        return len(due)

    # steps --------------------------------------------------------------------------------
    def _load(
        self, sink: Sink, site_id: int, records: Sequence[ObservationRecord]
    ) -> tuple[dict[str, list], Iterator[list[tuple]] | None]:
        """The offers' states by URL, and batches of the site's rows still to add (or None)."""
        offers: dict[str, list] = {}
        # Up to 4 offers of the site per record: one scan beats IN-lists (a bigger site, and
        # the scan stops at that many, is read by URL).
        scan = sink.scan_offers(site_id, limit=len(records) * 4)
        if scan is None:
            urls = list(dict.fromkeys(r.url for r in records))
            add_states(offers, sink.load_offers(site_id, urls))
            return offers, None
        if sink.threaded:  # the database works on early chunks while later rows convert
            return offers, scan
        for batch in scan:
            add_states(offers, batch)
        return offers, None

    def _classify(
        self,
        sink: Sink,
        run_id: int | None,
        records: Sequence[ObservationRecord],
        offers: dict[str, list],
        result: WriteResult,
    ) -> tuple[list[list], list[tuple], list[int], list[tuple]]:
        """Decide for every record of a chunk: new offer, new state or extension.

        Returns the offers the chunk touched; extensions of stored states that are then
        replaced in the chunk (offer id, seen at: their archived ``valid_to`` must come
        first); the offers whose stored state the chunk replaced (to archive); and the rows
        of states both created and replaced in the chunk. Writes nothing.
        """
        ts_of, money, isnan, get = sink.ts, sink.money, math.isnan, offers.get
        flag_of = (sink.flag(False), sink.flag(True))
        offer_ids = sink.ids(OFFERS, len(records))
        obs_ids = sink.ids(OBSERVATIONS, len(records))
        check = self.suspect_check
        touched: list[list] = []
        early_extend: list[tuple] = []
        archive: list[int] = []
        replaced: list[tuple] = []
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
            if rating is not None and isnan(rating):
                rating = None
            regular, shipping = rec.regular_price, rec.shipping
            suspect, reason = bool(rec.suspect), None
            url = rec.url
            offer = get(url)
            p_db = money(rec.price)
            if p_db is not None and not -MONEY_MAX < p_db < MONEY_MAX:
                # A garbage number must not abort the whole batch on NUMERIC(14, 4).
                p_db, suspect, reason = None, True, f"price out of range: {rec.price}"
            if regular is not None:
                regular = money(regular) if -MONEY_MAX < regular < MONEY_MAX else None
            if shipping is not None:
                shipping = money(shipping) if -MONEY_MAX < shipping < MONEY_MAX else None
            if check is not None and reason is None:
                prev = offer[_STATE][0] if offer is not None and offer[_STATE] else None
                if offer is None or prev != p_db:
                    reason = check(as_decimal(prev), as_decimal(p_db))
                    suspect = suspect or reason is not None
            # Counts outside a 32-bit INTEGER are scraping noise: stored as unknown (inline,
            # not records.int32: four calls a record were measurable).
            stock, reviews, sold, rank = (
                rec.stock_quantity,
                rec.review_count,
                rec.sold_count,
                rec.rank,
            )
            if stock is not None and not -INT_MAX <= stock <= INT_MAX:
                stock = None
            if reviews is not None and not -INT_MAX <= reviews <= INT_MAX:
                reviews = None
            if sold is not None and not -INT_MAX <= sold <= INT_MAX:
                sold = None
            if rank is not None and not -INT_MAX <= rank <= INT_MAX:
                rank = None
            state = (
                p_db, regular, currency, availability, stock, shipping, reviews, rating, sold,
                rank, flag_of[suspect],
            )  # fmt: skip
            if offer is None:
                offers[url] = offer = [
                    offer_ids(), at, at, obs_ids(), state, identity(rec), _NEW, url, at,
                    (reason, rec.price_source, rec.confidence),
                ]  # fmt: skip
                touched.append(offer)
                created += 1
                inserted += 1
                suspects += suspect
                continue
            last, flags = offer[_LAST], offer[_FLAGS]
            # (An offer without any state, made outside the writer, has nothing newer.)
            if (at < last or (at == last and state != offer[_STATE])) and offer[_OBS] is not None:
                stale += 1
                continue
            if not flags:
                touched.append(offer)
            # Stored identities are cut to size already: equal raw values need no cutting.
            ident = (rec.title, rec.brand, rec.gtin, rec.mpn, rec.site_sku)
            if ident != offer[_IDENT] and any(v is not None for v in ident):
                ident = identity(rec)
                merged = tuple(
                    o if n is None else n for n, o in zip(ident, offer[_IDENT], strict=True)
                )
                if merged != offer[_IDENT]:
                    offer[_IDENT] = merged
                    flags |= _IDENT_CHANGED
            if state == offer[_STATE]:
                offer[_LAST] = at
                offer[_FLAGS] = flags if flags & _PENDING else flags | _EXTENDED
                extended_n += 1
                continue
            if flags & _PENDING:  # created earlier in this chunk: replaced before it was stored
                replaced.append(
                    (offer[_OBS], offer[_ID], offer[_VFROM], last, *offer[_STATE], run_id, run_id, *offer[_PROV])
                )  # fmt: skip
            elif offer[_OBS] is not None:  # the stored state: archived from its offers row
                if flags & _EXTENDED:
                    early_extend.append((offer[_ID], last))
                archive.append(offer[_ID])
            offer[_OBS], offer[_STATE], offer[_LAST], offer[_VFROM] = obs_ids(), state, at, at
            offer[_PROV] = (reason, rec.price_source, rec.confidence)
            offer[_FLAGS] = flags | _CHANGED
            inserted += 1
            suspects += suspect
        result.offers_created += created
        result.rows_inserted += inserted
        result.rows_extended += extended_n
        result.stale += stale
        result.suspect += suspects
        return touched, early_extend, archive, replaced

    @staticmethod
    def _rows(
        site_id: int,
        run_id: int | None,
        touched: list[list],
        early_extend: list[tuple],
        archive: list[int],
        replaced: list[tuple],
    ) -> tuple:
        """A classified chunk as rows for :func:`_flush`; resets the offers' flags.

        Built on the caller's thread: the worker must never read the offers' lists while
        the next chunk is being classified into them. Every state created in this call was
        first and last seen by ``run_id``.
        """
        offer_rows, current_rows, identity_rows = [], [], []
        extend_rows = early_extend
        for o in touched:
            flags, o[_FLAGS] = o[_FLAGS], 0
            if flags & _NEW:
                offer_rows.append(
                    (o[_ID], o[_URL], *o[_IDENT], o[_FIRST], o[_LAST], o[_OBS], *o[_STATE], o[_VFROM], *o[_PROV])
                )  # fmt: skip
                continue
            if flags & _CHANGED:
                current_rows.append(
                    (o[_ID], o[_OBS], *o[_STATE], o[_VFROM], run_id, run_id, *o[_PROV], o[_LAST])
                )  # fmt: skip
            elif flags & _EXTENDED:
                extend_rows.append((o[_ID], o[_LAST]))
            if flags & _IDENT_CHANGED:
                identity_rows.append((o[_ID], *o[_IDENT], o[_LAST]))
        return (
            site_id,
            run_id,
            offer_rows,
            extend_rows,
            archive,
            replaced,
            current_rows,
            identity_rows,
        )


def _flush(
    sink: Sink,
    site_id: int,
    run_id: int | None,
    offer_rows: list[tuple],
    extend_rows: list[tuple],
    archive: list[int],
    replaced_rows: list[tuple],
    current_rows: list[tuple],
    identity_rows: list[tuple],
) -> None:
    """Write one classified chunk, in an order that keeps each step's input right.

    Extensions come before the archive, which copies ``last_seen`` as the archived state's
    ``valid_to``; the archive comes before (on PostgreSQL: in the same statement as) the
    current-state update that overwrites the row it copies from. States both created and
    replaced in the chunk need neither: they go straight into history.
    """
    sink.insert_offers(site_id, run_id, offer_rows)
    sink.extend(extend_rows, run_id)
    sink.insert(OBSERVATIONS, _OBS_INSERT, replaced_rows)
    sink.replace_current(archive, _OFFER_CURRENT, current_rows)
    sink.update(OFFERS, (*_IDENTITY, "identity_changed_at"), identity_rows)


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
