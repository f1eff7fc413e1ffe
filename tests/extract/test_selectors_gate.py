"""Site selectors (CSS/XPath) and the data-quality gate that weighs them against structured data."""

from __future__ import annotations

from decimal import Decimal

from crawler.bench.sample_pages import page
from crawler.extract import extract_offers
from crawler.siteconfig import parse_site_config

URL = "https://shop.example/p/1"


def site(price_rule="structured", site_currency="EUR", decimal_separator=None, **selectors):
    data = {
        "name": "shop",
        "base_url": "https://shop.example",
        "start": {"products": ["/p/1"]},
        "currency": site_currency,
        "price_rule": price_rule,
        "selectors": selectors,
    }
    if decimal_separator:
        data["decimal_separator"] = decimal_separator
    return parse_site_config(data)


LISTING = """<html><body><div class="grid">
<div class="card"><a class="name" href="/p/ax-1">Axe 1kg</a>
  <div class="price"><del>€ 49,99</del> <span>€ 39,<sup>99</sup></span></div>
  <span class="stock">Only 3 left</span><span class="sold">1.2k sold</span><span class="rank">#12 in Garden</span>
  <span class="rating" data-value="4.5">★★★★½</span><span class="reviews">(1 234)</span></div>
<div class="card"><a class="name" href="/p/saw-2">Saw</a>
  <div class="price"><span>€ 19,<sup>90</sup></span></div>
  <span class="stock">Ships in 2-3 weeks</span><span class="sold">87 sold</span></div>
<div class="card"><a class="name" href="/p/crane-3">Crane</a>
  <div class="price"><span>Call for price</span></div><span class="stock">Out of stock</span></div>
</div><a class="next" href="?page=2">next</a></body></html>"""

LISTING_SITE = dict(
    listing_item=".card",
    title="a.name",
    product_link="a.name",
    price=".price",
    availability=".stock",
    sold_count=".sold",
    rank=".rank",
    rating={"css": ".rating", "attr": "data-value"},
    review_count=".reviews",
)


def test_listing_page_by_selectors():
    offers = extract_offers(LISTING, "https://shop.example/c/garden", site(**LISTING_SITE))
    assert [o.url for o in offers] == [
        "https://shop.example/p/ax-1",
        "https://shop.example/p/saw-2",
        "https://shop.example/p/crane-3",
    ]
    axe, saw, crane = offers
    assert (axe.price, axe.regular_price, axe.currency) == (
        Decimal("39.99"),
        Decimal("49.99"),
        "EUR",
    )
    assert (axe.availability, axe.stock_quantity) == ("in_stock", 3)
    assert (axe.sold_count, axe.rank, axe.rating, axe.review_count) == (1200, 12, 4.5, 1234)
    assert (saw.price, saw.regular_price, saw.availability) == (Decimal("19.90"), None, "backorder")
    assert saw.sold_count == 87
    assert crane.price is None  # "Call for price": missing, never 0
    assert crane.availability == "out_of_stock"
    assert axe.price_source == "selector" and axe.confidence == 1.0


def test_xpath_selectors_and_attributes():
    html = '<html><body><h1 id="t">Tent</h1><span id="p" data-price="129.5"></span><span id="g">EAN: 4006381333931</span></body></html>'
    offers = extract_offers(
        html,
        URL,
        site(
            title="xpath://h1[@id='t']/text()",
            price={"xpath": "//span[@id='p']", "attr": "data-price"},
            gtin="#g",
        ),
    )
    assert [(o.title, o.price, o.currency, o.gtin) for o in offers] == [
        ("Tent", Decimal("129.5"), "EUR", "4006381333931")
    ]


