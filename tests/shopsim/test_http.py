"""Navigation and HTTP: listings, sitemap, robots, validators and 304, gzip, redirects, 404/410."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import numpy as np
import pytest
from parsel import Selector
from protego import Protego

from shopsim import Market, serve_in_thread
from tests.shopsim.helpers import fetch, money
from tests.shopsim.test_families import configs, wording_to_availability  # noqa: F401

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def walk_listings(site, config, base_url):
    """Follow every category's pagination with the config's selectors, like a listing spider."""
    s = config.selectors
    home = Selector(text=fetch(base_url + "/").text)
    starts = config.start.listings or home.css("nav a::attr(href)").getall()
    seen = {}
    for start in starts:
        url = config.absolute(start)
        while url:
            page = Selector(text=fetch(url).text)
            for item in page.css(s.listing_item.css):
                link = item.css(s.product_link.css).attrib[s.product_link.attr]
                price = "".join(item.css(f"{s.price.css} ::text").getall())
                stock = "".join(item.css(f"{s.availability.css} ::text").getall())
                assert link not in seen, f"{link} listed twice"
                seen[link] = (price.strip(), stock.strip())
            nxt = page.css(s.next_page.css).attrib.get(s.next_page.attr)
            url = config.absolute(nxt) if nxt else None
    return seen


def test_listings_carry_every_offer_with_price_and_stock(market, served, configs):  # noqa: F811
    for site in market.sites:
        config = configs[site.name]
        truth = market.truth(site.name).set_index("path")
        seen = walk_listings(site, config, served.base_url(site.name))
        assert sorted(seen) == sorted(truth.index), site.name
        for path, (price, stock) in seen.items():
            row = truth.loc[path]
            if row.price is not None:
                assert money(price, config.decimal_separator) == row.price
            assert wording_to_availability(stock) == row.availability


def test_sitemap_lists_every_offer_with_lastmod(market, served):
    site = next(s for s in market.sites if s.mode == "product")
    truth = market.truth(site.name).set_index("url")
    root = ET.fromstring(fetch(served.base_url(site.name) + "/sitemap.xml").body)
    lastmod = {
        u.findtext("sm:loc", namespaces=SITEMAP_NS): u.findtext("sm:lastmod", namespaces=SITEMAP_NS)
        for u in root.findall("sm:url", SITEMAP_NS)
    }
    products = {u: m for u, m in lastmod.items() if m is not None}
    assert sorted(products) == sorted(truth.index)
    for url, mod in products.items():
        assert datetime.fromisoformat(mod) == truth.loc[url, "last_modified"]


def test_big_shop_gets_a_sitemap_index():
    m = Market.generate(sites=1, products=6000, seed=4)
    with serve_in_thread(m) as server:
        base = server.base_url("shop-01")
        root = ET.fromstring(fetch(base + "/sitemap.xml").body)
        assert root.tag.endswith("sitemapindex")
        locs = [e.text for e in root.iter(f"{{{SITEMAP_NS['sm']}}}loc")]
        assert locs == [f"{base}/sitemap-1.xml", f"{base}/sitemap-2.xml"]
        urls = set()
        for loc in locs:
            urls |= {
                e.text for e in ET.fromstring(fetch(loc).body).iter(f"{{{SITEMAP_NS['sm']}}}loc")
            }
        assert set(m.truth("shop-01")["url"]) <= urls


def test_robots_disallows_and_crawl_delay(market, served, configs):  # noqa: F811
    delayed = next(s for s in market.sites if s.crawl_delay)
    plain = next(s for s in market.sites if not s.crawl_delay)
    for site in (delayed, plain):
        base = served.base_url(site.name)
        robots = Protego.parse(fetch(base + "/robots.txt").text)
        assert not robots.can_fetch(base + "/cart", "pricewatch")
        assert not robots.can_fetch(base + "/account/login", "pricewatch")
        assert robots.can_fetch(base + "/", "pricewatch")
        assert list(robots.sitemaps) == [base + "/sitemap.xml"]
        assert robots.crawl_delay("pricewatch") == site.crawl_delay
        assert configs[site.name].politeness.delay == (site.crawl_delay or 0)


def test_etag_and_if_none_match(market, served):
    row = market.truth("shop-02").iloc[0]
    first = fetch(row.url)
    etag = first.headers["etag"]
    again = fetch(row.url, headers={"If-None-Match": etag})
    assert again.status == 304 and again.raw == b""
    assert fetch(row.url, headers={"If-None-Match": 'W/"other"'}).status == 200


def test_last_modified_and_if_modified_since(market, served):
    row = market.truth("shop-03").iloc[0]
    first = fetch(row.url)
    assert parsedate_to_datetime(first.headers["last-modified"]) == row.last_modified
    assert (
        fetch(row.url, headers={"If-Modified-Since": first.headers["last-modified"]}).status == 304
    )
    older = "Mon, 01 Dec 2025 00:00:00 GMT"
    assert fetch(row.url, headers={"If-Modified-Since": older}).status == 200


def test_gzip_when_asked(market, served):
    row = market.truth("shop-04").iloc[0]
    plain = fetch(row.url)
    zipped = fetch(row.url, headers={"Accept-Encoding": "gzip, deflate"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert len(zipped.raw) < len(plain.raw) and zipped.body == plain.body


def test_head_has_headers_but_no_body(market, served):
    row = market.truth("shop-01").iloc[0]
    resp = fetch(row.url, method="HEAD")
    assert resp.status == 200 and resp.raw == b"" and "etag" in resp.headers
    assert int(resp.headers["content-length"]) == len(fetch(row.url).raw)


def _offer_where(market, mask_fn):
    state = market.state()
    o = market.offers
    (candidates,) = np.nonzero(mask_fn(state, o))
    i = int(candidates[0])
    return market.sites[int(o.shop[i])], i, state


def test_moved_product_redirects_permanently(market, served):
    site, i, state = _offer_where(market, lambda st, o: st.listed & (o.moved_h <= st.hour))
    old_path = site.product_path(market.slug(i), int(market.offers.code[i]))
    resp = fetch(served.base_url(site.name) + old_path)
    assert resp.status == 301
    assert resp.headers["location"] == served.base_url(site.name) + market.path(site, i, state)
    assert resp.headers["location"] in set(market.truth(site.name)["url"])


def test_wrong_slug_redirects_to_canonical(market, served):
    row = market.truth("shop-01").iloc[0]
    code = row.path.rsplit("-", 1)[1]
    resp = fetch(served.base_url("shop-01") + f"/p/some-old-name-{code}")
    assert resp.status == 301 and resp.headers["location"] == row.url


@pytest.mark.parametrize("gone_status", [404, 410])
def test_delisted_products_are_gone(market, served, gone_status):
    statuses = np.array([s.gone_status for s in market.sites])
    site, i, state = _offer_where(
        market,
        lambda st, o: ~st.listed & (o.until_h <= st.hour) & (statuses[o.shop] == gone_status),
    )
    resp = fetch(served.base_url(site.name) + market.path(site, i, state))
    assert resp.status == gone_status


def test_not_yet_listed_product_is_404(market, served):
    site, i, state = _offer_where(market, lambda st, o: o.from_h > st.hour)
    assert fetch(served.base_url(site.name) + market.path(site, i, state)).status == 404


def test_unknown_paths_and_listing_pages_are_404(market, served):
    base = served.base_url("shop-01")
    assert fetch(base + "/no/such/page").status == 404
    assert fetch(base + "/c/laptops?page=999").status == 404
    assert fetch(base + "/c/no-such-category").status == 404


def test_truth_endpoint_equals_market_truth(market, served):
    data = fetch(served.base_url("shop-05") + "/__sim/truth.json").json()
    truth = market.truth("shop-05")
    assert [o["url"] for o in data["offers"]] == list(truth["url"])
    assert [None if o["price"] is None else Decimal(o["price"]) for o in data["offers"]] == list(
        truth["price"]
    )


def test_advance_from_another_client_changes_what_is_served():
    m = Market.generate(sites=2, products=300, seed=8)
    with serve_in_thread(m) as server:
        base = server.base_url("shop-01")
        before = m.truth("shop-01").set_index("path")
        etags = {p: fetch(base + p).headers["etag"] for p in before.index[:40]}
        assert fetch(base + "/__sim/advance?hours=240").status == 405  # GET is not allowed
        resp = fetch(base + "/__sim/advance?hours=240", method="POST")
        assert resp.status == 200 and resp.json()["hour"] == m.clock.hour()
        after = m.truth("shop-01").set_index("path")
        changed = [
            p for p in etags if p in after.index and after.loc[p, "price"] != before.loc[p, "price"]
        ]
        assert changed
        for p in changed:
            resp = fetch(base + p, headers={"If-None-Match": etags[p]})
            assert resp.status == 200  # new content, new validator
            assert resp.headers["etag"] != etags[p]
        assert fetch(base + "/__sim/advance?hours=-3", method="POST").status == 400


def _read_response(sock_file):
    status = sock_file.readline().decode()
    headers = {}
    while (line := sock_file.readline().decode().strip()) != "":
        key, _, value = line.partition(":")
        headers[key.lower()] = value.strip()
    body = sock_file.read(int(headers.get("content-length", 0)))
    return int(status.split()[1]), headers, body


def test_keep_alive_pipelining_and_connection_close(market, served):
    import socket

    truth = market.truth("shop-02")
    host, port = served.base_url("shop-02").removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        requests = "".join(f"GET {p} HTTP/1.1\r\nHost: {host}\r\n\r\n" for p in truth.path[:3])
        sock.sendall(requests.encode())  # three requests in one write
        f = sock.makefile("rb")
        for path in truth.path[:3]:
            status, _, body = _read_response(f)
            assert status == 200 and path.encode() in body
        sock.sendall(f"GET {truth.path.iloc[3]} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        status, headers, _ = _read_response(f)
        assert status == 200 and headers["connection"] == "close"
        assert f.read() == b""  # the server closed the connection


def test_malformed_request_gets_400(served):
    import socket

    host, port = served.base_url("shop-01").removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        status, _, _ = _read_response(sock.makefile("rb"))
    assert status == 400
