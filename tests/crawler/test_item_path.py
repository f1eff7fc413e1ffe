"""The cheap item path: a page's offers as one item, quiet DEBUG logs, a page parsed once.

Each shortcut must answer exactly as the long way did: offers of a batch are validated,
dropped and stored one by one; the log formatter still logs what LOG_LEVEL shows; links read
from extraction's tree equal Scrapy's own selector; plain API paths equal jmespath.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import jmespath
import pytest
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from sqlalchemy import select

from crawler.extract import extract_page
from crawler.items import Offer, OfferBatch
from crawler.jsonapi import FieldPath, compile_path
from crawler.logformatter import QuietLogFormatter, shown_level
from crawler.middlewares.guard import looks_banned
from crawler.pipelines import NormalizePipeline, StorePipeline, ValidatePipeline
from crawler.siteconfig import Selector, parse_site_config
from crawler.spiders.site import select_all
from pricing.store.models import Offer as StoredOffer
from tests.crawler.support import site_crawler

SITE = {
    "name": "shop-b",
    "base_url": "http://127.0.0.79:8080",
    "start": {"listings": ["/c/1"]},
    "currency": "EUR",
    "politeness": {"obey_robots": False},
    "selectors": {"listing_item": "li.card", "title": ".name", "price": ".price"},
}
LISTING = """<!DOCTYPE html><html><head><title>Kettles</title></head><body><ul>
<li class="card"><a class="name" href="/p/1">Kettle <b>one</b></a><span class="price">€ 19,99</span></li>
<li class="card"><a class="name" href="/p/2">Kettle two</a><span class="price">€ 24,50</span></li>
</ul><!-- pager --><a class="next" href="/c/1?page=2"> Next <!-- c --> page </a>
<link rel="next" href="/c/1?page=2"></body></html>"""


@pytest.fixture
def crawler(tmp_path):
    return site_crawler(tmp_path, SITE)


def offer(url: str, **kw) -> Offer:
    return Offer(**{"url": url, "title": "Kettle", "price": Decimal("19.99"), **kw})


def test_a_batch_is_validated_normalized_and_stored_offer_by_offer(crawler):
    dropped: list[tuple[Offer, str]] = []

    def on_dropped(item, exception):
        dropped.append((item, str(exception)))

    crawler.signals.connect(on_dropped, signal=signals.item_dropped)
    bad = offer("http://127.0.0.79:8080/p/2", price=Decimal("0"))
    batch = OfferBatch(
        url="http://127.0.0.79:8080/c/1",
        offers=[
            offer("http://127.0.0.79:8080/p/1", title="  Big \n kettle "),
            bad,
            offer("http://127.0.0.79:8080/p/3", price=None),
        ],
    )
    batch = ValidatePipeline.from_crawler(crawler).process_item(batch)
    batch = NormalizePipeline.from_crawler(crawler).process_item(batch)
    assert [o.url[-3:] for o in batch.offers] == ["p/1", "p/3"]
    assert batch.offers[0].title == "Big kettle" and batch.offers[0].currency == "EUR"
    # The dropped offer was told as Scrapy tells a dropped item, and counted.
    assert dropped == [(bad, f"price_not_positive: {bad.url}")]
    stats = crawler.stats
    assert stats.get_value("item_dropped_count") == 1
    assert stats.get_value("item_dropped_reasons_count/DropItem") == 1
    assert stats.get_value("pricewatch/invalid/price_not_positive") == 1
    assert stats.get_value("pricewatch/items_no_price") == 1
    # A single offer still goes through as before (and still raises).
    with pytest.raises(DropItem):
        ValidatePipeline.from_crawler(crawler).process_item(bad)

    store = StorePipeline.from_crawler(crawler)
    for o in batch.offers:
        o.site, o.observed_at = "shop-b", datetime.now(UTC)
    assert _run(store.process_item(batch)) is batch and len(store.records) == 2
    store._write(store.records, [])  # what flush() runs in a worker thread
    with crawler.spider.context.engine.connect() as conn:
        urls = sorted(conn.scalars(select(StoredOffer.url)))
    assert urls == ["http://127.0.0.79:8080/p/1", "http://127.0.0.79:8080/p/3"]


def _run(coroutine):
    """Drive a coroutine that does not suspend (no flush is due): no reactor needed."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended")


