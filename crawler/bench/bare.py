"""The benchmark's baseline: a bare Scrapy spider that only downloads a list of pages.

Same settings as the real crawl (crawler/settings.py: concurrency, CONCURRENT_ITEMS, robots.txt),
none of Pricewatch's components: no extraction, no pipelines, no store. Run as
``python -m crawler.bench.bare LABEL=URLFILE ...``: one crawler per file, one process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import click
import scrapy

from crawler.runner import crawl_settings


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, label: str, urls_file: str, **kwargs):
        super().__init__(**kwargs)
        self.label = label
        self.urls = Path(urls_file).read_text().split()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        return None


@click.command()
@click.option("--concurrency", type=int, default=8)
@click.argument("pairs", nargs=-1, required=True)
def main(concurrency: int, pairs: tuple[str, ...]) -> None:
    """Download every URL of every LABEL=URLFILE, one crawler per file."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.reactor import install_reactor

    settings = crawl_settings(
        progress=True,
        overrides={
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_REQUESTS": 2 * concurrency,
            "DOWNLOAD_DELAY": 0,
            "LOG_LEVEL": "WARNING",
        },
    )
    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    process = CrawlerProcess(settings)
    for pair in pairs:
        label, _, path = pair.partition("=")
        process.crawl(BareSpider, label=label, urls_file=path)
    process.start()


if __name__ == "__main__":
    main()
