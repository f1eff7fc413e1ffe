"""``pricewatch bench NAME``: benchmarks that print figures, never pass/fail.

Every benchmark ends with one line ``bench NAME: key=value ...`` (or, with ``--json``, the
same figures as one JSON object) so scripts can compare runs. Each area owns its module.
"""

from __future__ import annotations

import click

from pricing.cli import LazyGroup

BENCHES: dict[str, str] = {
    "store": "pricing.bench.store:bench_store",
    "simulator": "shopsim.bench:bench_simulator",
    "parse-price": "crawler.bench.parse_price:bench_parse_price",
    "crawl": "crawler.bench.crawl:bench_crawl",
    "crawl-workers": "crawler.bench.crawl_workers:bench_crawl_workers",
    "match": "pricing.bench.matching:bench_match",
    "elasticity": "pricing.bench.matching:bench_elasticity",
    "suggest": "pricing.bench.suggest:bench_suggest",
    "review": "pricing.review.bench:bench_review",
    "freshness": "pricing.bench.freshness:bench_freshness",
}


@click.group(cls=LazyGroup, lazy_commands=BENCHES)
def bench() -> None:
    """Measure speed and accuracy; each prints a final `bench NAME: k=v ...` line."""
