"""Refresh crawls: re-read exactly the product pages the scheduler planned, nothing else.

A full crawl walks a site from its start points (sitemap, listings, API) and follows every link.
Between full crawls the scheduler spends the site's request budget on the pages whose prices
matter and go stale fastest (pricing/freshness.py ``plan_refresh``) and gives the crawl their
URLs in ``PRICEWATCH_REFRESH_URLS``: a file with one URL per line (what the scheduler and
``pricewatch crawl --refresh FILE`` pass) or, in-process, a list of URLs.

:class:`RefreshStart` is the spider middleware that makes a crawl a refresh: the spider's own
start points are replaced by one product-page request per URL, and links the pages lead to
(pagination, product links) are not followed. The run is recorded with kind ``refresh``
(:func:`run_kind`), and crawl health judges it only on rates, never on how many offers it saw
against a full crawl (crawler/health.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

REFRESH_SETTING = "PRICEWATCH_REFRESH_URLS"
FULL, REFRESH = "full", "refresh"
MAX_URL_LENGTH = 2000  # the store's offers.url


class RefreshUrlsError(ValueError):
    """A refresh URL list is wrong; names the file, the line and the problem."""


def read_refresh_urls(path: Path | str) -> list[str]:
    """The URLs of a refresh file: one absolute http(s) URL per line; blank lines and
    ``#`` comments are skipped, duplicates dropped. All or nothing: the first bad line raises."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RefreshUrlsError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RefreshUrlsError(f"{path}: not UTF-8 text") from None
    return _checked(lines, str(path))


def _checked(urls: Iterable[Any], where: str) -> list[str]:
    out: dict[str, None] = {}
    for number, raw in enumerate(urls, 1):
        url = str(raw).strip()
        if not url or url.startswith("#"):
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RefreshUrlsError(f"{where}: line {number}: {url[:200]!r} is not an http(s) URL")
        if len(url) > MAX_URL_LENGTH:
            raise RefreshUrlsError(
                f"{where}: line {number}: URL longer than {MAX_URL_LENGTH} characters"
            )
        out[url] = None
    return list(out)


def write_refresh_urls(path: Path | str, urls: Iterable[str]) -> Path:
    """Write a refresh file (what :func:`read_refresh_urls` reads)."""
    path = Path(path)
    path.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    return path


def refresh_urls(settings: BaseSettings) -> list[str] | None:
    """The crawl's refresh URLs, or None for a full crawl."""
    value = settings.get(REFRESH_SETTING)
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        return _checked(value, REFRESH_SETTING)
    return read_refresh_urls(value)


def run_kind(settings: BaseSettings) -> str:
    """``refresh`` when the crawl re-reads a planned list of pages, else ``full``."""
    value = settings.get(REFRESH_SETTING)
    return FULL if value is None or value == "" else REFRESH


class RefreshStart:
    """Spider middleware: start from the refresh URLs only, and follow no link."""

    def __init__(self, crawler: Crawler):
        urls = refresh_urls(crawler.settings)
        if urls is None:
            raise NotConfigured(f"{REFRESH_SETTING} not set: a full crawl")
        self.urls = urls
        self.crawler = crawler
        self.stats = crawler.stats
        self.stats.set_value("pricewatch/refresh/urls", len(urls))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RefreshStart:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        for url in self.urls:
            # The spider's own product-page request: same callback, same bookkeeping.
            yield spider._request(url, "product")

    def _keep(self, item: Any) -> bool:
        if isinstance(item, Request):
            self.stats.inc_value("pricewatch/refresh/links_not_followed")
            return False
        return True

    def process_spider_output(self, response, result: Iterable[Any], spider=None) -> Iterator[Any]:
        for item in result:
            if self._keep(item):
                yield item

    async def process_spider_output_async(self, response, result, spider=None):
        async for item in result:
            if self._keep(item):
                yield item
