"""The crawl-run record: every crawl leaves a ``crawl_runs`` row, even when it dies.

Opened when the spider opens, updated every ``PRICEWATCH_RUN_FLUSH_INTERVAL`` seconds (so a run
killed with SIGKILL still shows its progress; ``reap_stale_runs`` marks it interrupted later),
and closed with the finish reason when the spider closes: ``finished``; ``shutdown`` after
SIGTERM/SIGINT (status ``interrupted``); anything else is a failure. Then the run's health is
judged against the site's earlier runs (crawler/health.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

from crawler.context import context_of
from crawler.health import evaluate_run
from crawler.middlewares.refresh import run_kind
from pricing.store.runs import RunCounters, finish_run, reap_stale_runs, start_run, update_run

logger = logging.getLogger(__name__)

STATUS_PREFIX = "downloader/response_status_count/"


def counters_from_stats(stats: dict) -> RunCounters:
    """Scrapy's stats, and ours, as the run's counters."""
    by_class = {3: 0, 4: 0, 5: 0}
    for key, value in stats.items():
        if key.startswith(STATUS_PREFIX):
            code = key.removeprefix(STATUS_PREFIX)
            if code.isdigit() and int(code) // 100 in by_class and code != "304":
                by_class[int(code) // 100] += value
    return RunCounters(
        pages=stats.get("response_received_count", 0),
        items=stats.get("item_scraped_count", 0),
        http_3xx=by_class[3],
        http_4xx=by_class[4],
        http_5xx=by_class[5],
        not_modified=stats.get("pricewatch/not_modified", 0),
        retries=stats.get("retry/count", 0),
        parse_failures=stats.get("pricewatch/parse_failures", 0),
        ban_pages=stats.get("pricewatch/ban_pages", 0),
        suspect_items=stats.get("pricewatch/store/suspect", 0),
    )


def json_safe(stats: dict) -> dict:
    out: dict = {}
    for key, value in stats.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, bool | int | float | str) or value is None:
            out[key] = value
    return out


class RunRecorder:
    def __init__(self, crawler: Crawler):
        self.context = context_of(crawler)
        self.stats: StatsCollector = crawler.stats
        self.interval = crawler.settings.getfloat("PRICEWATCH_RUN_FLUSH_INTERVAL", 10.0)
        self.kind = run_kind(crawler.settings)
        self.loop: LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        context = self.context
        reaped = reap_stale_runs(context.engine)
        if reaped:
            logger.warning("marked %d run(s) of dead processes as interrupted", reaped)
        context.run_id = start_run(context.engine, context.site_id, context.trigger, kind=self.kind)
        self.stats.set_value("pricewatch/run_id", context.run_id)
        self.stats.set_value("pricewatch/run_kind", self.kind)
        logger.info("crawl run %d of site %s started", context.run_id, context.site.name)
        if self.interval > 0:
            self.loop = LoopingCall(self.flush)
            self.loop.start(self.interval, now=False)

    def flush(self) -> None:
        try:
            update_run(self.context.engine, self.context.run_id, self._counters())
        except Exception:  # a busy database must not stop the crawl: the next flush retries
            logger.warning("could not update crawl run %s", self.context.run_id, exc_info=True)

    def _counters(self) -> RunCounters:
        return counters_from_stats(self.stats.get_stats())

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        context = self.context
        if context.run_id is None:
            return
        stats = self.stats.get_stats()
        status = finish_run(
            context.engine,
            context.run_id,
            finish_reason=reason,
            counters=counters_from_stats(stats),
            stats=json_safe(stats),
        )
        verdict = evaluate_run(context.engine, context.run_id)
        self.stats.set_value("pricewatch/status", status.value)
        self.stats.set_value("pricewatch/health", verdict.health.value)
        log = logger.warning if verdict.reasons else logger.info
        log(
            "crawl run %d of %s: %s (%s), health %s%s",
            context.run_id,
            context.site.name,
            status.value,
            reason,
            verdict.health.value,
            "".join(f"\n  - {r}" for r in verdict.reasons),
        )
