"""Scraped content is untrusted: extraction never crashes and never invents a price."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract import extract_offers, parse_price
from crawler.extraction.schemaorg import raw_offers_from_items

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

price_like = st.text(
    alphabet=st.sampled_from(list("0123456789.,' $€£¥kr-–/:%+#zł\u00a0\u200bCHFUSDabc()")),
    max_size=40,
)


@FAST
@given(st.one_of(st.text(max_size=60), price_like))
def test_parse_price_never_raises_and_never_goes_negative(text):
    amount, currency = parse_price(text)
    assert amount is None or (amount.is_finite() and amount >= 0)
    assert currency is None or (len(currency) == 3 and currency.isupper())
    if amount is not None and amount != 0:
        assert any(ch.isdigit() for ch in text)  # no number is made up


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "@type",
                    "@id",
                    "@graph",
                    "offers",
                    "price",
                    "priceCurrency",
                    "name",
                    "hasVariant",
                    "itemListElement",
                    "item",
                    "availability",
                    "lowPrice",
                    "priceSpecification",
                    "gtin13",
                    "sku",
                    "url",
                    "aggregateRating",
                ]
            ),
            children,
            max_size=6,
        )
    ),  # fmt: skip
    max_leaves=25,
)


@FAST
@given(json_values)
def test_extract_offers_survives_any_jsonld(data):
    raw_offers_from_items([data], "jsonld", "https://shop.example/p/1", None)  # unguarded
    html = (
        f'<html><head><script type="application/ld+json">{json.dumps(data)}</script></head></html>'
    )
    for offer in extract_offers(html, "https://shop.example/p/1"):
        assert offer.price is None or offer.price > 0
        assert offer.availability in (
            "in_stock",
            "out_of_stock",
            "preorder",
            "backorder",
            "unknown",
        )
        assert offer.title is None or len(offer.title) <= 500


@FAST
@given(st.text(max_size=300))
def test_extract_offers_survives_any_text(text):
    extract_offers(text, "https://shop.example/p/1")
    extract_offers("<html><body itemscope>" + text, "https://shop.example/p/1")


def test_decimal_sanity():
    assert parse_price("1e400")[0] in (None, Decimal("1"), Decimal("400"))
