"""Every price format, stock wording and popularity form is served, and equals the truth."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from parsel import Selector

from tests.shopsim.helpers import fetch, first_offer, money

NB = "\u00a0"
LOCALE_FORMATS = {
    "en_US": r"\$\d{1,3}(,\d{3})+\.\d{2}",  # $1,299.00
    "de_DE": rf"\d{{1,3}}(\.\d{{3}})+,\d{{2}}{NB}€",  # 1.299,00 €
    "fr_FR": rf"\d{{1,3}}({NB}\d{{3}})+,\d{{2}}{NB}€",  # 1 299,00 €
    "en_GB": r"£\d{1,3}(,\d{3})+\.\d{2}",  # £1,299.99
    "ja_JP": r"¥\d{1,3}(,\d{3})+",  # ¥1,299
    "de_CH": rf"CHF{NB}\d{{1,3}}('\d{{3}})+\.\d{{2}}",  # CHF 1'299.00
    "pt_BR": rf"R\${NB}\d{{1,3}}(\.\d{{3}})+,\d{{2}}",  # R$ 1.299,90
}


def page_text(market, served, site, row, selector: str) -> list[str]:
    resp = fetch(row.url)
    assert resp.status == 200
    return resp.css(selector)


@pytest.mark.parametrize("locale", sorted(LOCALE_FORMATS))
def test_price_format_by_locale(market, served, locale):
    site, row = first_offer(
        market,
        lambda s, r: s.locale.code == locale and r.shown_price_kind == "plain" and r.price >= 1000,
    )
    (text,) = page_text(market, served, site, row, f".{site.theme.price}")
    assert re.fullmatch(LOCALE_FORMATS[locale], text), text
    assert money(text, site.locale.decimal) == row.price


def test_from_price(market, served):
    site, row = first_offer(market, lambda s, r: r.shown_price_kind == "from")
    (text,) = page_text(market, served, site, row, f".{site.theme.price}")
    assert text.startswith("From ")
    assert money(text, site.locale.decimal) == row.price


def test_price_range(market, served):
    site, row = first_offer(market, lambda s, r: r.shown_price_kind == "range")
    (text,) = page_text(market, served, site, row, f".{site.theme.price}")
    low, high = text.split(" – ")
    assert money(low, site.locale.decimal) == row.price
    assert money(high, site.locale.decimal) == row.high_price > row.price


def test_struck_through_regular_beside_sale_price(market, served):
    site, row = first_offer(market, lambda s, r: r.shown_price_kind == "sale")
    sel = Selector(text=fetch(row.url).text)
    struck = "".join(sel.css(f"del.{site.theme.regular} ::text").getall())
    now = "".join(sel.css(f".buy-box .{site.theme.price} ::text").getall())
    assert money(struck, site.locale.decimal) == row.regular_price
    assert money(now, site.locale.decimal) == row.price < row.regular_price


def test_call_for_price(market, served):
    site, row = first_offer(market, lambda s, r: r.shown_price_kind == "call")
    (text,) = page_text(market, served, site, row, f".{site.theme.price}")
    assert text == "Call for price" and row.price is None


def test_split_price(market, served):
    site, row = first_offer(
        market, lambda s, r: s.split_price and r.shown_price_kind == "plain" and r.price % 1 != 0
    )
    sel = Selector(text=fetch(row.url).text)
    (node,) = sel.css(f".buy-box .{site.theme.price}")
    whole = "".join(node.css(".whole ::text").getall())
    frac = node.css("sup.frac::text").get()
    assert whole and frac and len(frac) == site.locale.decimals
    assert money("".join(node.css("::text").getall()), site.locale.decimal) == row.price


STOCK = {
    "In stock": (
        r"In stock",
        lambda s, r: r.availability == "in_stock" and s.stock_style == "simple",
    ),
    "N in stock": (
        r"\d+ in stock",
        lambda s, r: r.availability == "in_stock" and s.stock_style == "quantity",
    ),
    "Only N left": (
        r"Only \d left",
        lambda s, r: (
            r.availability == "in_stock" and s.stock_style == "low" and pd.notna(r.stock_quantity)
        ),
    ),
    "Out of stock": (
        r"Out of stock",
        lambda s, r: r.availability == "out_of_stock" and s.stock_style != "low",
    ),
    "Sold out": (
        r"Sold out",
        lambda s, r: r.availability == "out_of_stock" and s.stock_style == "low",
    ),
    "Pre-order": (r"Pre-order", lambda s, r: r.availability == "preorder"),
    "Ships in 2-3 weeks": (r"Ships in 2-3 weeks", lambda s, r: r.availability == "backorder"),
}


@pytest.mark.parametrize("wording", list(STOCK))
def test_stock_wording(market, served, wording):
    pattern, predicate = STOCK[wording]
    site, row = first_offer(market, predicate)
    (text,) = page_text(market, served, site, row, f".{site.theme.stock}")
    assert re.fullmatch(pattern, text), text
    if pd.notna(row.stock_quantity):
        assert int(re.search(r"\d+", text).group()) == row.stock_quantity


def test_schema_org_availability_urls(market, served):
    site, row = first_offer(
        market, lambda s, r: s.family == "jsonld" and r.availability == "out_of_stock"
    )
    assert '"availability":"https://schema.org/OutOfStock"' in fetch(row.url).text


POPULARITY = {
    "review_count": (".reviews", r"\(([\d,]+) reviews?\)"),
    "rating": (".rating", r"([\d.]+) out of 5"),
    "rank": (".rank", r"#(\d+) in .+"),
}


@pytest.mark.parametrize("field", list(POPULARITY))
def test_popularity_forms(market, served, field):
    css, pattern = POPULARITY[field]
    site, row = first_offer(market, lambda s, r: pd.notna(getattr(r, field)))
    (text,) = page_text(market, served, site, row, css)
    value = float(re.fullmatch(pattern, text).group(1).replace(",", ""))
    assert value == float(getattr(row, field))


@pytest.mark.parametrize("k_form", [True, False])
def test_units_sold(market, served, k_form):
    site, row = first_offer(
        market, lambda s, r: s.sold_k == k_form and pd.notna(r.sold_count) and r.sold_count >= 1000
    )
    (text,) = page_text(market, served, site, row, ".sold")
    if k_form:
        number = re.fullmatch(r"(\d+\.\d)k sold", text).group(1)
        assert round(float(number) * 1000) == row.sold_count
    else:
        assert int(re.fullmatch(r"([\d,]+) sold", text).group(1).replace(",", "")) == row.sold_count


def test_position_in_category_listing(market, served):
    """Listings are sorted by bestseller rank: position on page 2 continues page 1."""
    for site in market.sites:
        frame = market.truth(site.name)
        counts = frame.category.value_counts()
        if counts.iloc[0] > site.per_page:
            break
    cat = counts.index[0]
    resp = fetch(served.base_url(site.name) + site.listing_path(cat, 2))
    links = (
        Selector(text=resp.text)
        .css(f"li.{site.theme.card} a.{site.theme.title}::attr(href)")
        .getall()
    )
    assert links
    by_path = frame.set_index("path")
    positions = [int(by_path.loc[p, "listing_position"]) for p in links]
    assert positions == list(range(site.per_page + 1, site.per_page + 1 + len(links)))
