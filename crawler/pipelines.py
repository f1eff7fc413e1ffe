"""Item pipelines: validate → normalize → write to the store in batches, tied to the run.

Items are offers, or a page's offers together (:class:`OfferBatch`): each offer of a batch is
validated, normalized and dropped on its own, a dropped one logged, signalled and counted as
Scrapy does for a dropped item. Validation drops what cannot be a real observation (a
non-positive or absurd price, a price without a known currency). A price that jumped too far since the last observation is not dropped:
the store keeps it flagged ``suspect`` with the reason (``HistoryWriter``'s ``suspect_check``),
and no pricing rule acts on it. Writes happen in a worker thread, a few thousand items at a time,
so the crawl keeps downloading while the database works; whatever is left is written on close.
"""

from __future__ import annotations

import asyncio
import logging
import math
from decimal import Decimal

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_to_future
from scrapy.utils.log import logformatter_adapter
from twisted.internet.threads import deferToThread

from crawler.context import context_of
from crawler.extract import normalize_gtin
from crawler.extraction.currency import ISO_CODES
from crawler.items import AVAILABILITY_VALUES, Offer, OfferBatch
from crawler.middlewares.conditional import PageUnchanged
from pricing.store.history import HistoryWriter, ObservationRecord

logger = logging.getLogger(__name__)


def drop_offer(crawler: Crawler, offer: Offer, exc: DropItem) -> None:
    """One offer of a batch dropped, told as Scrapy tells a dropped item: the log line
    (``LogFormatter.dropped``) and the ``item_dropped`` signal (``item_dropped_count``)."""
    spider = crawler.spider
    logkws = crawler.logformatter.dropped(offer, exc, None, spider)
    if logkws is not None:
        logger.log(*logformatter_adapter(logkws), extra={"spider": spider, "item": offer})
    crawler.signals.send_catch_log(
        signal=signals.item_dropped, item=offer, response=None, spider=spider, exception=exc
    )


class SuspectCheck:
    """``suspect_check`` for HistoryWriter: is the move from ``previous`` to ``new`` believable?

    A ×10 or ÷10 jump is the classic misplaced decimal separator; any move beyond ``factor`` is
    more often a parsing or page error than a real repricing.
    """

    def __init__(self, factor: float = 3.0):
        if factor <= 1:
            raise ValueError("PRICEWATCH_SUSPECT_FACTOR must be greater than 1")
        self.factor = Decimal(str(factor))

    def __call__(self, previous: Decimal | None, new: Decimal | None) -> str | None:
        if previous is None or new is None or previous <= 0 or new <= 0:
            return None
        ratio = new / previous
        if Decimal("9") <= ratio <= Decimal("11") or Decimal("9") <= 1 / ratio <= Decimal("11"):
            return f"price jumped ×{ratio:.2f} ({previous} → {new}): misplaced decimal point?"
        if ratio > self.factor or 1 / ratio > self.factor:
            return f"price moved ×{ratio:.2f} ({previous} → {new}), beyond the ×{self.factor} limit"
        return None


class ValidatePipeline:
    """Reject offers whose price cannot be real; count offers without a price."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.context = context_of(crawler)
        self.stats = crawler.stats
        self.max_price = Decimal(str(crawler.settings.getfloat("PRICEWATCH_MAX_PRICE", 1e7)))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def _drop(self, reason: str, offer: Offer) -> DropItem:
        self.stats.inc_value(f"pricewatch/invalid/{reason}")
        return DropItem(f"{reason}: {offer.url}")

    def process_item(self, item):
        if isinstance(item, OfferBatch):
            kept = []
            for offer in item.offers:
                try:
                    kept.append(self.validate(offer))
                except DropItem as exc:
                    drop_offer(self.crawler, offer, exc)
            item.offers = kept
            return item
        if not isinstance(item, Offer):
            return item
        return self.validate(item)

    def validate(self, item: Offer) -> Offer:
        """The offer, its currency and availability settled; DropItem if it cannot be real."""
        if not item.url or not item.url.startswith(("http://", "https://")):
            raise self._drop("no_url", item)
        if item.price is None:
            # "Call for price" and the like: the offer is real, its price is unknown, never 0.
            self.stats.inc_value("pricewatch/items_no_price")
        else:
            if not isinstance(item.price, Decimal) or not item.price.is_finite():
                raise self._drop("price_not_a_number", item)
            if item.price <= 0:
                raise self._drop("price_not_positive", item)
            if item.price > self.max_price:
                raise self._drop("price_implausible", item)
            item.currency = (item.currency or self.context.site.currency or "").upper() or None
            if item.currency is None:
                raise self._drop("currency_missing", item)
            if item.currency not in ISO_CODES:
                raise self._drop("currency_unknown", item)
        regular = item.regular_price
        if regular is not None and (
            not isinstance(regular, Decimal)
            or not regular.is_finite()
            or not 0 < regular <= self.max_price
        ):
            item.regular_price = None
        if item.availability not in AVAILABILITY_VALUES:
            item.availability = "unknown"
        if item.disagreement:
            self.stats.inc_value("pricewatch/price_disagreements")
        return item


def _text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    # Runs of whitespace made one space, ends stripped: re.sub(r"\s+", " ", ...).strip()
    # without the regex (str.split and \s agree on what whitespace is); four fields an offer.
    value = " ".join(str(value).split())
    return value[:limit] or None


def _count(value: int | None) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


class NormalizePipeline:
    """Bounded, cleaned values in the shapes the store keeps (scraped text is untrusted)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        context_of(crawler)
        return cls()

    def process_item(self, item):
        if isinstance(item, OfferBatch):
            for offer in item.offers:
                self.normalize(offer)
            return item
        if not isinstance(item, Offer):
            return item
        return self.normalize(item)

    @staticmethod
    def normalize(item: Offer) -> Offer:
        item.title = _text(item.title, 500)
        item.brand = _text(item.brand, 200)
        item.mpn = _text(item.mpn, 100)
        item.sku = _text(item.sku, 100)
        item.gtin = normalize_gtin(item.gtin)
        item.stock_quantity = _count(item.stock_quantity)
        item.review_count = _count(item.review_count)
        item.sold_count = _count(item.sold_count)
        item.rank = _count(item.rank)
        if item.rating is not None and (math.isnan(item.rating) or not 0 <= item.rating <= 10):
            item.rating = None
        if item.shipping is not None and (not item.shipping.is_finite() or item.shipping < 0):
            item.shipping = None
        return item


