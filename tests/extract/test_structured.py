"""extract_offers on the shapes real shops give schema.org data (one test per shape)."""

from __future__ import annotations

from decimal import Decimal

from crawler.bench.sample_pages import (
    MICRODATA_LISTING,
    PRODUCT_GROUP,
    SHOPIFY_OFFERS,
    WOO_GRAPH,
    page,
)
from crawler.extract import MAX_HTML_CHARS, extract_offers

URL = "https://shop.example/p/1"


def one(html: str, url: str = URL, site=None):
    offers = extract_offers(html, url, site)
    assert len(offers) == 1, offers
    return offers[0]


def test_graph_with_id_references_and_strikethrough_spec():
    offer = one(WOO_GRAPH, "https://shop.example/p/kettle/")
    assert offer.title == "Electric Kettle 1.7 L"
    assert (offer.price, offer.regular_price, offer.currency) == (
        Decimal("39.90"),
        Decimal("49.90"),
        "EUR",
    )
    assert (offer.availability, offer.sku, offer.gtin, offer.brand) == (
        "in_stock",
        "KET-17",
        "4006381333931",
        "Boilco",
    )
    assert (offer.rating, offer.review_count) == (4.6, 87)
    assert (offer.price_source, offer.confidence, offer.disagreement) == ("jsonld", 1.0, None)
    assert offer.url == "https://shop.example/p/kettle/"


def test_several_blocks_only_the_product_is_an_offer():
    html = page(
        {"@context": "https://schema.org", "@type": "Organization", "name": "Shop", "url": "https://shop.example"},
        {"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Home", "item": "https://shop.example/"}]},
        {"@type": "Product", "name": "Desk", "offers": {"@type": "Offer", "price": 199, "priceCurrency": "USD", "availability": "InStock"}},
    )  # fmt: skip
    offer = one(html)
    assert (offer.title, offer.price, offer.currency, offer.availability) == (
        "Desk",
        Decimal("199"),
        "USD",
        "in_stock",
    )


def test_broken_block_does_not_hide_the_good_one():
    html = page(
        '{"@type": "Product", "name": "broken", "offers": {"price": 1,,}',
        {"@type": "Product", "name": "Chair", "offers": {"@type": "Offer", "price": "45.00", "priceCurrency": "EUR"}},
    )  # fmt: skip
    assert one(html).title == "Chair"


def test_aggregate_offer_takes_low_price_and_says_so():
    html = page(
        {"@type": "Product", "name": "Phone case", "offers": {"@type": "AggregateOffer", "lowPrice": "9.99", "highPrice": "24.99", "offerCount": 7, "priceCurrency": "USD"}}
    )  # fmt: skip
    offer = one(html)
    assert offer.price == Decimal("9.99")
    assert offer.price_source == "jsonld:lowPrice"
    assert offer.confidence < 1.0


def test_aggregate_offer_with_nested_offers_uses_them():
    html = page(
        {"@type": "Product", "name": "Router", "offers": {"@type": "AggregateOffer", "lowPrice": 80, "highPrice": 95, "priceCurrency": "EUR",
         "offers": [{"@type": "Offer", "price": 80, "priceCurrency": "EUR", "seller": {"name": "A"}}, {"@type": "Offer", "price": 95, "priceCurrency": "EUR", "seller": {"name": "B"}}]}}
    )  # fmt: skip
    offer = one(html)
    assert offer.price == Decimal("80")
    assert offer.price_source == "jsonld"


def test_product_group_gives_one_offer_per_variant():
    offers = extract_offers(PRODUCT_GROUP, "https://shop.example/wj")
    assert [o.sku for o in offers] == ["WJ-S-RED", "WJ-M-RED", "WJ-L-BLUE"]
    assert [o.availability for o in offers] == ["in_stock", "out_of_stock", "preorder"]
    assert [o.price for o in offers] == [Decimal("59.0"), Decimal("59.0"), Decimal("64.00")]
    assert offers[0].variant == "colour=red; size=S"
    assert {o.brand for o in offers} == {"Knitwell"}
    assert {o.review_count for o in offers} == {31}
    assert offers[0].gtin == "0036000291452"
    # Every variant has its own identity in the store, even without its own URL.
    assert len({o.url for o in offers}) == 3
    assert offers[2].url == "https://shop.example/wj#variant=WJ-L-BLUE"


def test_offers_array_with_different_skus_is_variants():
    offers = extract_offers(SHOPIFY_OFFERS, "https://shop.example/products/trail-sock")
    assert [(o.sku, o.price, o.availability) for o in offers] == [
        ("TS-39", Decimal("12.95"), "in_stock"),
        ("TS-43", Decimal("13.95"), "out_of_stock"),
    ]
    assert offers[1].url.endswith("?variant=222")
    assert {o.title for o in offers} == {"Trail Sock - 39-42", "Trail Sock - 43-46"} or {
        o.title for o in offers
    } == {"Trail Sock"}


