"""``pricewatch bench crawl``: the simulator's market into an SQLite store, against a bare spider.

Three measurements in one run, on the same simulated market served from this process:

1. product-page mode: the generic spider reads product pages (a sample of every shop's
   offers, ``--product-pages``), extracts, validates and writes them to the store;
2. the baseline: a bare Scrapy spider (crawler/bench/bare.py) downloads the same pages and does
   nothing else; ``ratio`` is (1) over (2) in pages per second;
3. a listing-mode cycle: every shop read from its category listings (or its JSON API), which
   refreshes every offer of the market with few requests; ``listing_cycle_s`` is its wall time,
   process start-up included, and ``coverage`` the share of the market's offers it stored.

Crawls run as `pricewatch crawl` runs them (crawler.runner: one process per core, several
sites per process). Delays are set to 0 (the shops are ours); robots.txt is still obeyed. The
simulated shops' robots.txt ``Crawl-delay`` (every eighth shop asks for 0.25 s) is switched off
for both spiders unless ``--shop-crawl-delay``: with it, both crawls took as long as the slowest
paced shop, so pages/s measured the shops' pace, not the crawlers. Without it both are bound
by CPU (theirs and the simulator's, on the same cores), and ``ratio`` compares crawlers.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click
import yaml

from pricing.bench.report import emit, json_option


def _cpu() -> float:
    """CPU seconds used so far by this process's finished children (the crawler processes).

    Wall-clock rates move with whatever else the machine runs; CPU per page does not.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    """CPU seconds of this process: the simulator serving the shops."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _window(results) -> tuple[int, int, float]:
    """(pages, items, seconds from the first spider opening to the last one closing)."""
    opened = [r.extra["time"] - r.elapsed for r in results if "time" in r.extra]
    closed = [r.extra["time"] for r in results if "time" in r.extra]
    pages = sum(r.pages for r in results)
    items = sum(r.items for r in results)
    return pages, items, (max(closed) - min(opened)) if opened else 0.0


def _configs(server, market, directory: Path, mode: str, sample: dict[str, list[str]] | None):
    """Site YAMLs for one measurement: delay 0, and the mode's start points."""
    from shopsim.vocab import CATEGORIES

    server.write_site_configs(directory)
    state = market.state()
    for site in market.sites:
        path = directory / f"{site.name}.yaml"
        data = yaml.safe_load(path.read_text())
        data["politeness"] = {**data["politeness"], "delay": 0}
        if mode == "product":
            data["mode"] = "product"
            data["start"] = {"products": sample[site.name]}
        elif "api" not in data["start"]:
            data["mode"] = "listing"
            data["start"] = {
                "listings": [
                    site.listing_path(CATEGORIES[c].slug, 1) for c in market.categories(site, state)
                ]
            }
        path.write_text(yaml.safe_dump(data))


def _sample(truth: dict, total: int) -> dict[str, list[str]]:
    """About ``total`` product URLs, every shop in proportion to its size (0: all)."""
    everything = sum(len(urls) for urls in truth.values())
    share = 1.0 if total <= 0 or total >= everything else total / everything
    return {name: urls[: max(1, round(len(urls) * share))] for name, urls in truth.items()}


def _run_baseline(sample: dict[str, list[str]], processes: int, workdir: Path, concurrency: int):
    from crawler.runner import SiteResult, _split

    files = {}
    for name, urls in sample.items():
        files[name] = workdir / f"{name}.urls"
        files[name].write_text("\n".join(urls))
    results = {name: SiteResult(site=name) for name in sample}
    children = []
    for group in _split(list(sample), processes):
        command = [sys.executable, "-m", "crawler.bench.bare", "--concurrency", str(concurrency)]
        command += [f"{name}={files[name]}" for name in group]
        children.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        )

    def read(child):
        for raw in child.stdout:
            line = json.loads(raw)
            if line.get("site") in results:
                results[line["site"]].update(line)

    readers = [threading.Thread(target=read, args=(c,)) for c in children]
    for thread in readers:
        thread.start()
    for child in children:
        child.wait()
    for thread in readers:
        thread.join()
    return list(results.values())


def _stored_offers(db_url: str) -> int:
    from sqlalchemy import func, select

    from pricing.store.db import make_engine
    from pricing.store.models import Offer

    engine = make_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Offer)).scalar()
    engine.dispose()
    return count


