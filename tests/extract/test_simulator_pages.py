"""extract_offers on the shop simulator's pages, against the simulator's truth.

Pages are rendered in-process by the simulator's own router (the same code that serves them
over HTTP), for every markup family, locale and stock wording, with hostile faults on; the
crawl tests cover the HTTP side.
"""

from __future__ import annotations

import pytest

from crawler.extract import extract_offers
from crawler.extraction.text import clean_text
from crawler.siteconfig import parse_site_config
from shopsim import configs
from shopsim.market import Market
from shopsim.site import SiteRouter
from shopsim.vocab import CATEGORIES

BASE = "http://127.0.0.9:8000"
FIELDS = ("stock_quantity", "review_count", "rating", "sold_count", "rank", "gtin", "brand", "mpn")


@pytest.fixture(scope="module")
def market():
    return Market.generate(sites=12, products=2400, seed=7, faults="hostile")


def _sites(market):
    state = market.state()
    for site in market.sites:
        if site.family == "api":
            continue
        config = parse_site_config(configs.site_config(market, site, BASE))
        yield site, config, SiteRouter(market, site, BASE), state


def _check(offer, view, wrong, where):
    if (offer.price, offer.currency if view.price is not None else None) != (
        view.price,
        view.currency if view.price is not None else None,
    ):
        wrong.append((where, "price", view.price, offer.price, offer.currency))
    if offer.availability != view.availability:
        wrong.append((where, "availability", view.availability, offer.availability))
    for name in FIELDS:
        if getattr(offer, name) != getattr(view, name):
            wrong.append((where, name, getattr(view, name), getattr(offer, name)))
    if offer.title != clean_text(view.title):  # invisible and bidi characters are stripped
        wrong.append((where, "title", view.title, offer.title))


def test_product_pages_match_the_truth(market):
    checked, wrong, families = 0, [], set()
    for site, config, router, state in _sites(market):
        for i in router.shop_offers(state)[:25]:
            view = market.view(site, int(i), state)
            page = router.route(view.path, "", state)
            if page.status != 200:
                continue
            offers = extract_offers(page.body, BASE + view.path, config)
            assert len(offers) == 1, (site.family, view.path, offers)
            _check(offers[0], view, wrong, (site.family, view.kind, view.path))
            checked += 1
            families.add((site.family, view.kind))
    assert checked > 200
    assert {f for f, _ in families} >= {"jsonld", "microdata", "opengraph", "plain", "mismatch"}
    assert {k for _, k in families} >= {"plain", "sale", "call"}
    assert wrong == []


def test_listing_pages_match_the_truth(market):
    checked, wrong = 0, []
    for site, config, router, state in _sites(market):
        category = CATEGORIES[market.categories(site, state)[0]].slug
        path, _, query = site.listing_path(category, 1).partition("?")
        page = router.route(path, query, state)
        assert page.status == 200
        url = BASE + path + (f"?{query}" if query else "")
        offers = {o.url: o for o in extract_offers(page.body, url, config)}
        assert len(offers) == len(page.offers), (site.family, url)
        for i in page.offers:
            view = market.view(site, i, state)
            _check(offers[BASE + view.path], view, wrong, (site.family, view.kind, view.path))
            checked += 1
    assert checked > 100
    assert wrong == []