def test_offers_array_of_sellers_for_one_item_is_one_offer():
    html = page(
        {"@type": "Product", "name": "Book", "gtin13": "9783161484100", "offers": [
            {"@type": "Offer", "price": "20.00", "priceCurrency": "EUR", "itemCondition": "NewCondition"},
            {"@type": "Offer", "price": "12.00", "priceCurrency": "EUR", "itemCondition": "UsedCondition"}]}
    )  # fmt: skip
    offer = one(html)
    assert offer.price == Decimal("20.00")


def test_prices_as_numbers_and_strings():
    for raw, expected in [(19.99, "19.99"), ("19.99", "19.99"), ("1,299.00", "1299.00"), (1299, "1299"), ("€ 5,50", "5.50")]:  # fmt: skip
        html = page(
            {
                "@type": "Product",
                "name": "X",
                "offers": {"@type": "Offer", "price": raw, "priceCurrency": "EUR"},
            }
        )
        assert one(html).price == Decimal(expected), raw


def test_price_only_in_price_specification():
    html = page(
        {"@type": "Product", "name": "TV", "offers": {"@type": "Offer", "availability": "https://schema.org/BackOrder",
         "priceSpecification": [{"@type": "UnitPriceSpecification", "priceType": "https://schema.org/ListPrice", "price": 899, "priceCurrency": "CHF"},
                                {"@type": "UnitPriceSpecification", "price": 749, "priceCurrency": "CHF"}]}}
    )  # fmt: skip
    offer = one(html)
    assert (offer.price, offer.regular_price, offer.currency, offer.availability) == (
        Decimal("749"),
        Decimal("899"),
        "CHF",
        "backorder",
    )


def test_availability_in_every_spelling():
    cases = {
        "http://schema.org/InStock": "in_stock",
        "https://schema.org/OutOfStock": "out_of_stock",
        "InStock": "in_stock",
        "in stock": "in_stock",
        "LimitedAvailability": "in_stock",
        "SoldOut": "out_of_stock",
        "BackOrder": "backorder",
        "PreOrder": "preorder",
        "Discontinued": "out_of_stock",
        "https://schema.org/PreSale": "preorder",
        "something else": "unknown",
    }
    for raw, expected in cases.items():
        html = page(
            {
                "@type": "Product",
                "name": "X",
                "offers": {"price": 5, "priceCurrency": "USD", "availability": raw},
            }
        )
        assert one(html).availability == expected, raw


def test_inventory_level_and_shipping_details():
    html = page(
        {"@type": "Product", "name": "Drill", "offers": {"@type": "Offer", "price": "89.00", "priceCurrency": "EUR",
         "availability": "https://schema.org/InStock", "inventoryLevel": {"@type": "QuantitativeValue", "value": 3},
         "shippingDetails": [{"@type": "OfferShippingDetails", "shippingRate": {"@type": "MonetaryAmount", "value": 5.95, "currency": "EUR"}},
                             {"@type": "OfferShippingDetails", "shippingRate": {"@type": "MonetaryAmount", "value": "0", "currency": "EUR"}}]}}
    )  # fmt: skip
    offer = one(html)
    assert offer.stock_quantity == 3
    assert offer.shipping == Decimal("0")  # the cheapest stated rate


def test_itemlist_listing_gives_many_offers_with_their_urls():
    html = page(
        {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": [
            {"@type": "ListItem", "position": i, "item": {"@type": "Product", "name": f"Mug {i}", "url": f"/p/mug-{i}",
             "offers": {"@type": "Offer", "price": f"{i}.50", "priceCurrency": "GBP"}}} for i in range(1, 6)]}
    )  # fmt: skip
    offers = extract_offers(html, "https://shop.example/c/mugs?page=2")
    assert [o.url for o in offers] == [f"https://shop.example/p/mug-{i}" for i in range(1, 6)]
    assert [o.price for o in offers] == [Decimal(f"{i}.50") for i in range(1, 6)]


def test_microdata_listing():
    offers = extract_offers(MICRODATA_LISTING, "https://shop.example/c/lamps")
    assert [(o.title, o.price, o.availability) for o in offers] == [
        ("Lamp A", Decimal("24.50"), "in_stock"),
        ("Lamp B", Decimal("31.00"), "out_of_stock"),
        ("Lamp C", Decimal("9.99"), "in_stock"),
    ]
    assert offers[1].url == "https://shop.example/p/b"
    assert {o.price_source for o in offers} == {"microdata"}


def test_microdata_mixed_with_jsonld_agree():
    html = page(
        {"@type": "Product", "name": "Blender", "sku": "B1", "offers": {"@type": "Offer", "price": "59.00", "priceCurrency": "EUR"}},
        head='<meta property="og:type" content="product"><meta property="product:price:amount" content="59.00"><meta property="product:price:currency" content="EUR">',
        body='<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Blender</h1><meta itemprop="sku" content="B1">'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer"><span itemprop="price" content="59.00">59,00 €</span>'
        '<meta itemprop="priceCurrency" content="EUR"><link itemprop="availability" href="https://schema.org/InStock"></div></div>',
    )  # fmt: skip
    offer = one(html)
    assert offer.price == Decimal("59.00")
    assert offer.price_source == "jsonld+microdata+opengraph"
    assert offer.confidence == 1.0
    assert offer.availability == "in_stock"  # only microdata said it
    assert [c.source for c in offer.candidates] == ["jsonld", "microdata", "opengraph"]