@click.command("crawl")
@click.option("--sites", type=click.IntRange(1, 253), default=72, show_default=True)
@click.option("--products", type=click.IntRange(1), default=170_000, show_default=True)
@click.option(
    "--product-pages",
    type=click.IntRange(0),
    default=20_000,
    show_default=True,
    help="Product pages read in product-page mode and by the baseline (0: every offer).",
)
@click.option("--processes", type=click.IntRange(1, 64), default=os.cpu_count() or 1)
@click.option(
    "--rounds",
    type=click.IntRange(1, 10),
    default=2,
    show_default=True,
    help="Product-page/baseline rounds, alternating; the best of each is reported.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--shop-crawl-delay/--no-shop-crawl-delay",
    default=False,
    show_default=True,
    help="Keep the simulated shops' robots.txt Crawl-delay (paces both spiders alike).",
)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
@json_option
def bench_crawl(
    sites, products, product_pages, processes, rounds, seed, shop_crawl_delay, workdir, as_json
) -> None:
    """Crawl the simulated market into SQLite; product-page mode vs a bare Scrapy spider, and a
    full listing-mode refresh. Prints pages/s, products/s, the listing cycle time and memory."""
    from crawler.runner import crawl_sites
    from shopsim import Market
    from shopsim.server import serve_in_thread

    workdir = Path(workdir or tempfile.mkdtemp(prefix="pricewatch-bench-crawl-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: click.echo(*a, err=True)) if as_json else click.echo
    market = Market.generate(sites=sites, products=products, seed=seed, faults="none")
    paced = [site.name for site in market.sites if site.crawl_delay]
    if not shop_crawl_delay:
        for site in market.sites:
            site.crawl_delay = None  # robots.txt without Crawl-delay; Disallow rules stay
    say(
        f"robots.txt Crawl-delay of {len(paced)} shops: "
        + ("kept (both spiders paced by them)" if shop_crawl_delay else "off for both spiders")
    )
    names = [site.name for site in market.sites]
    with serve_in_thread(market) as server:
        truth = {name: list(market.truth(name).url) for name in names}
        offers_total = sum(len(urls) for urls in truth.values())
        sample = _sample(truth, product_pages)
        concurrency = 8

        product_dir = workdir / "product-sites"
        _configs(server, market, product_dir, "product", sample)
        pages_per_s = baseline_pages_per_s = 0.0
        cpu_ms = baseline_cpu_ms = float("inf")
        for round_no in range(1, rounds + 1):
            # Alternating, best of each: other work on the machine hits both alike.
            say(f"round {round_no}: product-page mode, {len(names)} shops")
            product_db = f"sqlite:///{workdir / f'product-{round_no}.db'}"
            cpu = _cpu()
            results = crawl_sites(
                names, db_url=product_db, sites_dir=product_dir, trigger="bench",
                processes=processes, log_dir=workdir / f"logs-product-{round_no}",
            )  # fmt: skip
            pages, items, seconds = _window(results.values())
            cpu_ms = min(cpu_ms, 1000 * (_cpu() - cpu) / max(pages, 1))
            rate = pages / seconds if seconds else 0.0
            pages_per_s = max(pages_per_s, rate)
            say(
                f"  {pages} pages, {items} items in {seconds:.1f}s: {rate:.0f} pages/s, "
                f"{cpu_ms:.2f} CPU-ms a page (best so far)"
            )
            say(f"round {round_no}: baseline, a bare Scrapy spider on the same pages")
            cpu = _cpu()
            base = _run_baseline(sample, processes, workdir, concurrency)
            base_pages, _, base_seconds = _window(base)
            baseline_cpu_ms = min(baseline_cpu_ms, 1000 * (_cpu() - cpu) / max(base_pages, 1))
            rate = base_pages / base_seconds if base_seconds else 0.0
            baseline_pages_per_s = max(baseline_pages_per_s, rate)
            say(
                f"  {base_pages} pages in {base_seconds:.1f}s: {rate:.0f} pages/s, "
                f"{baseline_cpu_ms:.2f} CPU-ms a page (best so far)"
            )

        say(f"listing mode: every offer of {sites} shops ({offers_total} offers)")
        listing_dir = workdir / "listing-sites"
        _configs(server, market, listing_dir, "listing", None)
        listing_db = f"sqlite:///{workdir / 'listing.db'}"
        started, cpu, own = time.monotonic(), _cpu(), _own_cpu()
        listing = crawl_sites(
            names, db_url=listing_db, sites_dir=listing_dir, trigger="bench",
            processes=processes, log_dir=workdir / "logs-listing",
        )  # fmt: skip
        cycle_s = time.monotonic() - started
        listing_cpu_s, simulator_cpu_s = _cpu() - cpu, _own_cpu() - own
        listing_pages, listing_items, listing_crawl_s = _window(listing.values())
        stored = _stored_offers(listing_db)
        say(f"  {listing_pages} pages, {listing_items} items, {stored} offers in {cycle_s:.1f}s")

    crawler_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    failed = [r.site for r in [*results.values(), *listing.values()] if r.status != "finished"]
    emit(
        "crawl",
        {
            "pages_per_s": round(pages_per_s, 1),
            "baseline_pages_per_s": round(baseline_pages_per_s, 1),
            "ratio": round(pages_per_s / baseline_pages_per_s, 3) if baseline_pages_per_s else 0,
            "products_per_s": round(listing_items / cycle_s, 1) if cycle_s else 0,
            "listing_cycle_s": round(cycle_s, 1),
            "listing_crawl_s": round(listing_crawl_s, 1),  # without process start-up
            "listing_cpu_s": round(listing_cpu_s, 1),  # over all crawler processes
            "simulator_cpu_s": round(simulator_cpu_s, 1),  # serving the listing cycle
            "listing_pages": listing_pages,
            "cpu_ms_per_page": round(cpu_ms, 2),
            "baseline_cpu_ms_per_page": round(baseline_cpu_ms, 2),
            "cpu_ratio": round(baseline_cpu_ms / cpu_ms, 3) if cpu_ms else 0,
            "coverage": round(stored / offers_total, 4) if offers_total else 0,
            "product_pages": pages,
            "peak_rss_mb": round(crawler_rss, 1),
            "simulator_rss_mb": round(bench_rss, 1),
            "processes": processes,
            "sites": sites,
            "products": offers_total,
            "failed_sites": len(failed),
            "shop_crawl_delay": bool(shop_crawl_delay and paced),
        },
        as_json,
    )
