"""Splitting one site's crawl into batches that many workers can share.

A batch is shard ``number`` of ``count`` of a site's crawl in one cycle. Nothing is fetched to
plan it: the shard is applied by :class:`BatchFilter` (a spider middleware) while the batch's
own Scrapy crawl runs, so every worker derives the same partition from the same site config:

* in ``listing`` mode (offers read from listing pages) the config's listing URLs are dealt
  round-robin by position (shard ``i % count``): a category and its whole pagination chain
  belong to one batch; listings found in a sitemap go by a stable hash of their URL;
* product pages go by the hash of their URL wherever they were found (sitemap, listing, the
  config), so a sitemap that changes between two workers' reads still puts each product in
  exactly one batch; in ``product`` mode every batch reads the listings, as an index;
* sitemaps are read by every batch (they are cheap); a JSON API is paged by one batch.

Batch ids are deterministic per cycle (``cycle:site:number/count``), so enqueueing a cycle twice
names the same batches, and the ``crawl_batches`` table makes running one twice harmless.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.siteconfig import SiteConfig

BATCH_SETTING = "PRICEWATCH_BATCH"  # "number/count", set for a batch's crawl process
TRIGGER_PREFIX = "batch "
SHARDED_KINDS = frozenset({"listing", "product"})


@dataclass(frozen=True, slots=True)
class Batch:
    cycle: str
    site: str
    number: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.number < self.count:
            raise ValueError(f"batch number {self.number} is not in 0..{self.count - 1}")

    @property
    def id(self) -> str:
        return f"{self.cycle}:{self.site}:{self.shard}"

    @property
    def shard(self) -> str:
        return f"{self.number}/{self.count}"

    @property
    def trigger(self) -> str:
        """Recorded on the batch's crawl run: names the batch, so runs are traceable."""
        return f"{TRIGGER_PREFIX}{self.shard} {self.cycle}"[:100]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_shard(value: str) -> tuple[int, int]:
    """``"2/5"`` -> (2, 5), with a clear error for anything else."""
    number, sep, count = str(value).partition("/")
    try:
        n, c = int(number), int(count)
    except ValueError:
        n = c = -1
    if not sep or c < 1 or not 0 <= n < c:
        raise ValueError(
            f"{BATCH_SETTING} must look like NUMBER/COUNT with 0 <= NUMBER < COUNT, got {value!r}"
        )
    return n, c


def batch_key(trigger: str | None) -> str | None:
    """``"batch 2/5 <cycle>"`` -> ``"batch 2/5"``: runs of the same shard are comparable (health)."""
    if not trigger or not trigger.startswith(TRIGGER_PREFIX):
        return None
    return " ".join(trigger.split(" ")[:2])


def cycle_id(at: datetime | None = None) -> str:
    """A cycle's id from its start time (UTC, to the second)."""
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def shard_of(url: str, count: int) -> int:
    """A URL's shard: a stable hash (the same in every process, unlike ``hash()``)."""
    key = url.split("#", 1)[0].encode("utf-8", "replace")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % count


def plan_batches(
    site: SiteConfig,
    cycle: str,
    *,
    known_offers: int = 0,
    per_batch: int = 1000,
    max_batches: int = 64,
    default_batches: int = 4,
) -> list[Batch]:
    """The batches of ``site`` for ``cycle``.

    One batch per ``per_batch`` offers the store knew after the last cycle (``default_batches``
    on the first): a batch is one crawl process, whose start-up (~2 s) must stay small beside
    its work. Never more batches than start URLs when those are dealt out (no batch is
    empty). A site with only a JSON API is one batch (its pages are one ``next`` chain).
    """
    start = site.start
    entries = len(start.listings) if site.mode == "listing" else 0
    by_size = math.ceil(known_offers / per_batch) if known_offers else default_batches
    if entries:
        count = min(entries, by_size)
    elif start.sitemap or start.products or start.listings:
        count = by_size
    else:
        count = 1
    count = max(1, min(count, max_batches))
    return [Batch(cycle, site.name, number, count) for number in range(count)]


class BatchFilter:
    """Spider middleware: keep only the requests that belong to this crawl's batch.

    Which pages carry the data depends on the site's mode. In ``listing`` mode listing pages
    are the data: the config's listings are dealt by position, listings found in a sitemap by
    URL hash, and pagination stays with its chain. In ``product`` mode listings are only an
    index (like a sitemap, every batch reads them) and product pages are dealt by URL hash.
    """

    def __init__(self, crawler: Crawler):
        value = crawler.settings.get(BATCH_SETTING)
        if not value:
            raise NotConfigured(f"{BATCH_SETTING} not set: not a batch crawl")
        self.number, self.count = parse_shard(value)
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BatchFilter:
        return cls(crawler)

    def _listing_mode(self) -> bool:
        site = getattr(self.crawler.spider, "site", None)
        return getattr(site, "mode", "listing") == "listing"

    def _skip(self) -> bool:
        self.stats.inc_value("pricewatch/batch/skipped")
        return False

    def _mine(self, url: str) -> bool:
        return shard_of(url, self.count) == self.number or self._skip()

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        position = 0
        async for item in start:
            kind = item.meta.get("pw_kind") if isinstance(item, Request) else None
            if kind == "listing" and self._listing_mode():
                mine = position % self.count == self.number or self._skip()
                position += 1
            elif kind == "product":
                mine = self._mine(item.url)
            else:  # a JSON API is one ``next`` chain: batch 0 pages it; sitemaps: every batch
                mine = kind != "api" or self.number == 0
            if mine:
                yield item

    def _keep(self, response: Any, item: Any) -> bool:
        if not isinstance(item, Request):
            return True
        kind = item.meta.get("pw_kind")
        if kind == "product":
            return self._mine(item.url)
        if kind == "listing" and response.meta.get("pw_kind") == "sitemap":
            return not self._listing_mode() or self._mine(item.url)
        return True

    def process_spider_output(self, response, result: Iterable[Any], spider=None) -> Iterator[Any]:
        for item in result:
            if self._keep(response, item):
                yield item

    async def process_spider_output_async(self, response, result, spider=None):
        async for item in result:
            if self._keep(response, item):
                yield item
