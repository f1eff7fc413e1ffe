"""Hand-written page snippets modelled on real shop markup (Shopify, WooCommerce/Yoast,
Magento, BigCommerce, Google's merchant examples). Shared by the extraction tests and by
``pricewatch bench parse-price``, which pads them with :func:`boilerplate` to real page size."""

from __future__ import annotations

import json


def page(*jsonld: object, head: str = "", body: str = "") -> str:
    blocks = "".join(
        f'<script type="application/ld+json">{b if isinstance(b, str) else json.dumps(b)}</script>'
        for b in jsonld
    )
    return f"<!DOCTYPE html><html><head><title>t</title>{head}{blocks}</head><body>{body}</body></html>"


WOO_GRAPH = page(
    {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "Organization", "@id": "https://shop.example/#org", "name": "Shop"},
            {
                "@type": "WebPage",
                "@id": "https://shop.example/p/kettle/#webpage",
                "mainEntity": {"@id": "https://shop.example/p/kettle/#product"},
            },
            {
                "@type": "Product",
                "@id": "https://shop.example/p/kettle/#product",
                "name": "Electric Kettle 1.7 L",
                "sku": "KET-17",
                "gtin13": "4006381333931",
                "brand": {"@type": "Brand", "name": "Boilco"},
                "offers": [
                    {
                        "@type": "Offer",
                        "price": "39.90",
                        "priceCurrency": "EUR",
                        "availability": "http://schema.org/InStock",
                        "priceSpecification": [
                            {
                                "@type": "UnitPriceSpecification",
                                "price": "39.90",
                                "priceCurrency": "EUR",
                            },
                            {
                                "@type": "UnitPriceSpecification",
                                "priceType": "https://schema.org/StrikethroughPrice",
                                "price": "49.90",
                                "priceCurrency": "EUR",
                            },
                        ],
                    }
                ],
                "aggregateRating": {
                    "@type": "AggregateRating",
                    "ratingValue": 4.6,
                    "ratingCount": 87,
                },
            },
        ],
    }
)

PRODUCT_GROUP = page(
    {
        "@context": "https://schema.org/",
        "@type": "ProductGroup",
        "name": "Wool Jumper",
        "productGroupID": "WJ",
        "brand": {"@type": "Brand", "name": "Knitwell"},
        "variesBy": ["https://schema.org/size", "https://schema.org/color"],
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4.2", "reviewCount": "31"},
        "hasVariant": [
            {
                "@type": "Product",
                "sku": "WJ-S-RED",
                "gtin": "0036000291452",
                "name": "Wool Jumper S red",
                "size": "S",
                "color": "red",
                "url": "https://shop.example/wj?variant=1",
                "offers": {
                    "@type": "Offer",
                    "price": 59.0,
                    "priceCurrency": "GBP",
                    "availability": "https://schema.org/InStock",
                },
            },
            {
                "@type": "Product",
                "sku": "WJ-M-RED",
                "name": "Wool Jumper M red",
                "size": "M",
                "color": "red",
                "url": "https://shop.example/wj?variant=2",
                "offers": {
                    "@type": "Offer",
                    "price": 59.0,
                    "priceCurrency": "GBP",
                    "availability": "https://schema.org/OutOfStock",
                },
            },
            {
                "@type": "Product",
                "sku": "WJ-L-BLUE",
                "name": "Wool Jumper L blue",
                "size": "L",
                "color": "blue",
                "offers": {
                    "@type": "Offer",
                    "price": "64.00",
                    "priceCurrency": "GBP",
                    "availability": "https://schema.org/PreOrder",
                },
            },
        ],
    }
)

SHOPIFY_OFFERS = page(
    {
        "@context": "http://schema.org/",
        "@type": "Product",
        "name": "Trail Sock",
        "url": "https://shop.example/products/trail-sock",
        "brand": {"@type": "Brand", "name": "Footie"},
        "offers": [
            {
                "@type": "Offer",
                "sku": "TS-39",
                "name": "Trail Sock - 39-42",
                "price": "12.95",
                "priceCurrency": "USD",
                "availability": "http://schema.org/InStock",
                "url": "https://shop.example/products/trail-sock?variant=111",
            },
            {
                "@type": "Offer",
                "sku": "TS-43",
                "name": "Trail Sock - 43-46",
                "price": "13.95",
                "priceCurrency": "USD",
                "availability": "http://schema.org/SoldOut",
                "url": "https://shop.example/products/trail-sock?variant=222",
            },
        ],
    }
)

MICRODATA_LISTING = """<html><body><ul>
<li itemscope itemtype="http://schema.org/Product"><a itemprop="url" href="/p/a"><span itemprop="name">Lamp A</span></a>
 <div itemprop="offers" itemscope itemtype="http://schema.org/Offer"><span itemprop="price" content="24.50">24,50 €</span>
 <meta itemprop="priceCurrency" content="EUR"><link itemprop="availability" href="http://schema.org/InStock"></div></li>
<li itemscope itemtype="http://schema.org/Product"><a itemprop="url" href="/p/b"><span itemprop="name">Lamp B</span></a>
 <div itemprop="offers" itemscope itemtype="http://schema.org/Offer"><span itemprop="price" content="31.00">31,00 €</span>
 <meta itemprop="priceCurrency" content="EUR"><link itemprop="availability" href="http://schema.org/OutOfStock"></div></li>
<li itemscope itemtype="http://schema.org/Product"><a itemprop="url" href="/p/c"><span itemprop="name">Lamp C</span></a>
 <div itemprop="offers" itemscope itemtype="http://schema.org/Offer"><span itemprop="price" content="9.99">9,99 €</span>
 <meta itemprop="priceCurrency" content="EUR"><link itemprop="availability" href="http://schema.org/InStock"></div></li>
</ul></body></html>"""


def boilerplate(kb: int = 80) -> str:
    """Navigation, footer and inline script as real shop pages carry (most of their bytes)."""
    nav = "".join(
        f'<li class="nav-item"><a href="/c/{i}" class="nav-link" data-id="{i}">Category {i}</a>'
        f'<ul class="sub">{"".join(f"<li><a href=/c/{i}/{j}>Sub {j}</a></li>" for j in range(8))}</ul></li>'
        for i in range(40)
    )
    script = "<script>window.__STATE__=" + json.dumps({"k": ["v" * 40] * 200}) + ";</script>"
    block = f'<header><nav><ul class="menu">{nav}</ul></nav></header>{script}'
    footer = (
        "<footer>"
        + "".join(f"<p class='legal'>Line {i} of small print.</p>" for i in range(60))
        + "</footer>"
    )
    text = block + footer
    while len(text) < kb * 1024:
        text += block
    return text[: kb * 1024].rsplit("<", 1)[0]


def padded(html: str, kb: int = 80) -> str:
    """``html`` with real-page bulk in its body."""
    return html.replace("<body>", "<body>" + boilerplate(kb), 1)


#: (name, page, url) representative of the crawl: mostly product pages with JSON-LD, some
#: with microdata/OpenGraph too, some listings.
REPRESENTATIVE = (
    ("woo_graph", WOO_GRAPH, "https://shop.example/p/kettle/"),
    ("product_group", PRODUCT_GROUP, "https://shop.example/wj"),
    ("shopify_offers", SHOPIFY_OFFERS, "https://shop.example/products/trail-sock"),
    ("microdata_listing", MICRODATA_LISTING, "https://shop.example/c/lamps"),
)