def to_record(offer: Offer) -> ObservationRecord:
    return ObservationRecord(
        url=offer.url,
        observed_at=offer.observed_at,
        title=offer.title,
        brand=offer.brand,
        gtin=offer.gtin,
        mpn=offer.mpn,
        site_sku=offer.sku,
        price=offer.price,
        regular_price=offer.regular_price,
        shipping=offer.shipping,
        currency=offer.currency,
        availability=offer.availability,
        stock_quantity=offer.stock_quantity,
        review_count=offer.review_count,
        sold_count=offer.sold_count,
        rank=offer.rank,
        rating=offer.rating,
        suspect=offer.suspect,
        price_source=offer.price_source,
        confidence=offer.confidence,
    )


class StorePipeline:
    """Batch writer: one transaction per few thousand offers, in a thread, tied to the run."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.context = context_of(crawler)
        self.stats = crawler.stats
        settings = crawler.settings
        self.batch = settings.getint("PRICEWATCH_STORE_BATCH", 2000)
        self.writer = HistoryWriter(
            self.context.engine,
            suspect_check=SuspectCheck(settings.getfloat("PRICEWATCH_SUSPECT_FACTOR", 3.0)),
        )
        self.records: list[ObservationRecord] = []
        self.touched: list[PageUnchanged] = []
        self.lock = asyncio.Lock()
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item):
        if self.failed:
            exc = DropItem("the store failed earlier in this run", log_level="DEBUG")
            if not isinstance(item, OfferBatch):
                raise exc
            for offer in item.offers:
                drop_offer(self.crawler, offer, exc)
            item.offers = []
            return item
        if isinstance(item, OfferBatch):
            self.records.extend(map(to_record, item.offers))
            if len(self.records) >= self.batch:
                await self.flush()
            return item
        if isinstance(item, PageUnchanged):
            self.touched.append(item)
            if sum(len(t.offer_urls) for t in self.touched) >= self.batch:
                await self.flush()
            raise DropItem("unchanged page (304): offers extended", log_level="DEBUG")
        if isinstance(item, Offer):
            self.records.append(to_record(item))
            if len(self.records) >= self.batch:
                await self.flush()
        return item

    async def close_spider(self) -> None:
        await self.flush()

    async def flush(self) -> None:
        records, self.records = self.records, []
        touched, self.touched = self.touched, []
        if not records and not touched:
            return
        async with self.lock:  # one write at a time per crawl: history is applied in order
            try:
                result, extended = await deferred_to_future(
                    deferToThread(self._write, records, touched)
                )
            except Exception:
                self.failed = True
                self.stats.inc_value("pricewatch/store_errors")
                logger.exception("writing %d offers to the store failed", len(records))
                asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="store_error"))
                return
        if result is not None:
            for key in ("offers_created", "rows_inserted", "rows_extended", "suspect", "stale"):
                self.stats.inc_value(f"pricewatch/store/{key}", getattr(result, key))
        self.stats.inc_value("pricewatch/offers_touched", extended)

    def _write(self, records: list[ObservationRecord], touched: list[PageUnchanged]):
        """Runs in a worker thread: touches nothing of Scrapy's."""
        site_id, run_id = self.context.site_id, self.context.run_id
        result = self.writer.write(site_id, run_id, records) if records else None
        extended = 0
        if touched:
            urls = [url for page in touched for url in page.offer_urls]
            # One transaction for all; the earliest sighting is the safe "seen until".
            seen_at = min(page.seen_at for page in touched)
            extended = self.writer.touch(site_id, run_id, urls, seen_at)
        return result, extended
