"""What every Pricewatch component of one crawl shares: the site, the store, the run.

The generic spider builds a :class:`CrawlContext` in ``from_crawler`` (the site config is only
known from the spider's arguments) and keeps it as ``spider.context``. Middlewares, pipelines and
extensions find it there; a spider without one (the bare benchmark spider) makes them step aside
with ``NotConfigured``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import Engine

from crawler.siteconfig import SiteConfig

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str | None, migrate: bool = True) -> Engine:
    """One engine (one pool) per database URL per process, however many sites it crawls.

    ``migrate``: bring the schema up to date when this process first opens the database.
    ``crawl_sites`` migrates once before starting its children, which then skip it (and
    Alembic's imports: ~0.1 CPU-s a crawl process, measured).
    """
    from pricing.store.db import make_engine, resolve_db_url

    resolved = resolve_db_url(url)
    with _engines_lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _engines[resolved] = make_engine(resolved)
            if migrate:
                from pricing.store.schema import init_db

                init_db(engine)
        return engine


@dataclass(slots=True)
class CrawlContext:
    site: SiteConfig
    engine: Engine
    site_id: int
    trigger: str
    run_id: int | None = None  # set by the RunRecorder extension when the spider opens
    validators: object | None = None  # crawler.middlewares.conditional.ValidatorStore
    extra: dict = field(default_factory=dict)

    @classmethod
    def open(cls, crawler: Crawler, site: SiteConfig) -> CrawlContext:
        from pricing.store.history import ensure_site

        settings = crawler.settings
        engine = engine_for(
            settings.get("PRICEWATCH_DB_URL"), migrate=settings.getbool("PRICEWATCH_INIT_DB", True)
        )
        site_id = ensure_site(engine, site.name, site.base_url, site.currency)
        return cls(
            site=site,
            engine=engine,
            site_id=site_id,
            trigger=settings.get("PRICEWATCH_TRIGGER") or "scrapy",
        )


def context_of(crawler: Crawler) -> CrawlContext:
    """The crawl's context, or NotConfigured (for spiders that don't write to the store)."""
    context = getattr(crawler.spider, "context", None)
    if not isinstance(context, CrawlContext):
        raise NotConfigured("the spider has no Pricewatch crawl context (not a site spider)")
    return context
