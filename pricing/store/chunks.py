"""How a write call walks its records, and what it knows about each offer meanwhile.

Records go in chunks of thousands: each is classified while the previous one is written. The
site's stored states arrive in batches (from :meth:`pricing.store.bulk.Sink.scan_offers`) and
are turned into Python objects only as the chunks need them. The ``_``-names are the layout
of an offer's list, shared with :mod:`pricing.store.history` alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pricing.store.bulk import CURRENT_VALUES, STATE_COLUMNS
from pricing.store.records import ObservationRecord

CHUNK = 20_000

# What a call knows about one offer while it classifies records, all values in storage form.
# A plain list (not an object): a cycle builds 170,000 of them and object creation cost ~0.5 s.
# _OBS is the current state's id, _VFROM its valid_from and _PROV (suspect reason, price
# source, confidence) its provenance: both only for a state created by this call.
_ID, _FIRST, _LAST, _OBS, _STATE, _IDENT, _FLAGS, _URL, _VFROM, _PROV = range(10)
# Flags say what happened to the offer in the chunk being classified. After _NEW or _CHANGED
# its current state is pending (not yet in the offers row); otherwise it is the stored one.
_NEW, _CHANGED, _IDENT_CHANGED, _EXTENDED = 1, 2, 4, 8
_PENDING = _NEW | _CHANGED


def chunks(records: Sequence[ObservationRecord]) -> Iterator[Sequence[ObservationRecord]]:
    """CHUNK records at a time, the first and the last a tenth of that.

    A small first chunk starts the database sooner; a small last one leaves it less to do
    once Python has nothing left to classify (the call waits for that part alone).
    """
    small, n = max(1, CHUNK // 10), len(records)
    yield records[:small]
    i = small
    while n - i > CHUNK:
        yield records[i : i + CHUNK]
        i += CHUNK
    if n - i > small:
        yield records[i : n - small]
        i = n - small
    if i < n:
        yield records[i:]


# Where a row of STATE_COLUMNS holds the current state's values and the offer's identity.
_VALUES_AT = STATE_COLUMNS.index(CURRENT_VALUES[0])
_VALUES = slice(_VALUES_AT, _VALUES_AT + len(CURRENT_VALUES))
_IDENTITY = slice(_VALUES.stop, len(STATE_COLUMNS))


def add_states(offers: dict[str, list], rows: Sequence[tuple]) -> None:
    """Stored offers (rows of STATE_COLUMNS: id, url, last_seen, current_observation_id,
    CURRENT_VALUES, identity) as the offer lists above."""
    values, ident = _VALUES, _IDENTITY
    for r in rows:
        offers[r[1]] = [r[0], None, r[2], r[3], r[values], r[ident], 0, r[1], None, None]


def await_states(
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
        add_states(offers, batch)
        missing = [url for url in missing if url not in offers]
    return True
