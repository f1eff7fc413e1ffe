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
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin

import jmespath
import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.context import CrawlContext
from crawler.extract import (
    extract_offers,
    normalize_gtin,
    parse_availability,
    parse_count,
    parse_price,
    parse_rank,
    parse_rating,
)
from crawler.items import Offer
from crawler.middlewares.conditional import PageUnchanged
from crawler.siteconfig import JsonApi, Selector, SiteConfig, find_site_config

logger = logging.getLogger(__name__)

CALLBACKS = {
    "api": "parse_api",
    "sitemap": "parse_sitemap",
    "listing": "parse_listing",
    "product": "parse_product",
}
NEXT_PAGE_CSS = "link[rel=next]::attr(href), a[rel=next]::attr(href)"
PARSERS = {
    "stock_quantity": parse_count,
    "review_count": parse_count,
    "sold_count": parse_count,
    "rank": parse_rank,
    "rating": parse_rating,
    "gtin": normalize_gtin,
}
MONEY_FIELDS = {"price", "regular_price", "shipping"}
_PLAIN_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed


def select_all(response: Response, selector: Selector) -> list[str]:
    """Values a config selector finds on a page (attribute values or text)."""
    if selector.css:
        query = selector.css
        if selector.attr and "::" not in query:
            query += f"::attr({selector.attr})"
        elif "::" not in query:
            query += " ::text"  # every text node inside, the element's own included
        return [v.strip() for v in response.css(query).getall() if v.strip()]
    query = selector.xpath or ""
    if selector.attr:
        query += f"/@{selector.attr}"
    return [v.strip() for v in response.xpath(query).getall() if v.strip()]


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
        spider._streak = 0
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
            self._streak = 0
            stats.set_value("pricewatch/failure_streak", 0)
            return
        stats.inc_value("pricewatch/parse_failures")
        self._streak += 1
        stats.set_value("pricewatch/failure_streak", self._streak)
        if self._streak == 1:
            stats.set_value(
                "pricewatch/failure_streak_start", stats.get_value("pricewatch/pages_parsed")
            )

    def _extract(self, response: Response) -> list[Offer]:
        if not hasattr(response, "text"):
            return []
        try:
            return extract_offers(response.text, response.url, self.site)
        except Exception:  # scraped pages are untrusted: one bad page must not stop the crawl
            logger.exception("extraction failed on %s", response.url)
            return []

    def _stamp(self, offer: Offer, kind: str, when: datetime) -> Offer:
        offer.site, offer.observed_at, offer.page_kind = self.site.name, when, kind
        return offer

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
        offers = self._extract(response)
        if _is_listing(offers, response.url):
            yield from self._listing(response, offers)
            return
        offers = _page_offers(offers)
        self._page_done(bool(offers))
        now = _now()
        for offer in offers:
            yield self._stamp(offer, "product", now)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if response.status == 304:
            yield from self._not_modified(response)
            return
        yield from self._listing(response, self._extract(response))

    def _listing(self, response: Response, offers: list[Offer]) -> Iterator[Any]:
        selectors = self.site.selectors
        if self.site.mode == "listing":
            offers = _page_offers(_own_urls(offers))
            self._page_done(bool(offers))
            now = _now()
            for offer in offers:
                yield self._stamp(offer, "listing", now)
        else:
            links = (
                select_all(response, selectors.product_link)
                if selectors.product_link
                else [o.url for o in _own_urls(offers) if o.url != response.url]
            )
            self._page_done(bool(links))
            for link in dict.fromkeys(links):
                yield self._request(response.urljoin(link), "product")
        next_pages = (
            select_all(response, selectors.next_page)
            if selectors.next_page
            else response.css(NEXT_PAGE_CSS).getall()
        )
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
        now, offers = _now(), []
        for row in rows if isinstance(rows, list) else []:
            offer = offer_from_api_row(row, api["fields"], self.site, response.url)
            if offer is not None and _usable(offer):
                offers.append(self._stamp(offer, "api", now))
        self._page_done(bool(offers))
        yield from offers
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


def _money(value: Any, site: SiteConfig) -> Decimal | None:
    """An API amount: a JSON number or a machine-written "205.49" is taken as is (whatever the
    site's display locale); anything else is text a person would read, so price-parser."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _PLAIN_NUMBER.match(value)):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    amount, _currency = parse_price(
        str(value), currency_hint=site.currency, decimal_separator=site.decimal_separator
    )
    return amount


def compile_api(api: JsonApi) -> dict[str, Any]:
    return {
        "items": jmespath.compile(api.items),
        "next": jmespath.compile(api.next) if api.next else None,
        "fields": {name: jmespath.compile(path) for name, path in api.fields.items()},
    }


def offer_from_api_row(
    row: Any, fields: dict[str, Any], site: SiteConfig, page_url: str
) -> Offer | None:
    """An API row mapped field by field with the config's (compiled) JMESPath expressions."""
    if not isinstance(row, dict):
        return None
    values: dict[str, Any] = {}
    for name, expression in fields.items():
        value = expression.search(row)
        if value is not None and not isinstance(value, dict | list):
            values[name] = value
    url = values.pop("url", None)
    if not isinstance(url, str) or not url:
        return None
    offer = Offer(url=urljoin(page_url, url), price_source="api", confidence=1.0)
    for name, value in values.items():
        if name in MONEY_FIELDS:
            value = _money(value, site)
        elif name in PARSERS:
            value = PARSERS[name](value)
        elif name == "availability":
            value, quantity = parse_availability(value)
            if quantity is not None and "stock_quantity" not in values:
                offer.stock_quantity = quantity
        elif name == "currency":
            value = str(value).strip().upper()[:3] or None
        else:
            value = str(value).strip()[:500] or None
        if value is not None:
            setattr(offer, name, value)
    if offer.currency is None:
        offer.currency = site.currency
    return offer
