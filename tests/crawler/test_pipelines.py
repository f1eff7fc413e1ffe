"""Settings, validation and quarantine rules, and the page guards, component by component."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
from scrapy.exceptions import DropItem
from sqlalchemy import select

from crawler.items import Offer, PriceCandidate
from crawler.middlewares.guard import is_truncated, looks_banned
from crawler.middlewares.retry import retry_after_seconds
from crawler.pipelines import NormalizePipeline, SuspectCheck, ValidatePipeline
from crawler.siteconfig import parse_site_config
from crawler.spiders.site import _page_offers
from pricing.store.history import HistoryWriter, ObservationRecord, ensure_site
from pricing.store.views import OfferState
from tests.crawler.support import site_crawler

SITE = {
    "name": "shop-x",
    "base_url": "http://127.0.0.77:8080",
    "start": {"listings": ["/c/1"]},
    "currency": "EUR",
    "politeness": {"concurrency": 3, "delay": 1.5, "obey_robots": False, "retries": 4},
}


@pytest.fixture
def crawler(tmp_path):
    return site_crawler(tmp_path, SITE)


def test_site_politeness_becomes_the_crawl_settings(crawler):
    settings = crawler.settings
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 3
    assert settings.getfloat("DOWNLOAD_DELAY") == 1.5
    assert settings.getbool("ROBOTSTXT_OBEY") is False  # the config said so; default is True
    assert settings.getint("RETRY_TIMES") == 4
    assert settings["USER_AGENT"] == "Pricewatch/0.1 (+https://github.com/pricewatch/pricewatch)"
    assert settings.getint("CONCURRENT_ITEMS") == 8
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert crawler.spider.allowed_domains == ["127.0.0.77"]
    assert parse_site_config({**SITE, "politeness": {}}).politeness.obey_robots is True


def offer(**kw) -> Offer:
    base = dict(url="http://127.0.0.77:8080/p/1", title="Kettle", price=Decimal("19.99"))
    return Offer(**{**base, **kw})


def test_validation_drops_impossible_prices_and_keeps_missing_ones(crawler):
    validate = ValidatePipeline.from_crawler(crawler)
    assert validate.process_item(offer()).currency == "EUR"  # the site's currency
    for bad, reason in (
        (offer(price=Decimal("0")), "price_not_positive"),
        (offer(price=Decimal("-3")), "price_not_positive"),
        (offer(price=Decimal("4006381333931")), "price_implausible"),  # a GTIN, not a price
        (offer(price=Decimal("NaN")), "price_not_a_number"),
        (offer(currency="XYZ"), "currency_unknown"),
        (offer(url="javascript:alert(1)"), "no_url"),
    ):
        with pytest.raises(DropItem):
            validate.process_item(bad)
        assert crawler.stats.get_value(f"pricewatch/invalid/{reason}") >= 1
    call = validate.process_item(offer(price=None, availability="weird"))
    assert call.price is None and call.availability == "unknown"
    assert crawler.stats.get_value("pricewatch/items_no_price") == 1


def test_normalize_bounds_untrusted_text(crawler):
    normalize = NormalizePipeline.from_crawler(crawler)
    item = normalize.process_item(
        offer(title="  Big\n\n kettle " + "x" * 900, gtin="4006381333931", rating=float("nan"))
    )
    assert item.title.startswith("Big kettle ") and len(item.title) == 500
    assert item.gtin == "4006381333931" and item.rating is None
    assert normalize.process_item(offer(gtin="12345")).gtin is None  # bad check digit


def test_suspect_check_messages():
    check = SuspectCheck(3.0)
    assert check(None, Decimal("10")) is None
    assert check(Decimal("10"), Decimal("12")) is None
    assert "misplaced decimal point" in check(Decimal("19.99"), Decimal("199.90"))
    assert "misplaced decimal point" in check(Decimal("199.90"), Decimal("19.99"))
    assert "beyond the ×3.0 limit" in check(Decimal("10"), Decimal("40"))
    with pytest.raises(ValueError):
        SuspectCheck(1.0)


def test_suspect_price_is_stored_flagged(db_engine):
    site_id = ensure_site(db_engine, "shop-s", "http://127.0.0.78")
    writer = HistoryWriter(db_engine, suspect_check=SuspectCheck(3.0))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    url = "http://127.0.0.78/p/1"
    for hours, price in ((0, "24.99"), (1, "249.90")):
        record = ObservationRecord(
            url=url, observed_at=t0 + timedelta(hours=hours), price=Decimal(price), currency="EUR"
        )
        writer.write(site_id, None, [record])
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(OfferState.price, OfferState.suspect, OfferState.suspect_reason).order_by(
                OfferState.valid_from
            )
        ).all()
    assert [(r.price, r.suspect) for r in rows] == [
        (Decimal("24.99"), False),
        (Decimal("249.90"), True),
    ]
    assert "misplaced decimal point" in rows[1].suspect_reason


def test_a_page_without_any_price_statement_yields_nothing():
    priced = offer()
    call = offer(
        url="http://x/p/2",
        price=None,
        candidates=[PriceCandidate("selector", None, None, "Call for price")],
    )
    hidden = offer(url="http://x/p/3", price=None, availability="out_of_stock")
    assert _page_offers([priced, hidden]) == [priced, hidden]
    assert _page_offers([call]) == [call]  # "Call for price" is a statement: kept, price missing
    assert (
        _page_offers([hidden, offer(url="http://x/p/4", price=None, availability="in_stock")]) == []
    )


def test_ban_and_truncation_detectors():
    page = b"<!DOCTYPE html><html><head><title>Kettle</title></head><body>ok</body></html>\n"
    assert not looks_banned(page) and not is_truncated(page)
    assert is_truncated(page[: len(page) // 2])
    assert looks_banned(b"<html><head><title>Access denied</title></head><body></body></html>")
    assert looks_banned(
        b'<html><body><div class="g-recaptcha" data-sitekey="x"></div></body></html>'
    )


def test_retry_after_values():
    assert retry_after_seconds(b"7") == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later.encode()) <= 31
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None
