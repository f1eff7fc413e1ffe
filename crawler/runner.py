"""Running crawls: the one entry point the CLI, the scheduler, Celery and the benchmark share.

A Twisted reactor cannot be restarted, so one process runs one ``CrawlerProcess`` with a crawler
per site, and many sites in parallel means a few such processes (one per core: one Scrapy process
is one core). :func:`crawl_sites` splits the sites over child processes
(``python -m crawler.runner``), reads their JSON-lines progress, forwards SIGTERM to them (each
then closes its runs as ``interrupted``) and returns one :class:`SiteResult` per site.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from scrapy.settings import Settings

from crawler.siteconfig import SiteConfig, find_site_config


@dataclass(slots=True)
class SiteResult:
    """How one site's crawl ended, as its process reported it (the last progress line)."""

    site: str
    run_id: int | None = None
    state: str = "pending"
    pages: int = 0
    items: int = 0
    errors: int = 0
    not_modified: int = 0
    parse_failures: int = 0
    ban_pages: int = 0
    queued: int = 0
    elapsed: float = 0.0
    reason: str | None = None
    status: str | None = None
    health: str | None = None
    extra: dict = field(default_factory=dict)

    def update(self, line: dict) -> None:
        for key, value in line.items():
            if key in SiteResult.__slots__:
                setattr(self, key, value)
            else:
                self.extra[key] = value


def crawl_settings(
    *,
    db_url: str | None = None,
    sites_dir: str | Path | None = None,
    trigger: str = "cli",
    progress: bool = False,
    overrides: dict | None = None,
) -> Settings:
    """crawler/settings.py plus what this invocation says."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if db_url:
        settings.set("PRICEWATCH_DB_URL", db_url, priority="cmdline")
    if sites_dir:
        settings.set("PRICEWATCH_SITES_DIR", str(sites_dir), priority="cmdline")
    settings.set("PRICEWATCH_TRIGGER", trigger, priority="cmdline")
    settings.set("PRICEWATCH_PROGRESS", progress, priority="cmdline")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


# The cyclic garbage collector's first-generation threshold for crawl processes (Python's
# default is 700). A crawl allocates a burst of short-lived objects per page and per item;
# at 700 the collector ran every few pages and cost ~15% of product-page mode's CPU (measured:
# the same as with the collector off). Few of these objects are in cycles, so collecting
# 30x less often costs a few MB at most.
GC_THRESHOLD = (20_000, 20, 20)


def tune_gc() -> None:
    """Collect less often in a crawl process (see ``GC_THRESHOLD``)."""
    gc.set_threshold(*GC_THRESHOLD)


def run_here(sites: Sequence[SiteConfig], settings: Settings, spider_cls=None) -> None:
    """Crawl ``sites`` in this process, all at once, until every crawl ends (blocks)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.reactor import install_reactor

    from crawler.spiders.site import SiteSpider

    # Installed here, not by the first crawler: if that one fails to start (a database error,
    # say), the other sites of this process must still run.
    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    process = CrawlerProcess(settings)
    for site in sites:
        process.crawl(spider_cls or SiteSpider, site=site)
    tune_gc()
    process.start()


def _split(items: Sequence[str], parts: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(max(1, min(parts, len(items))))]
    for i, item in enumerate(items):
        groups[i % len(groups)].append(item)
    return groups


def crawl_sites(
    names: Sequence[str],
    *,
    db_url: str | None = None,
    sites_dir: str | Path | None = None,
    trigger: str = "cli",
    processes: int | None = None,
    overrides: dict | None = None,
    on_progress: Callable[[SiteResult], None] | None = None,
    log_dir: Path | None = None,
) -> dict[str, SiteResult]:
    """Crawl the named sites in ``processes`` child processes (default: one per core).

    Blocks until all children exit. Configs are validated here first, so a bad YAML fails
    before anything starts. Children log to ``log_dir`` (a temporary directory by default);
    each result's ``extra["log"]`` says where.
    """
    from crawler.middlewares.refresh import refresh_urls
    from pricing.store.db import make_engine
    from pricing.store.schema import init_db

    for name in names:
        find_site_config(name, sites_dir)  # all or nothing: fail before any crawl starts
    refresh_urls(Settings(overrides or {}))  # a bad refresh URL file, too (RefreshUrlsError)
    engine = make_engine(db_url)
    try:
        init_db(engine)  # once, here: children starting together must not race to migrate
    finally:
        engine.dispose()
    results = {name: SiteResult(site=name) for name in names}
    if not names:
        return results
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="pricewatch-crawl-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    groups = _split(list(names), processes or os.cpu_count() or 1)
    children: list[tuple[subprocess.Popen, list[str], Path]] = []
    for index, group in enumerate(groups):
        log_path = log_dir / f"crawl-{index}.log"
        command = [sys.executable, "-m", "crawler.runner", "--trigger", trigger]
        # The schema was migrated above: the children need not check it again.
        command += ["--set", "PRICEWATCH_INIT_DB=false"]
        if db_url:
            command += ["--db", db_url]
        if sites_dir:
            command += ["--sites-dir", str(sites_dir)]
        for key, value in (overrides or {}).items():
            command += ["--set", f"{key}={json.dumps(value)}"]
        command += group
        with open(log_path, "wb") as log:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        children.append((child, group, log_path))
        for name in group:
            results[name].extra["log"] = str(log_path)

    lock = threading.Lock()

    def read(child: subprocess.Popen) -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            result = results.get(line.get("site"))
            if result is None:
                continue
            with lock:
                result.update(line)
                if on_progress:
                    on_progress(result)

    readers = [threading.Thread(target=read, args=(c,), daemon=True) for c, _, _ in children]
    for reader in readers:
        reader.start()

    def forward(signum, _frame) -> None:
        for child, _, _ in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                for child, _, _ in children:
                    child.wait()
                break
            except KeyboardInterrupt:
                # The children got the same SIGINT (same process group) and are closing their
                # runs as interrupted; wait for them to finish doing so.
                forward(signal.SIGINT, None)
                continue
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    for reader in readers:
        reader.join(timeout=5)
    for child, group, _log in children:
        for name in group:
            result = results[name]
            result.extra["exit_code"] = child.returncode
            if result.state != "closed":
                result.state, result.status = "died", result.status or "failed"
    return results


@click.command()
@click.option("--db", "db_url", default=None)
@click.option("--sites-dir", default=None)
@click.option("--trigger", default="cli")
@click.option("--set", "overrides", multiple=True, help="SETTING=JSON value")
@click.option("--progress/--no-progress", default=True)
@click.argument("names", nargs=-1, required=True)
def main(db_url, sites_dir, trigger, overrides, progress, names) -> None:
    """Child process of crawl_sites: crawl NAMES in one CrawlerProcess."""
    # Before the crawl's imports and set-up, not just before the crawl: at Python's default
    # threshold they ran ~240 collections, two of them full (~0.2 CPU-s a process, measured).
    tune_gc()
    extra = {}
    for item in overrides:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value)
    sites = [find_site_config(name, sites_dir) for name in names]
    settings = crawl_settings(
        db_url=db_url, sites_dir=sites_dir, trigger=trigger, progress=progress, overrides=extra
    )
    run_here(sites, settings)


if __name__ == "__main__":
    main()
