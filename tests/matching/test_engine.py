"""Store matching on SQLite and PostgreSQL: incremental, and managers' verdicts are final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from pricing.matching import run_matching, set_match_status
from pricing.store.models import Match, Offer, Product, Site

T0 = datetime(2026, 1, 1, tzinfo=UTC)

PRODUCTS = [
    ("A1", "Apple iPhone 15 128GB Black", "Apple", None),
    ("A2", "Apple iPhone 15 256GB Black", "Apple", None),
    ("S1", "Sony SoundMax SOS-1234 Wireless Headphones Over-Ear Black", "Sony", None),
    ("S2", "Sony SoundMax SOS-1244 Wireless Headphones Over-Ear Black", "Sony", None),
    ("G1", "Garmin Forerunner GAF-2100 Smartwatch 44mm Black", "Garmin", "4006381333931"),
]


def add_offers(engine, rows, seen):
    with engine.begin() as conn:
        site = conn.execute(select(Site.id)).scalar()
        if site is None:
            site = conn.execute(
                insert(Site).values(name="shop-01", base_url="http://127.0.0.2").returning(Site.id)
            ).scalar_one()
        for url, title, gtin in rows:
            conn.execute(
                insert(Offer).values(
                    site_id=site, url=url, title=title, gtin=gtin, first_seen=seen, last_seen=seen
                )
            )


def matches(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            select(Offer.url, Product.sku, Match.status, Match.method, Match.id, Match.evidence)
            .join(Offer, Offer.id == Match.offer_id)
            .join(Product, Product.id == Match.product_id)
        ).all()
    return {r.url: r for r in rows}


def test_incremental_matching_keeps_manager_verdicts(db_engine):
    with db_engine.begin() as conn:
        for sku, title, brand, gtin in PRODUCTS:
            conn.execute(
                insert(Product).values(sku=sku, title=title, brand=brand, gtin=gtin, created_at=T0)
            )
    add_offers(
        db_engine,
        [
            ("/p1", "iPhone 15 Smartphone 256 GB Black", None),
            ("/p2", "SONY Soundmax SOS1244 Wrls Hdphn Over-Ear (Blk)", None),
            ("/p3", "Smartwatch", "4006381333931"),
            ("/p4", "Apple iPhone 15 128GB Black Free Shipping", None),
        ],
        T0 + timedelta(hours=1),
    )
    first = run_matching(db_engine, now=T0 + timedelta(hours=2))
    assert first.full and first.offers_examined == 4
    m = matches(db_engine)
    assert (m["/p1"].sku, m["/p2"].sku, m["/p3"].sku, m["/p4"].sku) == ("A2", "S2", "G1", "A1")
    assert m["/p3"].method == "gtin" and m["/p3"].status == "accepted"
    assert "text" in m["/p2"].evidence

    # A manager rejects one match and confirms another.
    set_match_status(db_engine, m["/p4"].id, "rejected")
    set_match_status(db_engine, m["/p1"].id, "confirmed")

    # Nothing new: the next run examines nothing and changes nothing.
    second = run_matching(db_engine, now=T0 + timedelta(hours=3))
    assert not second.full and second.offers_examined == 0
    # A new offer arrives, and /p4 and /p1 change their titles.
    add_offers(
        db_engine,
        [("/p5", "Sony SoundMax SOS-1234 Headphones Over-Ear Black", None)],
        T0 + timedelta(hours=4),
    )
    with db_engine.begin() as conn:
        conn.execute(
            update(Offer)
            .where(Offer.url.in_(["/p4", "/p1"]))
            .values(identity_changed_at=T0 + timedelta(hours=4))
        )
    third = run_matching(db_engine, now=T0 + timedelta(hours=5))
    assert not third.full
    assert third.offers_examined == 2 and third.skipped_confirmed == 1  # /p5, /p4; /p1 kept
    m = matches(db_engine)
    assert m["/p5"].sku == "S1"
    assert m["/p4"].status == "rejected" and m["/p4"].sku == "A1"  # not re-proposed, not lost
    assert m["/p1"].status == "confirmed" and m["/p1"].sku == "A2"
    with db_engine.connect() as conn:
        assert conn.execute(select(Match.id)).all().__len__() == 5


def test_full_run_and_bad_verdicts(db_engine):
    with db_engine.begin() as conn:
        conn.execute(
            insert(Product).values(sku="S1", title=PRODUCTS[2][1], brand="Sony", created_at=T0)
        )
    add_offers(db_engine, [("/q", PRODUCTS[2][1], None)], T0)
    run_matching(db_engine, now=T0 + timedelta(hours=1))
    again = run_matching(db_engine, full=True, now=T0 + timedelta(hours=2))
    assert again.full and again.offers_examined == 1 and again.accepted == 1
    m = matches(db_engine)
    import pytest

    with pytest.raises(ValueError):
        set_match_status(db_engine, m["/q"].id, "accepted")
    with pytest.raises(LookupError):
        set_match_status(db_engine, 999999, "confirmed")


def test_a_shops_house_style_is_learnt_from_all_its_titles(db_engine):
    """The shop appends "complete package" to every title, our catalog "(Jewel Case)": neither
    says anything about the product. Learnt from all of the shop's titles, so a new offer
    matched alone in an incremental run is judged the same way."""
    games = ["alpha", "beta", "gamma", "delta", "epsilon"]
    with db_engine.begin() as conn:
        for i, w in enumerate(games):
            conn.execute(
                insert(Product).values(sku=f"G{i}", title=f"Game {w} (Jewel Case)", created_at=T0)
            )
    add_offers(
        db_engine,
        [(f"/{w}", f"Game {w} complete package", None) for w in games[:4] + ["zeta"]],
        T0 + timedelta(hours=1),
    )
    first = run_matching(db_engine, now=T0 + timedelta(hours=2))
    assert first.offers_examined == 5
    m = matches(db_engine)
    assert {m[f"/{w}"].sku for w in games[:4]} == {"G0", "G1", "G2", "G3"}
    assert all(m[f"/{w}"].evidence["text"] == 1.0 for w in games[:4])
    assert "/zeta" not in m

    add_offers(
        db_engine, [("/epsilon", "Game epsilon complete package", None)], T0 + timedelta(hours=3)
    )
    second = run_matching(db_engine, now=T0 + timedelta(hours=4))
    assert not second.full and second.offers_examined == 1
    m = matches(db_engine)
    assert m["/epsilon"].sku == "G4" and m["/epsilon"].evidence["text"] == 1.0
