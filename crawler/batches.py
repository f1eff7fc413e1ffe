"""Splitting one site's crawl into batches that many workers can share.

A batch is shard ``number`` of ``count`` of a site's crawl in one cycle. Nothing is fetched to
plan it: the shard is applied by :class:`BatchFilter` (a spider middleware) while the batch's
own Scrapy crawl runs, so every worker derives the same partition from the same site config:

* the config's listing and product start URLs are dealt round-robin by position (shard
  ``i % count``): a category listing and its whole pagination chain belong to one batch;
* URLs read from a sitemap (and product links found on listing pages) belong to the shard of
  a stable hash of the URL, so a sitemap that changes between two workers' reads still puts
  each product in exactly one batch;
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
        raise ValueError(f"{BATCH_SETTING} must look like NUMBER/COUNT with 0 <= NUMBER < COUNT, got {value!r}")
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

    Start URLs dealt by position: at most one batch per start URL (no batch is empty). Sitemap
    sites: one batch per ``per_batch`` offers the store knew last cycle (``default_batches`` on
    the first). A site with only a JSON API is one batch (its pages are one ``next`` chain).
    """
    start = site.start
    entries = len(start.listings) + len(start.products)
    if entries:
        count = entries
        if start.sitemap and known_offers:
            count = max(count, math.ceil(known_offers / per_batch))
    elif start.sitemap:
        count = math.ceil(known_offers / per_batch) if known_offers else default_batches
    else:
        count = 1
    count = max(1, min(count, max_batches))
    return [Batch(cycle, site.name, number, count) for number in range(count)]


class BatchFilter:
    """Spider middleware: keep only the requests that belong to this crawl's batch.

    Pagination (a listing reached from a listing) always stays: it continues its chain.
    """

    def __init__(self, crawler: Crawler):
        value = crawler.settings.get(BATCH_SETTING)
        if not value:
            raise NotConfigured(f"{BATCH_SETTING} not set: not a batch crawl")
        self.number, self.count = parse_shard(value)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BatchFilter:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        position = 0
        async for item in start:
            if isinstance(item, Request) and item.meta.get("pw_kind") in SHARDED_KINDS:
                mine = position % self.count == self.number
                position += 1
                if not mine:
                    self.stats.inc_value("pricewatch/batch/skipped")
                    continue
            elif isinstance(item, Request) and item.meta.get("pw_kind") == "api":
                if self.number != 0:
                    continue
            yield item

    def _keep(self, response: Any, item: Any) -> bool:
        if not isinstance(item, Request):
            return True
        kind = item.meta.get("pw_kind")
        if kind == "product" or (
            kind == "listing" and response.meta.get("pw_kind") in ("sitemap", None)
        ):
            if shard_of(item.url, self.count) != self.number:
                self.stats.inc_value("pricewatch/batch/skipped")
                return False
        return True

    def process_spider_output(self, response, result: Iterable[Any], spider=None) -> Iterator[Any]:
        for item in result:
            if self._keep(response, item):
                yield item

    async def process_spider_output_async(self, response, result, spider=None):
        async for item in result:
            if self._keep(response, item):
                yield item
