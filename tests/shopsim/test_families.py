"""Each markup family, fetched over real HTTP, says exactly what the truth says."""

from __future__ import annotations

import re
from decimal import Decimal

import extruct
import pandas as pd
import pytest
from parsel import Selector

from crawler.siteconfig import load_all_site_configs
from shopsim.render_common import SCHEMA_AVAILABILITY
from tests.shopsim.helpers import fetch, json_ld, money

WORDING = [
    (re.compile(r"^In stock$"), "in_stock"),
    (re.compile(r"^\d+ in stock$"), "in_stock"),
    (re.compile(r"^Only \d+ left$"), "in_stock"),
    (re.compile(r"^(Out of stock|Sold out)$"), "out_of_stock"),
    (re.compile(r"^Pre-order$"), "preorder"),
    (re.compile(r"^Ships in 2-3 weeks$"), "backorder"),
]


def wording_to_availability(text: str) -> str:
    for pattern, value in WORDING:
        if pattern.match(text):
            return value
    raise AssertionError(f"unknown stock wording {text!r}")


@pytest.fixture(scope="session")
def configs(served, tmp_path_factory):
    directory = tmp_path_factory.mktemp("sites")
    served.write_site_configs(directory)
    return load_all_site_configs(directory)


def shop_of(market, family):
    return next(s for s in market.sites if s.family == family)


def sample(market, site, n=25):
    frame = market.truth(site.name)
    return frame.iloc[:: max(1, len(frame) // n)]


def check_visible(resp, row, site, config):
    """The page as a selector-driven spider reads it, against the truth."""
    sel = config.selectors
    (title,) = resp.css(sel.title.css)
    assert title == row.title
    (stock,) = resp.css(sel.availability.css)
    assert wording_to_availability(stock) == row.availability
    (price_text,) = resp.css(sel.price.css)
    if row.shown_price_kind == "call":
        assert price_text == "Call for price" and row.price is None
    else:
        assert money(price_text, config.decimal_separator) == row.price
    regular = resp.css(sel.regular_price.css)
    if row.regular_price is None:
        assert regular == []
    else:
        assert money(regular[0], config.decimal_separator) == row.regular_price
    if pd.notna(row.stock_quantity):
        assert str(int(row.stock_quantity)) in stock


@pytest.mark.parametrize("family", ["jsonld", "microdata", "opengraph", "plain", "mismatch"])
def test_visible_page_matches_truth(market, served, configs, family):
    site = shop_of(market, family)
    for row in sample(market, site).itertuples():
        resp = fetch(row.url)
        assert resp.status == 200
        check_visible(resp, row, site, configs[site.name])


def test_jsonld_family(market, served):
    site = shop_of(market, "jsonld")
    for row in sample(market, site).itertuples():
        (data,) = json_ld(fetch(row.url))
        assert data["@type"] == "Product" and data["name"] == row.title
        offer = data["offers"]
        assert offer["priceCurrency"] == row.currency
        assert offer["availability"] == SCHEMA_AVAILABILITY[row.availability]
        if row.shown_price_kind in ("plain", "sale"):
            assert Decimal(offer["price"]) == row.price
        elif row.shown_price_kind in ("from", "range"):
            assert Decimal(offer["lowPrice"]) == row.price
        assert data.get("gtin13") == row.gtin and data.get("mpn") == row.mpn
        assert data.get("brand", {}).get("name") == row.brand


def test_jsonld_listing_has_item_list(market, served):
    site = shop_of(market, "jsonld")
    row = market.truth(site.name).sort_values("listing_position").iloc[0]
    resp = fetch(served.base_url(site.name) + site.listing_path(row.category, 1))
    (data,) = json_ld(resp)
    first = data["itemListElement"][0]
    assert first["position"] == 1 and first["item"]["url"] == row.url
    assert Decimal(first["item"]["offers"]["price"]) == row.price or row.price is None


def test_microdata_family(market, served):
    site = shop_of(market, "microdata")
    for row in sample(market, site).itertuples():
        resp = fetch(row.url)
        items = extruct.extract(resp.text, base_url=row.url, syntaxes=["microdata"])["microdata"]
        (product,) = [i for i in items if i["type"] == "https://schema.org/Product"]
        props = product["properties"]
        assert props["name"] == row.title
        offer = props["offers"]["properties"]
        assert offer["priceCurrency"] == row.currency
        assert offer["availability"] == SCHEMA_AVAILABILITY[row.availability]
        if row.shown_price_kind in ("plain", "sale"):
            assert Decimal(offer["price"]) == row.price
        assert props.get("gtin13") == row.gtin


def test_microdata_listing_items(market, served):
    site = shop_of(market, "microdata")
    row = market.truth(site.name).sort_values("listing_position").iloc[0]
    resp = fetch(served.base_url(site.name) + site.listing_path(row.category, 1))
    items = extruct.extract(resp.text, base_url=row.url, syntaxes=["microdata"])["microdata"]
    assert len(items) == min(
        site.per_page, (market.truth(site.name).category == row.category).sum()
    )
    assert items[0]["properties"]["name"] == row.title
    assert items[0]["properties"]["url"] == row.url


def test_opengraph_family(market, served):
    site = shop_of(market, "opengraph")
    for row in sample(market, site).itertuples():
        sel = Selector(text=fetch(row.url).text)
        meta = {m.attrib["property"]: m.attrib["content"] for m in sel.css("meta[property]")}
        assert meta["og:type"] == "product" and meta["og:title"] == row.title
        assert meta["og:url"] == row.url
        if row.price is None:
            assert "product:price:amount" not in meta
        else:
            assert Decimal(meta["product:price:amount"]) == row.price
            assert meta["product:price:currency"] == row.currency
        expected = {"in_stock": "in stock", "out_of_stock": "out of stock"}.get(row.availability)
        if expected:
            assert meta["product:availability"] == expected


def test_mismatch_family_structured_says_list_price(market, served, configs):
    site = shop_of(market, "mismatch")
    assert configs[site.name].price_rule == "visible"
    sale = market.truth(site.name).query("shown_price_kind == 'sale'")
    assert len(sale) > 0
    for row in sale.head(10).itertuples():
        resp = fetch(row.url)
        (data,) = json_ld(resp)
        assert Decimal(data["offers"]["price"]) == row.regular_price != row.price
        check_visible(resp, row, site, configs[site.name])  # the page shows the truth


def test_api_family_pages_through_every_offer(market, served, configs):
    site = shop_of(market, "api")
    api = configs[site.name].start.api
    truth = market.truth(site.name).set_index("url")
    url, seen = configs[site.name].absolute(api.url), []
    while url:
        data = fetch(url).json()
        seen.extend(data[api.items])
        url = data[api.next]
    assert sorted(i["url"] for i in seen) == sorted(truth.index)
    for item in seen:
        row = truth.loc[item["url"]]
        assert item["name"] == row.title
        amount = item["price"]["amount"]
        assert (None if amount is None else Decimal(amount)) == row.price
        assert item["availability"] in (row.availability, SCHEMA_AVAILABILITY[row.availability])
        quantity = None if pd.isna(row.stock_quantity) else int(row.stock_quantity)
        assert item["stock"]["quantity"] == quantity
