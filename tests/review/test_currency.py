"""Competitor prices in other currencies: converted into ours with the rules engine's rates
table, never drawn on our axis unconverted, and the page says what it did.

SKU-FX is priced in USD. Its competitors: shop-03 in GBP (converted), shop-04 in NOK (no rate
in the table: never plotted), shop-01 in USD (as is) and shop-02 in USD with one NOK
observation in its history (that one price left off).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert

from pricing.cli import main
from pricing.review.app import create_app
from pricing.review.currency import CurrencyTable
from pricing.review.serving import serve_in_thread
from pricing.rules import StrategyError, run_suggestions
from pricing.store.models import Match, Observation, Offer, Product, Site
from tests.history_states import new_state_id, promote_latest_states
from tests.review.conftest import login
from tests.review.data import Store

GBP_RATE = 1.30  # deliberately not the shipped file's 1.27: proves which table is used
STRATEGIES = f"""
settings:
  currency_rates:
    base: USD
    rates: {{GBP: {GBP_RATE}, EUR: 1.08}}
  stale_hours: 48
strategies:
  - name: follow-shop-03
    applies_to: {{skus: [SKU-FX]}}
    reference: {{kind: lowest}}
    guards: {{include_competitors: [shop-03]}}
"""


def add_fx_product(store: Store) -> None:
    now = store.now
    with store.engine.begin() as conn:
        conn.execute(insert(Site), [{"id": 4, "name": "shop-04", "base_url": "http://x:1", "currency": "NOK"}])  # fmt: skip
        conn.execute(
            insert(Product),
            [
                {
                    "id": 13,
                    "sku": "SKU-FX",
                    "title": "Espresso machine",
                    "brand": "Sage",
                    "category": "kitchen",
                    "price": Decimal("1091.99"),
                    "cost": Decimal("800.00"),
                    "currency": "USD",
                }  # fmt: skip
            ],
        )
        # offer: (site, current price, current currency, [(price, currency), ...])
        offers = {
            4: (3, "958.99", "GBP", [("980.00", "GBP"), ("958.99", "GBP")]),
            5: (4, "9990.00", None, [("9990.00", None)]),  # NOK by its site
            6: (1, "1089.00", "USD", [("1100.00", "USD"), ("1089.00", "USD")]),
            7: (2, "1110.00", "USD", [("1120.00", "USD"), ("11000.00", "NOK"), ("1110.00", "USD")]),
        }
        for oid, (site, price, currency, history) in offers.items():
            conn.execute(
                insert(Offer),
                [
                    {
                        "id": oid,
                        "site_id": site,
                        "url": f"http://x:1/p/{oid}",
                        "title": f"Sage espresso {oid}",
                        "cur_price": Decimal(price),
                        "cur_currency": currency,
                        "cur_availability": "in_stock",
                        "first_seen": now - timedelta(days=12),
                        "last_seen": now - timedelta(hours=1),
                    }  # fmt: skip
                ],
            )
            start = now - timedelta(days=12)
            for k, (p, cur) in enumerate(history):
                conn.execute(
                    insert(Observation),
                    [
                        {
                            # The store fixture's current states hold ids past the table's.
                            "id": new_state_id(conn),
                            "offer_id": oid,
                            "valid_from": start + timedelta(days=4 * k),
                            # The last state is current: valid to last_seen.
                            "valid_to": now - timedelta(hours=1)
                            if k == len(history) - 1
                            else start + timedelta(days=4 * k + 3),
                            "price": Decimal(p),
                            "currency": cur,
                            "availability": "in_stock",
                        }  # fmt: skip
                    ],
                )
            conn.execute(
                insert(Match),
                [
                    {
                        "product_id": 13,
                        "offer_id": oid,
                        "confidence": 0.95,
                        "method": "gtin",
                        "status": "accepted",
                    }
                ],  # fmt: skip
            )
        promote_latest_states(conn)  # each offer's last state is its current one


@pytest.fixture
def fx_store(store: Store) -> Store:
    add_fx_product(store)
    return store


def _svg(html: str) -> str:
    start = html.index('<svg id="price-chart"')
    return html[start : html.index("</svg>", start)]


def _axis(svg: str):
    """value -> y from the y-axis tick labels (text drawn 4 px below its grid line)."""
    ticks = [
        (float(y) - 4, float(label.replace(",", "")))
        for y, label in re.findall(
            r'<text x="[\d.]+" y="([\d.]+)" text-anchor="end" font-size="11" '
            r'fill="#6b7280">([\d,]+\.\d\d)</text>',
            svg,
        )
    ]
    assert len(ticks) >= 2, svg[:500]
    (y0, v0), (y1, v1) = ticks[0], ticks[-1]
    return lambda v: y0 + (v - v0) * (y1 - y0) / (v1 - v0)


def _series(svg: str, site: str) -> str:
    match = re.search(rf'<g class="series" data-site="{site}"[^>]*>(.*?)</g>', svg, re.S)
    assert match, f"no series for {site}"
    return match.group(1)


def _points(group: str) -> list[tuple[float, str]]:
    return [
        (float(cy), tip)
        for cy, tip in re.findall(
            r'<circle cx="[\d.]+" cy="([\d.]+)"[^>]*><title>([^<]*)</title>', group
        )
    ]


def _match_ids(api: dict) -> dict[str, int]:
    return {m["site"]: m["id"] for m in api["matches"]}


def test_page_converts_foreign_competitors_and_leaves_unconvertible_ones_off(fx_store, tmp_path):
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text(STRATEGIES)
    app = create_app(fx_store.engine, secret_key="k", strategies=strategies)
    with serve_in_thread(app) as base:
        anna = login(base, "anna")
        html = anna.get("/products/SKU-FX?days=30").text
        api = anna.get("/api/products/SKU-FX").json()
        anna.close()
    svg = _svg(html)
    y_of = _axis(svg)

    # shop-03's points sit at the converted values, and their tooltips show both prices.
    gbp = _points(_series(svg, "shop-03"))
    assert [tip.split(" from ")[0] for _, tip in gbp] == [
        "shop-03: 980.00 GBP = 1274.00 USD",
        "shop-03: 958.99 GBP = 1246.69 USD",
    ]
    for (cy, _), converted in zip(gbp, (980.00 * GBP_RATE, 958.99 * GBP_RATE), strict=True):
        assert abs(cy - y_of(converted)) < 0.2, (cy, y_of(converted))
    assert abs(gbp[1][0] - y_of(958.99)) > 50  # nowhere near the unconverted number
    assert "shop-03, GBP converted at 1.3<" in html  # legend
    assert 'data-converted="GBP converted at 1.3"' in svg
    assert str(strategies) in html  # the page names the rates table it used

    # A USD competitor is plotted as is, without a conversion note.
    usd = _points(_series(svg, "shop-01"))
    assert usd[-1][1].startswith("shop-01: 1089.00 USD from")
    assert abs(usd[-1][0] - y_of(1089.00)) < 0.2

    # shop-04 (NOK via its site: no rate) is not on the chart, and the page says why.
    assert 'data-site="shop-04"' not in svg
    note = html[
        html.index('id="not-plotted"') : html.index("</div>", html.index('id="not-plotted"'))
    ]
    assert re.search(r"<strong>shop-04</strong>: not plotted, because .*no rate for NOK", note)
    # shop-02's one NOK price is left off; its USD prices stay, and the axis never reaches 11,000.
    assert "<strong>shop-02</strong>: 1 of 3 prices not plotted" in note
    assert [tip.split(" from ")[0] for _, tip in _points(_series(svg, "shop-02"))] == [
        "shop-02: 1120.00 USD",
        "shop-02: 1110.00 USD",
    ]
    top = max(float(v.replace(",", "")) for v in re.findall(r">([\d,]+\.\d\d)</text>", svg))
    assert top < 2000

    # The matches table: converted price next to the original, or why there is none.
    rows = {site: html[html.index(f'id="m-{mid}"') :] for site, mid in _match_ids(api).items()}
    gbp_row = rows["shop-03"][: rows["shop-03"].index("</tr>")]
    assert "958.99 GBP" in gbp_row and "≈ 1,246.69 USD" in gbp_row
    nok_row = rows["shop-04"][: rows["shop-04"].index("</tr>")]
    assert "9,990.00 NOK" in nok_row and "not convertible to USD" in nok_row
    usd_row = rows["shop-01"][: rows["shop-01"].index("</tr>")]
    assert "1,089.00 USD" in usd_row and "≈" not in usd_row

    # The JSON API carries the same conversion.
    by_site = {m["site"]: m for m in api["matches"]}
    assert (by_site["shop-03"]["price_converted"], by_site["shop-03"]["conversion_rate"]) == (
        "1246.69",
        pytest.approx(GBP_RATE),
    )
    assert by_site["shop-04"]["currency"] == "NOK" and by_site["shop-04"]["price_converted"] is None

    # The rules engine, reading the same file, explains with the same converted number.
    report = run_suggestions(fx_store.engine, strategies, dry_run=True)
    (explanation,) = report.suggestions["explanation"]
    assert "lowest competitor shop-03 1246.69" in explanation


def test_default_rates_are_the_shipped_strategies_file(sqlite_store):
    """Without a strategies argument the app uses the file `pricewatch suggest` defaults to."""
    add_fx_product(sqlite_store)
    with serve_in_thread(create_app(sqlite_store.engine, secret_key="k")) as base:
        anna = login(base, "anna")
        html = anna.get("/products/SKU-FX").text
        anna.close()
    assert "shop-03, GBP converted at 1.27<" in html
    assert "958.99 GBP = 1217.92 USD" in html  # the demo's "lowest competitor shop-03 1217.92"
    assert "pricing/rules/default_strategies.yaml" in html


def test_currency_table_reasons_and_untouched_same_currency_prices():
    table = CurrencyTable.load()
    assert table.convert([Decimal("19.99"), None], ["EUR", "EUR"], "EUR") == [
        Decimal("19.99"),
        None,
    ]
    assert table.convert([Decimal("100")], ["EUR"], "USD") == [Decimal("108.00")]
    assert table.conversion("NOK", "USD").reason.endswith(
        "has no rate for NOK: NOK prices cannot be converted to USD"
    )
    assert "unknown" in table.conversion(None, "USD").reason
    assert table.conversion("USD", "USD").label == ""
    assert table.conversion("GBP", "EUR").label == "GBP converted at 1.1759"


def test_a_broken_strategies_file_is_refused_before_serving(tmp_path: Path, sqlite_engine: Engine):
    broken = tmp_path / "rates.yaml"
    broken.write_text("settings:\n  currency_rates: {rates: {GBP: -1}}\nstrategies: []\n")
    with pytest.raises(StrategyError, match="rates.yaml"):
        create_app(sqlite_engine, secret_key="k", strategies=broken)
    db = str(sqlite_engine.url.database)
    result = CliRunner().invoke(main, ["--db", db, "review", "serve", "--strategy", str(broken)])
    assert result.exit_code != 0 and "rates.yaml" in result.output and "GBP" in result.output