def test_microdata_disagreeing_with_jsonld_is_recorded():
    html = page(
        {"@type": "Product", "name": "Blender", "offers": {"@type": "Offer", "price": "59.00", "priceCurrency": "EUR"}},
        body='<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Blender</h1>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer"><span itemprop="price" content="54.00">54,00 €</span>'
        '<meta itemprop="priceCurrency" content="EUR"></div></div>',
    )  # fmt: skip
    offer = one(html)
    assert offer.price == Decimal("59.00")
    assert offer.confidence == 0.6
    assert "jsonld=59.00 EUR" in offer.disagreement and "microdata=54.00 EUR" in offer.disagreement
    assert "price_rule=structured" in offer.disagreement


def test_opengraph_only():
    head = (
        '<meta property="og:type" content="product"><meta property="og:title" content="Garden Hose 20 m">'
        '<meta property="product:price:amount" content="24.99"><meta property="product:price:currency" content="USD">'
        '<meta property="product:availability" content="out of stock"><meta property="product:retailer_item_id" content="GH20">'
    )
    offer = one(page(head=head))
    assert (offer.title, offer.price, offer.currency, offer.availability, offer.sku) == (
        "Garden Hose 20 m",
        Decimal("24.99"),
        "USD",
        "out_of_stock",
        "GH20",
    )
    assert offer.price_source == "opengraph"


def test_gtin_normalized_and_invalid_dropped():
    base = {"@type": "Product", "name": "X", "offers": {"price": 1, "priceCurrency": "EUR"}}
    assert one(page({**base, "gtin12": "036000291452"})).gtin == "0036000291452"
    assert one(page({**base, "gtin14": "00036000291452"})).gtin == "0036000291452"
    assert one(page({**base, "gtin8": "96385074"})).gtin == "96385074"
    assert one(page({**base, "gtin13": "4006381333932"})).gtin is None  # bad check digit
    assert one(page({**base, "gtin13": "SKU-123"})).gtin is None


def test_untrusted_text_is_cleaned_and_bounded():
    title = "Bad\u200b Title\x00 " + "x" * 5000
    offer = one(
        page({"@type": "Product", "name": title, "offers": {"price": 1, "priceCurrency": "EUR"}})
    )
    assert offer.title.startswith("Bad Title x")
    assert len(offer.title) == 500


def test_no_price_is_none_never_zero():
    html = page(
        {
            "@type": "Product",
            "name": "Crane",
            "offers": {"@type": "Offer", "price": "0", "priceCurrency": "EUR"},
        }
    )
    offer = one(html)
    assert offer.price is None
    assert offer.disagreement.startswith("no usable price")


def test_oversized_page_is_not_parsed_beyond_the_limit():
    filler = "<p>" + "x" * (MAX_HTML_CHARS + 10) + "</p>"
    late = page(body=filler).replace(
        "</body>",
        '<script type="application/ld+json">{"@type":"Product","name":"late","offers":{"price":1}}</script></body>',
    )
    assert extract_offers(late, URL) == []


def test_pages_without_data():
    assert extract_offers("", URL) == []
    assert extract_offers("<html><body><p>Hello</p></body></html>", URL) == []
    assert extract_offers("\x00\x01 not html at all", URL) == []


def test_jsonld_script_type_variants_and_escaped_json():
    html = (
        '<html><head><script type="application/ld+json; charset=utf-8">'
        '{"@type": "Product", "name": "Fan", "offers": {"price": "15.00", "priceCurrency": "EUR"}}</script>'
        '<script type="Application/LD+JSON">{&quot;@type&quot;: &quot;Product&quot;, &quot;name&quot;: &quot;Heater&quot;,'
        " &quot;offers&quot;: {&quot;price&quot;: 30, &quot;priceCurrency&quot;: &quot;EUR&quot;}}</script>"
        "</head><body></body></html>"
    )
    offers = extract_offers(html, URL)
    assert [(o.title, o.price) for o in offers] == [
        ("Fan", Decimal("15.00")),
        ("Heater", Decimal("30")),
    ]


def test_listitem_url_is_the_product_link():
    html = page(
        {"@type": "ItemList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "url": "/p/a", "item": {"@type": "Product", "name": "A", "offers": {"price": 3, "priceCurrency": "EUR"}}},
            {"@type": "ListItem", "position": 2, "url": "/p/b", "item": {"@type": "Product", "name": "B", "offers": {"price": 4, "priceCurrency": "EUR"}}}]}
    )  # fmt: skip
    offers = extract_offers(html, "https://shop.example/c/x")
    assert [(o.url, o.price) for o in offers] == [
        ("https://shop.example/p/a", Decimal("3")),
        ("https://shop.example/p/b", Decimal("4")),
    ]
