"""The generic, config-driven spider: ``scrapy crawl site -a site=NAME``.

One spider for every shop; what differs between shops is data (crawler/sites/NAME.yaml). It starts
from the config's sitemap, listing pages, product URLs and JSON API, and in

* ``listing`` mode takes every offer shown on listing pages and follows pagination (170,000
  products refreshed with a few thousand requests);
* ``product`` mode follows product links and reads each product page.

Pages are judged as they are parsed: a page that yields no usable offer is a parse failure, and a
streak of failures at the end of a run is how a layout change shows up in the run's health.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from parsel import Selector as ParselSelector
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.context import CrawlContext
from crawler.extract import extract_page
from crawler.items import Offer, OfferBatch
from crawler.jsonapi import compile_api, offer_from_api_row
from crawler.middlewares.conditional import PageUnchanged
from crawler.siteconfig import Selector, SiteConfig, find_site_config

logger = logging.getLogger(__name__)

CALLBACKS = {
    "api": "parse_api",
    "sitemap": "parse_sitemap",
    "listing": "parse_listing",
    "product": "parse_product",
}
NEXT_PAGE_CSS = "link[rel=next]::attr(href), a[rel=next]::attr(href)"
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed


def select_all(response: Response, selector: Selector, root: Any = None) -> list[str]:
    """Values a config selector finds on a page (attribute values or text).

    ``root``: the page's tree as extraction parsed it (``extract_page``), so the page is not
    parsed a second time by Scrapy's own selector. Used for attribute values only (links):
    that tree has no comments, so text split by a comment would come out joined.
    """
    reads_attribute = bool(selector.attr) or (
        "::attr(" in (selector.css or "") and "::text" not in (selector.css or "")
    )
    page = response if root is None or not reads_attribute else ParselSelector(root=root)
    if selector.css:
        query = selector.css
        if selector.attr and "::" not in query:
            query += f"::attr({selector.attr})"
        elif "::" not in query:
            query += " ::text"  # every text node inside, the element's own included
        return [v.strip() for v in page.css(query).getall() if v.strip()]
    query = selector.xpath or ""
    if selector.attr:
        query += f"/@{selector.attr}"
    return [v.strip() for v in page.xpath(query).getall() if v.strip()]


class SiteSpider(scrapy.Spider):
    name = "site"

    def __init__(self, site: str | SiteConfig | None = None, sites_dir: str | None = None, **kw):
        super().__init__(**kw)
        if site is None:
            raise ValueError("give the site to crawl: scrapy crawl site -a site=NAME")
        self._site_arg, self._sites_dir = site, sites_dir

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        site = spider._site_arg
        if not isinstance(site, SiteConfig):
            site = find_site_config(
                site, spider._sites_dir or crawler.settings.get("PRICEWATCH_SITES_DIR")
            )
        spider.site = site
        spider.allowed_domains = list(site.allowed_domains)
        spider.apply_site_settings(crawler)
        spider.context = CrawlContext.open(crawler, site)
        api = site.start.api
        spider._api = compile_api(api) if api else None
        spider._product_pattern = (
            re.compile(site.start.product_pattern) if site.start.product_pattern else None
        )
        spider._streak = None  # failed pages in a row; None until the first page is parsed
        return spider

    def apply_site_settings(self, crawler: Crawler) -> None:
        """The site's politeness becomes this crawl's settings (they freeze after this)."""
        polite, settings = self.site.politeness, crawler.settings
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", polite.concurrency, priority="spider")
        # Each crawl has its own downloader: a short look-ahead queue is enough, and a stop
        # (SIGTERM) only waits for the requests already queued behind the site's delay.
        settings.set("CONCURRENT_REQUESTS", 2 * polite.concurrency, priority="spider")
        settings.set("DOWNLOAD_DELAY", polite.delay, priority="spider")
        settings.set("ROBOTSTXT_OBEY", polite.obey_robots, priority="spider")
        settings.set("DOWNLOAD_TIMEOUT", polite.timeout, priority="spider")
        settings.set("RETRY_TIMES", polite.retries, priority="spider")
        if self.site.max_pages:
            settings.set("CLOSESPIDER_PAGECOUNT", self.site.max_pages, priority="spider")

    # -- start points ------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        start, absolute = self.site.start, self.site.absolute
        if start.api:
            yield self._request(absolute(start.api.url), "api")
        if start.sitemap:
            yield self._request(absolute(start.sitemap), "sitemap")
        for url in start.listings:
            yield self._request(absolute(url), "listing")
        for url in start.products:
            yield self._request(absolute(url), "product")

    def _request(self, url: str, kind: str, **kwargs: Any) -> scrapy.Request:
        callback = getattr(self, CALLBACKS[kind])
        return scrapy.Request(url, callback=callback, meta={"pw_kind": kind}, **kwargs)

    # -- bookkeeping -------------------------------------------------------------------

    def _page_done(self, ok: bool) -> None:
        """Count a parsed page; track the streak of failed pages at the end of the run."""
        stats = self.crawler.stats
        stats.inc_value("pricewatch/pages_parsed")
        if ok:
            if self._streak != 0:  # the stat changes only at the first page and after failures
                self._streak = 0
                stats.set_value("pricewatch/failure_streak", 0)
            return
        stats.inc_value("pricewatch/parse_failures")
        self._streak = (self._streak or 0) + 1
        stats.set_value("pricewatch/failure_streak", self._streak)
        if self._streak == 1:
            stats.set_value(
                "pricewatch/failure_streak_start", stats.get_value("pricewatch/pages_parsed")
            )

    def _extract(self, response: Response) -> tuple[list[Offer], Any]:
        """The page's offers, and its parsed tree (None when not parsed whole)."""
        text = getattr(response, "text", None)  # read once: each read redoes encoding checks
        if text is None:
            return [], None
        try:
            return extract_page(text, response.url, self.site)
        except Exception:  # scraped pages are untrusted: one bad page must not stop the crawl
            logger.exception("extraction failed on %s", response.url)
            return [], None

    def _batch(self, response: Response, offers: list[Offer], kind: str) -> OfferBatch:
        """The page's offers, stamped with the crawl's context, as one item."""
        name, when = self.site.name, _now()
        for offer in offers:
            offer.site, offer.observed_at, offer.page_kind = name, when, kind
        return OfferBatch(url=response.url, offers=offers)

    def _not_modified(self, response: Response) -> Iterator[Any]:
        """A 304 stands in for the page we saw last time: confirm its offers, follow its links."""
        info = response.meta.get("pw_validator_info") or {}
        offers = info.get("offers") or []
        if offers:
            yield PageUnchanged(url=response.url, offer_urls=list(offers), seen_at=_now())
        for url, kind in info.get("links") or []:
            yield self._request(url, kind)

    # -- callbacks ---------------------------------------------------------------------

    def parse_product(self, response: Response) -> Iterator[Any]:
        """A product page; a sitemap URL that turns out to be a listing is read as one."""
        if response.status == 304:
            yield from self._not_modified(response)
            return
        offers, root = self._extract(response)
        if _is_listing(offers, response.url):
            yield from self._listing(response, offers, root)
            return
        offers = _page_offers(offers)
        self._page_done(bool(offers))
        if offers:
            yield self._batch(response, offers, "product")

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if response.status == 304:
            yield from self._not_modified(response)
            return
        yield from self._listing(response, *self._extract(response))

    def _listing(self, response: Response, offers: list[Offer], root: Any) -> Iterator[Any]:
        selectors = self.site.selectors
        if self.site.mode == "listing":
            offers = _page_offers(_own_urls(offers))
            self._page_done(bool(offers))
            if offers:
                yield self._batch(response, offers, "listing")
        else:
            links = (
                select_all(response, selectors.product_link, root)
                if selectors.product_link
                else [o.url for o in _own_urls(offers) if o.url != response.url]
            )
            self._page_done(bool(links))
            for link in dict.fromkeys(links):
                yield self._request(response.urljoin(link), "product")
        if selectors.next_page:
            next_pages = select_all(response, selectors.next_page, root)
        else:
            page = response if root is None else ParselSelector(root=root)
            next_pages = page.css(NEXT_PAGE_CSS).getall()  # attributes only
        for link in next_pages[:1]:
            yield self._request(response.urljoin(link), "listing")

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        body = response.body
        if response.url.endswith(".gz") or body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=MAX_SITEMAP_BYTES)
            except ValueError:
                logger.warning("sitemap %s: not valid gzip or too large", response.url)
                self._page_done(False)
                return
        try:
            sitemap = Sitemap(body)
        except Exception:
            logger.warning("sitemap %s: not a sitemap", response.url)
            self._page_done(False)
            return
        locations = [entry["loc"] for entry in sitemap if entry.get("loc")]
        self._page_done(bool(locations))
        if sitemap.type == "sitemapindex":
            for url in locations:
                yield self._request(url, "sitemap")
            return
        listing_mode = self.site.mode == "listing"
        for url in locations:
            is_product = self._product_pattern.search(url) if self._product_pattern else None
            if self._product_pattern is None:
                yield self._request(url, "listing" if listing_mode else "product")
            elif not is_product:
                yield self._request(url, "listing")
            elif not listing_mode:
                yield self._request(url, "product")

    def parse_api(self, response: Response) -> Iterator[Any]:
        if response.status == 304:
            yield from self._not_modified(response)
            return
        try:
            data = response.json()
        except ValueError:
            self._page_done(False)
            return
        api = self._api
        rows = api["items"].search(data) or []
        offers = []
        for row in rows if isinstance(rows, list) else []:
            offer = offer_from_api_row(row, api["fields"], self.site, response.url)
            if offer is not None and _usable(offer):
                offers.append(offer)
        self._page_done(bool(offers))
        if offers:
            yield self._batch(response, offers, "api")
        next_url = api["next"].search(data) if api["next"] else None
        if isinstance(next_url, str) and next_url:
            yield self._request(response.urljoin(next_url), "api")


