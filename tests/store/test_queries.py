"""The current state of many offers, for pricing, comes from offers.cur_* as a DataFrame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.models import CrawlRun
from pricing.store.queries import current_offers

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def test_current_offers_frame(db_engine):
    site = ensure_site(db_engine, "shop", "https://shop.example")
    with db_engine.begin() as conn:
        good, broken = (
            conn.execute(
                insert(CrawlRun).values(site_id=site, health=h).returning(CrawlRun.id)
            ).scalar_one()
            for h in ("healthy", "broken")
        )
    writer = HistoryWriter(db_engine)
    recs = [
        ObservationRecord(
            url=f"https://shop.example/p/{i}",
            observed_at=T0,
            price=Decimal(f"{10 + i}.50"),
            currency="EUR",
            availability="in_stock",
            review_count=i,
        )
        for i in range(4)
    ]
    writer.write(site, good, recs)
    recs[1].price, recs[1].observed_at = Decimal("1.00"), T0 + timedelta(hours=1)
    writer.write(site, good, [recs[1]])
    recs[3].price, recs[3].observed_at = Decimal("0.01"), T0 + timedelta(hours=1)
    writer.write(site, broken, [recs[3]])

    frame = current_offers(db_engine)
    assert list(frame["url"]) == [f"https://shop.example/p/{i}" for i in range(3)]  # 3: broken
    assert list(frame["price"]) == [10.5, 1.0, 12.5]
    assert frame["price"].dtype == "float64" and frame["suspect"].dtype == bool
    assert list(frame["review_count"]) == [0, 1, 2]
    assert frame.loc[1, "last_seen"] == T0 + timedelta(hours=1)

    everything = current_offers(db_engine, exclude_broken=False)
    assert everything.loc[3, "price"] == 0.01 and everything.loc[3, "run_health"] == "broken"
    some = current_offers(db_engine, offer_ids=[int(frame.loc[2, "offer_id"])])
    assert list(some["price"]) == [12.5]
    assert current_offers(db_engine, offer_ids=[]).empty
    assert current_offers(db_engine, site_ids=[site + 1]).empty
