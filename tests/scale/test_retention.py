"""History retention: monthly partitions dropped on PostgreSQL, old closed rows on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.models import Offer
from pricing.store.partitions import (
    apply_retention,
    create_month_partitions,
    is_partitioned,
    month_partitions,
)
from pricing.store.queries import offer_state_at
from pricing.store.views import OfferState

NOW = datetime(2026, 11, 15, tzinfo=UTC)
CUTOFF = datetime(2026, 9, 1, tzinfo=UTC)  # --keep-months 2 on NOW
A, B, C = (f"https://shop.example/p/{k}" for k in "abc")


def _write(writer, site_id, url, price, when) -> None:
    record = ObservationRecord(url=url, observed_at=when, price=Decimal(price), currency="EUR")
    writer.write(site_id, None, [record])


def _history(engine) -> dict[str, list[tuple[Decimal, datetime, datetime]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Offer.url, OfferState.price, OfferState.valid_from, OfferState.valid_to)
            .join(Offer, Offer.id == OfferState.offer_id)
            .order_by(Offer.url, OfferState.valid_from)
        ).all()
    out: dict = {}
    for url, price, start, end in rows:
        out.setdefault(url, []).append((price, start.astimezone(UTC), end.astimezone(UTC)))
    return out


def test_retention_keeps_what_is_still_true(db_engine):
    with db_engine.connect() as conn:
        partitioned = is_partitioned(conn)
    if partitioned:  # months back to the oldest row, as a long-running store would have
        with db_engine.begin() as conn:
            create_month_partitions(conn, since=datetime(2025, 6, 1, tzinfo=UTC), now=NOW)
    site = ensure_site(db_engine, "shop", "https://shop.example", "EUR")
    writer = HistoryWriter(db_engine)
    _write(writer, site, B, "20", datetime(2025, 6, 1, tzinfo=UTC))  # gone since: current, old
    _write(writer, site, A, "10", datetime(2026, 1, 10, tzinfo=UTC))  # closed before the cutoff
    _write(writer, site, A, "11", datetime(2026, 3, 5, tzinfo=UTC))
    _write(writer, site, A, "11", datetime(2026, 10, 10, tzinfo=UTC))  # still true at cutoff
    _write(writer, site, C, "30", datetime(2026, 10, 1, tzinfo=UTC))
    _write(writer, site, A, "12", datetime(2026, 11, 1, tzinfo=UTC))
    with db_engine.connect() as conn:
        offer_a = conn.scalar(select(Offer.id).where(Offer.url == A))
    mid_september = datetime(2026, 9, 15, tzinfo=UTC)
    assert offer_state_at(db_engine, offer_a, mid_september).price == Decimal("11")

    dry = apply_retention(db_engine, 2, now=NOW, dry_run=True)
    assert dry.rows_deleted == 1 and len(_history(db_engine)[A]) == 3  # nothing changed
    report = apply_retention(db_engine, 2, now=NOW)

    assert report.cutoff == CUTOFF and report.rows_deleted == 1
    history = _history(db_engine)
    assert [p for p, _, _ in history[A]] == [Decimal("11"), Decimal("12")]
    assert [p for p, _, _ in history[B]] == [Decimal("20")]  # the current state stays
    assert [p for p, _, _ in history[C]] == [Decimal("30")]
    assert offer_state_at(db_engine, offer_a, mid_september).price == Decimal("11")
    if partitioned:
        assert "observations_y2026m08" in report.partitions_dropped
        assert len(report.partitions_dropped) == 15  # 2025-06 .. 2026-08
        with db_engine.connect() as conn:
            left = month_partitions(conn)
        assert min(left.values()) == CUTOFF
        assert history[A][0][1] == CUTOFF  # clipped: the state is known from the cutoff on
    else:
        assert history[A][0][1] == datetime(2026, 3, 5, tzinfo=UTC)
