"""A live progress feed: one JSON line per crawl every half second, on stdout.

``pricewatch crawl`` runs crawls in child processes and draws their progress; this is how the
children report it. Off unless ``PRICEWATCH_PROGRESS`` is set (stdout stays quiet otherwise).
"""

from __future__ import annotations

import json
import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.spiders import Spider
from twisted.internet.task import LoopingCall

from crawler.context import context_of
from crawler.extensions.runrecord import counters_from_stats


class ProgressReporter:
    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("PRICEWATCH_PROGRESS"):
            raise NotConfigured("PRICEWATCH_PROGRESS is off")
        try:
            self.context = context_of(crawler)
        except NotConfigured:  # a plain spider (the benchmark's baseline) reports too
            self.context = None
        self.crawler = crawler
        self.stats = crawler.stats
        self.interval = crawler.settings.getfloat("PRICEWATCH_PROGRESS_INTERVAL", 0.5)
        self.started = time.monotonic()
        self.loop = LoopingCall(self.report)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressReporter:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop.start(self.interval, now=True)

    def report(self, state: str = "running", **extra) -> None:
        stats = self.stats.get_stats()
        counters = counters_from_stats(stats)
        context = self.context
        line = {
            "site": context.site.name if context else getattr(self.crawler.spider, "label", ""),
            "run_id": context.run_id if context else None,
            "time": time.time(),
            "state": state,
            "pages": counters.pages,
            "items": counters.items,
            "not_modified": counters.not_modified,
            "errors": counters.http_4xx
            + counters.http_5xx
            + stats.get("downloader/exception_count", 0),
            "parse_failures": counters.parse_failures,
            "ban_pages": counters.ban_pages,
            "queued": stats.get("scheduler/enqueued", 0) - stats.get("scheduler/dequeued", 0),
            "elapsed": round(time.monotonic() - self.started, 2),
            **extra,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        self.report(
            "closed",
            reason=reason,
            status=self.stats.get_value("pricewatch/status"),
            health=self.stats.get_value("pricewatch/health"),
        )
