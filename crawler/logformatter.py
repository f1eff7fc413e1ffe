"""Scrapy's log messages, minus the ones nothing would show.

Scrapy logs every page ("Crawled (200) <GET ...>") and every item ("Scraped from ...") at DEBUG,
and its root logger passes every level, so each one builds a log record, walks the handlers
(one per crawler of the process: Scrapy's log counter) and is thrown away by the handler's
level filter when ``LOG_LEVEL`` is INFO, as it is for every Pricewatch crawl. That was a few
percent of a crawl's CPU. This formatter returns nothing for a message below the level that
will be shown, which Scrapy takes as "do not log"; at ``LOG_LEVEL = "DEBUG"`` every message is
logged as before.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter, LogFormatterResult


def shown_level(settings) -> int:
    """The lowest level a log record needs to be shown with these settings.

    Without ``LOG_ENABLED`` Scrapy installs no handler and Python's last-resort handler shows
    WARNING and above.
    """
    if not settings.getbool("LOG_ENABLED", True):
        return logging.WARNING
    level = settings.get("LOG_LEVEL", "DEBUG")
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    return level if isinstance(level, int) else logging.DEBUG


class QuietLogFormatter(LogFormatter):
    """``LogFormatter`` whose per-page and per-item messages are skipped when not shown."""

    def __init__(self, level: int = logging.DEBUG):
        super().__init__()
        self.level = level

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QuietLogFormatter:
        return cls(shown_level(crawler.settings))

    def _shown(self, result: LogFormatterResult | None) -> LogFormatterResult | None:
        if result is None or result["level"] < self.level:
            return None
        return result

    def crawled(self, request, response, spider) -> LogFormatterResult | None:  # type: ignore[override]
        if self.level > logging.DEBUG:  # skip building it: crawled() is always DEBUG
            return None
        return super().crawled(request, response, spider)

    def scraped(self, item: Any, response, spider) -> LogFormatterResult | None:  # type: ignore[override]
        if self.level > logging.DEBUG:  # always DEBUG too
            return None
        return super().scraped(item, response, spider)

    def dropped(self, item: Any, exception, response, spider) -> LogFormatterResult | None:  # type: ignore[override]
        return self._shown(super().dropped(item, exception, response, spider))