def _now() -> datetime:
    return datetime.now(UTC)


def _is_listing(offers: list[Offer], page_url: str) -> bool:
    """Several offers with URLs of their own: a listing page, whatever the URL suggested."""
    own = {o.url.split("#")[0] for o in offers if o.url} - {page_url.split("#")[0]}
    return len(own) > 1


def _own_urls(offers: list[Offer]) -> list[Offer]:
    """Offers whose URL is theirs alone on the page; the store keys offers by URL."""
    counts: dict[str, int] = {}
    for offer in offers:
        counts[offer.url] = counts.get(offer.url, 0) + 1
    return [o for o in offers if o.url and counts[o.url] == 1]


def _stated(offer: Offer) -> bool:
    """The page said something about the price: an amount, or words like "Call for price"."""
    return offer.price is not None or any(c.raw for c in offer.candidates)


def _page_offers(offers: list[Offer]) -> list[Offer]:
    """The offers a page yields, or none if the page failed to parse.

    A page fails when no offer says what it is and where its price stands. An offer without
    any price statement is kept only beside offers that have one (a shop may hide the price of
    an unavailable item), never alone: after a layout change every offer looks like that, and
    storing them would overwrite real prices with nothing.
    """
    usable = [o for o in offers if _usable(o)]
    return usable if any(_stated(o) for o in usable) else []


def _usable(offer: Offer) -> bool:
    """An offer counts as parsed when it says what it is and something about price or stock."""
    return bool(offer.title or offer.gtin or offer.sku) and (
        _stated(offer) or offer.availability != "unknown"
    )
