"""robots.txt's ``Crawl-delay`` applied, not just reported: polite by default.

A site's YAML gives a ``politeness.delay``; a shop's robots.txt may ask for more. Whenever
robots.txt is obeyed (the default), the delay a site's downloader slot keeps between requests is
``max(politeness.delay, Crawl-delay for our User-Agent)``. Scrapy's ``RobotsTxtMiddleware``
already fetches and parses robots.txt once per host before the host's first request goes out,
and announces the parser with the ``robots_parsed`` signal; this extension listens to that
signal and raises the delay of that host's download slot (and of the slot Scrapy would create
again after an idle slot is collected), so the very first page already keeps the pace.

This is an extension, like Scrapy's AutoThrottle, rather than a middleware: it handles no
request or response, it only sets slot delays. A ``Crawl-delay`` above
``PRICEWATCH_ROBOTS_MAX_DELAY`` is capped there (robots.txt is untrusted input: ``Crawl-delay:
86400`` would stop a crawl dead) and the cap is logged and counted. With ``obey_robots: false``
in the site config the extension is off, and the config's delay is all that applies.
"""

from __future__ import annotations

import logging
import math

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

STAT_ROBOTS = "pricewatch/robots/crawl_delay"  # the largest Crawl-delay robots.txt asked for
STAT_DELAY = "pricewatch/download_delay"  # the delay the crawl kept (the largest of its hosts)
STAT_CAPPED = "pricewatch/robots/crawl_delay_capped"


class RobotsCrawlDelay:
    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured(
                "robots.txt is not obeyed (ROBOTSTXT_OBEY / politeness.obey_robots is off): "
                "only the configured delay applies"
            )
        self.crawler = crawler
        self.stats = crawler.stats
        self.configured = settings.getfloat("DOWNLOAD_DELAY")
        self.max_delay = settings.getfloat("PRICEWATCH_ROBOTS_MAX_DELAY", 60.0)
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.stats.set_value(STAT_DELAY, self.configured)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsCrawlDelay:
        return cls(crawler)

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        try:
            asked = robotparser.crawl_delay(self.user_agent)
        except Exception:  # a parser that cannot say: the configured delay stands
            logger.debug("no Crawl-delay from robots.txt for %s", request.url, exc_info=True)
            return
        if asked is None or not math.isfinite(asked) or asked <= 0:
            return
        self.stats.max_value(STAT_ROBOTS, asked)
        if asked > self.max_delay:
            logger.warning(
                "robots.txt of %s asks for Crawl-delay %gs; capped at %gs "
                "(PRICEWATCH_ROBOTS_MAX_DELAY)",
                request.url,
                asked,
                self.max_delay,
            )
            self.stats.set_value(STAT_CAPPED, asked)
            asked = self.max_delay
        if asked <= self.configured:
            return
        self.apply(request, asked)

    def apply(self, request: Request, delay: float) -> None:
        """Set the delay of the slot ``request`` goes through, now and if it is re-created.

        Without jitter: Scrapy varies a slot's delay by ±50% (``DOWNLOAD_DELAY_JITTER``), which
        for a Crawl-delay of 1 s would send some requests 0.5 s apart. The site asked for at
        least that much between requests, so every gap keeps it.
        """
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0
        # Downloader._get_slot reads DOWNLOAD_SLOTS (this dict) when it makes a slot.
        slot_settings = downloader.per_slot_settings.setdefault(key, {})
        slot_settings["delay"] = max(float(slot_settings.get("delay", 0.0)), delay)
        slot_settings["jitter"] = 0.0
        self.stats.max_value(STAT_DELAY, delay)
        logger.info(
            "robots.txt Crawl-delay: %gs between requests to %s (configured %gs)",
            delay,
            key,
            self.configured,
        )
