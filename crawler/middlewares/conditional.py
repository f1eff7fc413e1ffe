"""Conditional requests: an unchanged page costs a 304 and still refreshes its offers.

The first time a page is fetched its ``ETag`` / ``Last-Modified`` are stored in
``page_validators`` together with what the page led to (its offers' URLs and the links followed
from it). The next crawl sends ``If-None-Match`` / ``If-Modified-Since``; on a 304 the spider gets
that record back, yields a :class:`PageUnchanged` (the store pipeline extends those offers'
current state with ``HistoryWriter.touch``) and follows the stored links, so pagination goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from sqlalchemy import Engine, select

from crawler.context import context_of
from crawler.items import Offer, OfferBatch
from pricing.store.models import PageValidator

VALIDATED_KINDS = frozenset({"product", "listing", "api"})


@dataclass(slots=True)
class PageUnchanged:
    """A page answered 304: the offers it showed last time are still as they were."""

    url: str
    offer_urls: list[str]
    seen_at: datetime


class ValidatorStore:
    """The site's page validators, loaded once per run, written back in batches."""

    def __init__(self, engine: Engine, site_id: int, batch: int = 2000):
        self.engine, self.site_id, self.batch = engine, site_id, batch
        self.known: dict[str, tuple[str | None, str | None, str | None]] = {}
        self.pending: dict[str, dict[str, Any]] = {}

    def load(self) -> None:
        table = PageValidator.__table__
        query = select(table.c.url, table.c.etag, table.c.last_modified, table.c.page_info).where(
            table.c.site_id == self.site_id
        )
        with self.engine.connect() as conn:
            for url, etag, modified, info in conn.execute(query):
                # Kept as JSON text: far smaller than dicts for 170,000 pages, parsed on a 304.
                self.known[url] = (etag, modified, json.dumps(info) if info else None)

    def get(self, url: str) -> tuple[str | None, str | None, str | None] | None:
        return self.known.get(url)

    def put(self, url: str, etag: str | None, modified: str | None, info: dict) -> None:
        self.known[url] = (etag, modified, None)  # this run follows the page's links itself
        self.pending[url] = {
            "site_id": self.site_id,
            "url": url[:2000],
            "etag": etag[:200] if etag else None,
            "last_modified": modified[:100] if modified else None,
            "page_info": info,
            "fetched_at": datetime.now(UTC),
        }
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = list(self.pending.values()), {}
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(PageValidator.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["site_id", "url"],
            set_={
                name: statement.excluded[name]
                for name in ("etag", "last_modified", "page_info", "fetched_at")
            },
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)


class ConditionalRequestMiddleware:
    """Downloader side: add the validators to requests; hand a 304 its stored page record."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("PRICEWATCH_CONDITIONAL", True):
            raise NotConfigured("PRICEWATCH_CONDITIONAL is off")
        context = context_of(crawler)
        self.store = ValidatorStore(
            context.engine, context.site_id, crawler.settings.getint("PRICEWATCH_STORE_BATCH", 2000)
        )
        context.validators = self.store
        self.stats = crawler.stats
        crawler.signals.connect(self.store.load, signal=signals.spider_opened)
        crawler.signals.connect(self.store.flush, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if request.method != "GET" or request.meta.get("pw_kind") not in VALIDATED_KINDS:
            return None
        known = self.store.get(request.url)
        if known is None or known[2] is None:
            return None  # nothing stored that a 304 could stand in for
        etag, modified, _info = known
        if etag:
            request.headers["If-None-Match"] = etag
        if modified:
            request.headers["If-Modified-Since"] = modified
        if etag or modified:
            request.meta["handle_httpstatus_list"] = [304]
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 304 and "handle_httpstatus_list" in request.meta:
            self.stats.inc_value("pricewatch/not_modified")
            known = self.store.get(request.url)
            if known and known[2]:
                request.meta["pw_validator_info"] = json.loads(known[2])
        return response


class ValidatorRecorderMiddleware:
    """Spider side: after a page is parsed, store its validators and what it led to."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("PRICEWATCH_CONDITIONAL", True):
            raise NotConfigured("PRICEWATCH_CONDITIONAL is off")
        self.context = context_of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatorRecorderMiddleware:
        return cls(crawler)

    def _wanted(self, response: Response) -> tuple[str | None, str | None] | None:
        if response.status != 200 or response.meta.get("pw_kind") not in VALIDATED_KINDS:
            return None
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if not etag and not modified:
            return None
        return (
            etag.decode("latin-1") if etag else None,
            modified.decode("latin-1") if modified else None,
        )

    def _record(self, response: Response, validators, offers: list[str], links: list) -> None:
        store = self.context.validators
        if store is not None:
            store.put(response.url, *validators, {"offers": offers, "links": links})

    @staticmethod
    def _note(output: Any, offers: list[str], links: list) -> None:
        if isinstance(output, OfferBatch):
            offers.extend(offer.url for offer in output.offers)
        elif isinstance(output, Offer):
            offers.append(output.url)
        elif isinstance(output, Request) and output.meta.get("pw_kind"):
            links.append([output.url, output.meta["pw_kind"]])

    def process_spider_output(self, response: Response, result: Iterable) -> Iterator:
        validators = self._wanted(response)
        offers: list[str] = []
        links: list = []
        for output in result:
            if validators:
                self._note(output, offers, links)
            yield output
        if validators:
            self._record(response, validators, offers, links)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator
    ) -> AsyncIterator:
        validators = self._wanted(response)
        offers: list[str] = []
        links: list = []
        async for output in result:
            if validators:
                self._note(output, offers, links)
            yield output
        if validators:
            self._record(response, validators, offers, links)