def test_item_scraped_count_counts_the_offers_of_a_batch(crawler):
    stats = crawler.stats
    stats.set_value("item_scraped_count", 0)
    for size in (3, 1, 0):  # OfferStats, Scrapy's CoreStats, counts a batch as its offers
        batch = OfferBatch(url="http://x/c", offers=[offer(f"http://x/p/{i}") for i in range(size)])
        crawler.signals.send_catch_log(signal=signals.item_scraped, item=batch, spider=None)
    assert stats.get_value("item_scraped_count") == 4


def test_quiet_log_formatter_skips_only_what_is_not_shown():
    request = Request("http://x/p/1")
    response = HtmlResponse("http://x/p/1", body=b"<html></html>", request=request)
    quiet = QuietLogFormatter(logging.INFO)
    assert quiet.crawled(request, response, None) is None
    assert quiet.scraped({"a": 1}, response, None) is None
    unchanged = DropItem("unchanged page (304)", log_level="DEBUG")
    assert quiet.dropped({}, unchanged, response, None) is None
    shown = quiet.dropped({}, DropItem("price_not_positive", log_level="WARNING"), response, None)
    assert shown is not None and shown["level"] == logging.WARNING
    loud = QuietLogFormatter(logging.DEBUG)
    assert loud.crawled(request, response, None)["level"] == logging.DEBUG
    assert loud.scraped({"a": 1}, response, None)["level"] == logging.DEBUG
    assert shown_level(Settings({"LOG_LEVEL": "INFO"})) == logging.INFO
    assert shown_level(Settings({"LOG_LEVEL": 10})) == logging.DEBUG
    assert shown_level(Settings({"LOG_ENABLED": False, "LOG_LEVEL": "DEBUG"})) == logging.WARNING


def test_links_read_from_extractions_tree_equal_scrapys_selector():
    site = parse_site_config(SITE)
    url = "http://127.0.0.79:8080/c/1"
    response = HtmlResponse(url, body=LISTING.encode(), encoding="utf-8")
    offers, root = extract_page(response.text, url, site)
    assert len(offers) == 2 and root is not None
    for selector in (
        Selector(css="a.next", attr="href"),
        Selector(css="a.name"),  # text: read from Scrapy's selector (comments kept there)
        Selector(css="a.next"),
        Selector(css="link[rel=next]::attr(href), a[rel=next]::attr(href)"),
        Selector(xpath="//li[@class='card']/a", attr="href"),
        Selector(css="span.price::text"),
    ):
        assert select_all(response, selector, root) == select_all(response, selector), selector


def test_plain_api_paths_answer_as_jmespath():
    rows = [
        {"price": {"amount": 9.5}},
        {"price": [1, 2]},
        {"price": None},
        {"price": {"amount": 0}},
        {"price": {"amount": False}},
        {},
        [1],
        "text",
    ]
    for path in ("price", "price.amount", "price.amount.x", "items", "a_1.b2"):
        compiled = compile_path(path)
        assert isinstance(compiled, FieldPath)
        for row in rows:
            assert compiled.search(row) == jmespath.search(path, row), (path, row)
    assert not isinstance(compile_path("items[*].price"), FieldPath)
    assert not isinstance(compile_path('"quoted key"'), FieldPath)


def test_ban_detector_ignores_case_like_before():
    assert looks_banned(b"<HTML><HEAD><TITLE>Just A Moment...</TITLE></HEAD></HTML>")
    assert looks_banned(b'<script src="https://www.Google.com/ReCaptcha/API.js"></script>')
    assert looks_banned(b"<iframe src='https://Challenges.Cloudflare.com/x'></iframe>")
    assert not looks_banned(b"<html><title>Kettles</title><p>captcha</p></html>")
