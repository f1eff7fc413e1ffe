"""A small, hand-made store for the review app's tests (the rules engine is not involved: its
suggestions are written here directly, as its tables define them)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from pricing.review.auth import hash_password
from pricing.store.models import (
    ClickDaily,
    CrawlRun,
    Match,
    Observation,
    Offer,
    Product,
    Site,
    Suggestion,
    User,
)
from tests.history_states import promote_latest_states

HOSTILE_TITLE = '<script>alert("pwned")</script><img src=x onerror=alert(1)> Mega Drill'
HOSTILE_URL = "javascript:alert(document.cookie)"
PASSWORD = "correct-horse-battery"


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Store:
    engine: Engine
    now: datetime
    # suggestion ids by name
    s: dict[str, int]
    product_ids: dict[str, int]
    match_ids: dict[str, int]


def _product(i: int, category: str, brand: str, price: str, cost: str, **kw) -> dict:
    return {
        "id": i,
        "sku": f"SKU-{i:03d}",
        "title": f"{brand} {category} item {i}",
        "brand": brand,
        "category": category,
        "price": Decimal(price),
        "cost": Decimal(cost),
        "currency": "EUR",
        "floor": Decimal(cost),
        "ceiling": Decimal(price) * 2,
        "map_price": None,
        **kw,
    }


def build_store(engine: Engine) -> Store:
    """Three users, 12 products, 12 suggestions, two sites with history, runs and clicks."""
    now = datetime.now(UTC).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(
            insert(Site),
            [
                {"id": 1, "name": "shop-01", "base_url": "http://127.0.0.2:1"},
                {"id": 2, "name": "shop-02", "base_url": "http://127.0.0.3:1"},
                {"id": 3, "name": "shop-03", "base_url": "http://127.0.0.4:1"},
            ],
        )
        products = [
            _product(1, "tools", "Bosch", "100.00", "60.00", map_price=Decimal("80.00")),
            _product(2, "tools", "Bosch", "50.00", "30.00"),
            _product(3, "tools", "Makita", "80.00", "50.00"),
            _product(4, "tools", "Makita", "120.00", "70.00"),
            _product(5, "garden", "Gardena", "30.00", "18.00"),
            _product(6, "garden", "Gardena", "45.00", "25.00"),
            _product(7, "garden", "Bosch", "200.00", "150.00"),
            _product(8, "kitchen", "Tefal", "60.00", "35.00"),
            _product(9, "kitchen", "Tefal", "25.00", "15.00"),
            _product(10, "kitchen", "Bosch", "300.00", "200.00"),
            _product(11, "audio", "Sony", "150.00", "100.00"),
            _product(12, "audio", "Sony", "90.00", "60.00"),
        ]
        conn.execute(insert(Product), products)
        # name: (product, strategy, proposed, status, competitor, data age hours)
        spec = {
            "drill": (1, "match-lowest", "95.00", "pending", "shop-01", 2),
            "saw": (2, "match-lowest", "47.50", "pending", "shop-02", 3),
            "sander": (3, "beat-lowest", "76.00", "pending", "shop-01", 5),
            "grinder": (4, "margin-floor", "126.00", "pending", "shop-02", 60),  # stale
            "hose": (5, "match-lowest", "28.50", "pending", "shop-01", 1),
            "mower": (6, "beat-lowest", "43.00", "pending", "shop-03", 4),
            "shears": (7, "margin-floor", "210.00", "approved", "shop-01", 6),
            "pan": (8, "match-lowest", "57.00", "pending", "shop-02", 2),
            "kettle": (9, "beat-lowest", "24.00", "rejected", "shop-03", 8),
            "oven": (10, "margin-floor", "315.00", "pending", "shop-01", 1),
            "speaker": (
                11,
                "match-lowest",
                "140.00",
                "pending",
                "shop-03",
                None,
            ),  # no cost, no data age
            "headset": (12, "beat-lowest", "85.50", "superseded", "shop-02", 2),
        }
        rows = []
        for pid, strategy, proposed, status, competitor, hours in spec.values():
            p = products[pid - 1]
            proposed = Decimal(proposed)
            rows.append(
                {
                    "product_id": pid,
                    "created_at": now - timedelta(minutes=pid),
                    "suggest_run": "t",
                    "strategy": strategy,
                    "current_price": p["price"],
                    "proposed_price": proposed,
                    "currency": "EUR",
                    "change_pct": float((proposed - p["price"]) / p["price"] * 100),
                    "margin_before": None
                    if hours is None
                    else float((p["price"] - p["cost"]) / p["price"] * 100),
                    "margin_after": None
                    if hours is None
                    else float((proposed - p["cost"]) / proposed * 100),
                    "competitor_count": 2,
                    "lowest_competitor": competitor,
                    "oldest_data_at": None if hours is None else now - timedelta(hours=hours),
                    "explanation": f"{strategy}: lowest competitor {competitor} at {proposed}; "
                    "within floor and ceiling.\nSecond line of the explanation.",
                    "status": status,
                }
            )
        ids = conn.execute(insert(Suggestion).returning(Suggestion.id), rows).scalars().all()
        s = dict(zip(spec, ids, strict=True))

        offers = [
            {
                "id": 1,
                "site_id": 1,
                "url": "http://127.0.0.2:1/p/drill",
                "title": "Bosch drill 18V",
                "cur_price": Decimal("96.00"),
                "cur_currency": "EUR",
                "cur_availability": "in_stock",
            },
            {
                "id": 2,
                "site_id": 2,
                "url": HOSTILE_URL,
                "title": HOSTILE_TITLE,
                "cur_price": Decimal("99.00"),
                "cur_currency": "EUR",
                "cur_availability": "out_of_stock",
            },
            {
                "id": 3,
                "site_id": 3,
                "url": "http://127.0.0.4:1/p/drill-x",
                "title": "Drill, maybe",
                "cur_price": Decimal("90.00"),
                "cur_currency": "EUR",
                "cur_availability": "in_stock",
            },
        ]
        for o in offers:
            o.update(first_seen=now - timedelta(days=20), last_seen=now - timedelta(hours=2))
        conn.execute(insert(Offer), offers)
        obs = []
        for offer_id, prices in ((1, [99, 97, 96]), (2, [101, 99, 99]), (3, [92, 90, 90])):
            for k, price in enumerate(prices):
                start = now - timedelta(days=18 - 6 * k)
                out = offer_id == 2 and k == 1  # shop-02 was out of stock in the middle period
                obs.append(
                    {
                        "offer_id": offer_id,
                        "valid_from": start,
                        # The last state is current: valid to the offer's last_seen.
                        "valid_to": now - timedelta(hours=2)
                        if k == len(prices) - 1
                        else start + timedelta(days=5),
                        "price": Decimal(price),
                        "currency": "EUR",
                        "availability": "out_of_stock" if out else "in_stock",
                    }
                )
        conn.execute(insert(Observation), obs)
        promote_latest_states(conn)  # the latest state of each offer is its current one
        match_rows = [
            {
                "product_id": 1,
                "offer_id": 1,
                "confidence": 0.99,
                "method": "gtin",
                "status": "accepted",
                "evidence": {"gtin": "4006381333931"},
            },
            {
                "product_id": 1,
                "offer_id": 2,
                "confidence": 0.91,
                "method": "mpn",
                "status": "accepted",
                "evidence": None,
            },
            {
                "product_id": 1,
                "offer_id": 3,
                "confidence": 0.62,
                "method": "fuzzy",
                "status": "review",
                "evidence": {"text": 0.62, "also_fits": "bos2136<b>"},
            },
        ]
        mids = conn.execute(insert(Match).returning(Match.id), match_rows).scalars().all()
        conn.execute(
            insert(ClickDaily),
            [
                {
                    "product_id": 1,
                    "day": (now - timedelta(days=d)).date(),
                    "views": 100,
                    "clicks": 20,
                    "add_to_cart": 5,
                    "orders": 2,
                    "revenue": Decimal("190.00"),
                    "price": Decimal("100.00"),
                }
                for d in range(1, 41)
            ],
        )
        runs = [  # (site, started hours ago, items, 5xx, parse failures, health, reasons)
            (1, 3, 118, 0, 0, "healthy", None),
            (2, 30, 97, 0, 0, "healthy", None),
            (2, 1, 3, 40, 57, "broken", ["items per page fell from 0.97 to 0.03"]),
        ]
        conn.execute(
            insert(CrawlRun),
            [
                {
                    "site_id": site,
                    "started_at": now - timedelta(hours=h),
                    "finished_at": now - timedelta(hours=h) + timedelta(minutes=10),
                    "status": "finished",
                    "pages": 100,
                    "items": items,
                    "http_5xx": e5,
                    "parse_failures": pf,
                    "health": health,
                    "health_reasons": reasons,
                }
                for site, h, items, e5, pf, health, reasons in runs
            ],
        )
    with engine.begin() as conn:  # one Argon2 hash per session: hashing is slow on purpose
        conn.execute(
            insert(User),
            [
                {"name": name, "role": role, "password_hash": _password_hash(), "active": True}
                for name, role in (("admin", "admin"), ("anna", "manager"), ("victor", "viewer"))
            ],
        )
    return Store(
        engine,
        now,
        s,
        {p["sku"]: p["id"] for p in products},
        {"drill-shop01": mids[0], "drill-hostile": mids[1], "drill-fuzzy": mids[2]},
    )
