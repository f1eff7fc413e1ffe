"""A site's politeness across every worker: one budget in Redis, not one per process.

Scrapy enforces ``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY`` inside one process;
eight workers crawling batches of one shop would be eight times as rude. :class:`SharedLimiter`
keeps, per site, a semaphore of ``concurrency`` slots (a sorted set of leases that expire, so a
killed worker's slots come back) and the next moment a request may start (spacing requests
``delay`` apart over all workers). One Lua script does both atomically, on Redis' clock, so
workers on machines with skewed clocks agree.

:class:`SharedPolitenessMiddleware` applies it to every download of a crawl whose settings
carry ``PRICEWATCH_POLITENESS_REDIS`` (the scale-out executor sets it to the broker's URL).
The spacing it shares is the one the site's own process would keep: the configured delay, or a
larger ``Crawl-delay`` from robots.txt, which :class:`~crawler.extensions.crawl_delay.RobotsCrawlDelay`
has put on the host's download slot by the time a request reaches this middleware (robots.txt
is fetched and parsed by Scrapy's ``RobotsTxtMiddleware``, earlier in the chain).

The robots.txt fetch itself is the one request that does not queue for a turn: its delay
cannot be known before it is read, and a turn taken with the configured delay (0, say) would
let the next page of any worker start right after it, one Crawl-delay too early. Each process
reads robots.txt once per host, so this costs the shop one unspaced request per worker.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

SETTING = "PRICEWATCH_POLITENESS_REDIS"
PREFIX = "pricewatch:polite:"
POLL = 0.05  # seconds between tries while every slot is taken

# KEYS: slots (zset token -> lease expiry), next (the earliest start of the next request)
# ARGV: concurrency, delay, lease, token. Returns the wait before starting, or -1 if full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return '-1' end
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local delay = tonumber(ARGV[2])
redis.call('SET', KEYS[2], string.format('%.6f', at + delay), 'PX', math.ceil((at - now + delay) * 1000) + 1000)
redis.call('ZADD', KEYS[1], at + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((at - now + tonumber(ARGV[3])) * 1000) + 1000)
return string.format('%.6f', at - now)
"""


class SharedLimiter:
    """Per-site slots and request spacing shared through Redis (see the module's docstring)."""

    def __init__(self, client: redis.Redis, prefix: str = PREFIX):
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)

    @classmethod
    def from_url(cls, url: str, prefix: str = PREFIX) -> SharedLimiter:
        return cls(redis.Redis.from_url(url), prefix)

    def _keys(self, site: str) -> list[str]:
        return [f"{self.prefix}{site}:slots", f"{self.prefix}{site}:next"]

    def try_acquire(
        self, site: str, concurrency: int, delay: float, lease: float
    ) -> tuple[str, float] | None:
        """A slot (its token) and how long to wait before using it; None if all are taken."""
        token = uuid.uuid4().hex
        wait = float(self._acquire(keys=self._keys(site), args=[concurrency, delay, lease, token]))
        return None if wait < 0 else (token, wait)

    async def acquire(self, site: str, concurrency: int, delay: float, lease: float) -> str:
        while True:
            got = self.try_acquire(site, concurrency, delay, lease)
            if got is not None:
                token, wait = got
                if wait > 0:
                    await asyncio.sleep(wait)
                return token
            await asyncio.sleep(POLL)

    def release(self, site: str, token: str) -> None:
        self.client.zrem(self._keys(site)[0], token)


class SharedPolitenessMiddleware:
    """Downloader middleware: every request of the site waits for a shared slot and turn."""

    def __init__(self, crawler: Crawler):
        url = crawler.settings.get(SETTING)
        if not url:
            raise NotConfigured(f"{SETTING} not set: politeness is per process")
        # Under the deployment's broker key prefix, like every other key it keeps in Redis.
        prefix = os.environ.get("PRICEWATCH_BROKER_PREFIX", "") + PREFIX
        self.limiter = SharedLimiter.from_url(url, prefix)
        self.crawler = crawler
        self.stats = crawler.stats
        self._delays: dict[str, float] = {}  # download slot -> the spacing Redis keeps for it

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPolitenessMiddleware:
        return cls(crawler)

    def _budget(self):
        site = getattr(self.crawler.spider, "site", None)
        return None if site is None else (site.name, site.politeness)

    def _delay(self, request: Request, configured: float) -> float:
        """The configured delay, or robots.txt's larger Crawl-delay for this request's host.

        RobotsCrawlDelay leaves the Crawl-delay on the host's download slot. It is remembered
        here and then taken off the slot: Redis already spaces the requests, and the local slot
        would add a second, randomized wait after Redis' turn, bunching this worker's request
        with the next worker's.
        """
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot_settings = downloader.per_slot_settings.setdefault(key, {})
        learned = max(self._delays.get(key, configured), float(slot_settings.get("delay", 0.0)))
        self._delays[key] = learned
        slot_settings["delay"] = 0.0  # a slot Scrapy creates (again) for the host waits no more
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = 0.0
        return learned

    async def process_request(self, request: Request, spider=None):
        budget = self._budget()
        if budget is None or _is_robots_fetch(request):
            return None
        name, polite = budget
        lease = float(polite.timeout) * (polite.retries + 1) + 10  # outlives any download
        delay = self._delay(request, float(polite.delay))
        token = await self.limiter.acquire(name, polite.concurrency, delay, lease)
        request.meta["pw_polite"] = (name, token)
        self.stats.inc_value("pricewatch/politeness/shared_slots")
        return None

    def _release(self, request: Request) -> None:
        held = request.meta.pop("pw_polite", None)
        if held:
            self.limiter.release(*held)

    def process_response(self, request: Request, response, spider=None):
        self._release(request)
        return response

    def process_exception(self, request: Request, exception, spider=None):
        self._release(request)
        return None


def _is_robots_fetch(request: Request) -> bool:
    """Scrapy's own robots.txt request (RobotsTxtMiddleware marks it dont_obey_robotstxt)."""
    return bool(request.meta.get("dont_obey_robotstxt")) and (
        urlparse_cached(request).path == "/robots.txt"
    )
