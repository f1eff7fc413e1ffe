"""crawler.extraction.embedded reads microdata and OpenGraph exactly as extruct does.

embedded subclasses extruct's own extractors and only finds their elements another way, so
its answer must be extruct's, dict for dict, on every page: the simulator's (every markup
family, listings and product pages, hostile faults on), hand-written edge cases, and random
markup.
"""

from __future__ import annotations

import extruct
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract import _parse_tree
from crawler.extraction import embedded
from shopsim import configs
from shopsim.market import Market
from shopsim.site import SiteRouter

BASE = "http://127.0.0.9:8000"
SYNTAXES = ["microdata", "opengraph"]


def _both(html: str, url: str = f"{BASE}/p/1") -> tuple[dict, dict]:
    ours = embedded.extract(_parse_tree(html.encode("utf-8", "replace")), url, SYNTAXES)
    theirs = extruct.extract(
        _parse_tree(html.encode("utf-8", "replace")),
        base_url=url,
        syntaxes=SYNTAXES,
        uniform=True,
        errors="log",
    )
    return ours, theirs


@pytest.fixture(scope="module")
def simulator_pages() -> list[str]:
    market = Market.generate(sites=12, products=600, seed=11, faults="hostile")
    state = market.state()
    pages = []
    for site in market.sites:
        if site.family == "api":
            continue
        configs.site_config(market, site, BASE)
        router = SiteRouter(market, site, BASE)
        for i in router.shop_offers(state)[:15]:
            page = router.route(market.view(site, int(i), state).path, "", state)
            if page.status == 200:
                pages.append(page.body if isinstance(page.body, str) else page.body.decode())
    return pages


def test_simulator_pages_read_as_extruct_reads_them(simulator_pages):
    with_items = 0
    for html in simulator_pages:
        ours, theirs = _both(html)
        assert ours == theirs
        with_items += bool(ours["microdata"] or ours["opengraph"])
    assert with_items >= 20  # the pages did carry microdata or OpenGraph


EDGE_CASES = [
    # nested items: a property belongs to its nearest itemscope only
    """<div itemscope itemtype="http://schema.org/Product"><span itemprop="name">A</span>
    <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
    <meta itemprop="price" content="9.99"><span itemprop="name">inner</span></div>
    <span itemprop="sku">S1</span></div>""",
    # itemref and itemid
    """<div itemscope itemtype="http://schema.org/Product" itemref="x" itemid="#p1"></div>
    <p id="x"><span itemprop="name">Referenced</span></p>""",
    # items side by side, a property with an href and a src
    """<div itemscope itemtype="https://schema.org/Product"><a itemprop="url" href="/p/2">x</a>
    <img itemprop="image" src="i.png"></div>
    <div itemscope itemtype="https://schema.org/Product"><span itemprop="name">B</span></div>""",
    # OpenGraph in the head, with a prefix and product: tags; a second head
    """<html prefix="og: http://ogp.me/ns#"><head><meta property="og:title" content="T">
    <meta property="product:price:amount" content="12.50">
    <meta property="product:price:currency" content="EUR"><meta property="og:x">
    </head><body><head><meta property="og:type" content="product"></head></body></html>""",
    # broken markup: stray top-level nodes, no head
    """</html><meta property="og:title" content="Stray"><div itemscope><b itemprop="a">1</b>""",
    "<p>nothing here</p>",
]


@pytest.mark.parametrize("html", EDGE_CASES)
def test_edge_cases_read_as_extruct_reads_them(html):
    ours, theirs = _both(html)
    assert ours == theirs


tags = st.sampled_from(["div", "span", "meta", "a", "head", "p", "link", "img"])
attributes = st.lists(
    st.sampled_from(
        [
            "itemscope",
            'itemtype="http://schema.org/Product"',
            'itemtype="http://schema.org/Offer"',
            'itemprop="name"',
            'itemprop="price"',
            'itemprop="offers"',
            'itemref="r"',
            'id="r"',
            'itemid="#i"',
            'content="7"',
            'href="/x"',
            'property="og:title"',
            'property="product:price:amount"',
        ]
    ),
    max_size=4,
    unique=True,
)
element = st.builds(
    lambda tag, attrs, text: f"<{tag} {' '.join(attrs)}>{text}",
    tags,
    attributes,
    st.text(alphabet="ab <>/", max_size=6),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(element, max_size=12), st.lists(st.sampled_from(["</div>", "</span>"]), max_size=4))
def test_random_markup_reads_as_extruct_reads_it(elements, closers):
    html = "<html><head>" + "".join(elements[:3]) + "</head><body>"
    html += "".join(elements[3:]) + "".join(closers) + "</body></html>"
    tree = _parse_tree(html.encode())
    if tree is None:
        return
    ours, theirs = _both(html)
    assert ours == theirs