def test_selectors_complement_structured_data():
    html = page(
        {"@type": "Product", "name": "Kettle", "sku": "K1", "offers": {"@type": "Offer", "price": "39.90", "priceCurrency": "EUR"}},
        body='<p class="ship">Versand: 4,95 €</p><p class="stock">Nur noch 2 Stück auf Lager</p><p class="price">39,90 €</p>',
    )  # fmt: skip
    [offer] = extract_offers(
        html, URL, site(shipping=".ship", availability=".stock", price=".price")
    )
    assert (offer.price, offer.shipping, offer.availability, offer.stock_quantity) == (
        Decimal("39.90"),
        Decimal("4.95"),
        "in_stock",
        2,
    )
    assert offer.price_source == "jsonld+selector"
    assert offer.confidence == 1.0 and offer.disagreement is None


SALE_PAGE = page(
    {"@type": "Product", "name": "Kettle", "offers": {"@type": "Offer", "price": "39.90", "priceCurrency": "EUR"}},
    body='<div class="price"><s>39,90 €</s> <b>29,90 €</b></div>',
)  # fmt: skip


def test_gate_structured_rule_keeps_structured_price_and_records_all():
    [offer] = extract_offers(SALE_PAGE, URL, site(price=".price"))
    assert offer.price == Decimal("39.90")
    assert offer.confidence == 0.6
    assert offer.price_source == "jsonld"
    assert "jsonld=39.90 EUR" in offer.disagreement
    assert "selector=29.90 EUR" in offer.disagreement
    assert "price_rule=structured" in offer.disagreement
    assert [(c.source, c.amount) for c in offer.candidates] == [
        ("jsonld", Decimal("39.90")),
        ("selector", Decimal("29.90")),
    ]


def test_gate_visible_rule_lets_the_visible_sale_price_win():
    [offer] = extract_offers(SALE_PAGE, URL, site(price_rule="visible", price=".price"))
    assert offer.price == Decimal("29.90")
    assert offer.regular_price == Decimal("39.90")  # the struck-through price, kept apart
    assert offer.confidence == 0.6
    assert offer.price_source == "selector"
    assert "price_rule=visible" in offer.disagreement


def test_gate_visible_rule_and_call_for_price():
    html = page(
        {"@type": "Product", "name": "Crane", "offers": {"@type": "Offer", "price": "9999", "priceCurrency": "EUR"}},
        body='<div class="price">Call for price</div>',
    )  # fmt: skip
    [visible] = extract_offers(html, URL, site(price_rule="visible", price=".price"))
    assert visible.price is None and "shows no price" in visible.disagreement
    [structured] = extract_offers(html, URL, site(price=".price"))
    assert structured.price == Decimal("9999") and structured.confidence == 0.6


def test_currency_disagreement_is_a_disagreement():
    html = page(
        {"@type": "Product", "name": "Kettle", "offers": {"@type": "Offer", "price": "39.90", "priceCurrency": "USD"}},
        body='<div class="price">39,90 €</div>',
    )  # fmt: skip
    [offer] = extract_offers(html, URL, site(price=".price"))
    assert offer.currency == "USD" and offer.confidence == 0.6


def test_page_selectors_on_a_variant_page_fill_gaps_only():
    from crawler.bench.sample_pages import PRODUCT_GROUP

    html = PRODUCT_GROUP.replace(
        "<body>", '<body><span class="price">£1.00</span><span class="rank">#3 in Knitwear</span>'
    )
    offers = extract_offers(
        html, "https://shop.example/wj", site(site_currency="GBP", price=".price", rank=".rank")
    )
    assert [o.price for o in offers] == [Decimal("59.0"), Decimal("59.0"), Decimal("64.00")]
    assert {o.rank for o in offers} == {3}
    assert {o.confidence for o in offers} == {1.0}


def test_shipping_and_currency_selectors():
    html = '<html><body><h1>Lamp</h1><b class="p">12.50</b><i class="cur">USD</i><p class="ship">Free shipping</p></body></html>'
    config = site(title="h1", price=".p", currency=".cur", shipping=".ship")
    [offer] = extract_offers(html, URL, config)
    assert (offer.price, offer.currency, offer.shipping) == (Decimal("12.50"), "USD", Decimal("0"))
    paid = html.replace("Free shipping", "Shipping: $4.99")
    assert extract_offers(paid, URL, site(title="h1", price=".p", shipping=".ship"))[
        0
    ].shipping == Decimal("4.99")
