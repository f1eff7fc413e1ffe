"""``pricewatch bench parse-price``: price parsing accuracy on real strings, and extraction speed.

Accuracy is measured on the 1,185 real-world strings of ``shared/realdata/prices.tsv`` (from
price-parser's own test tables), for ``parse_price`` and, in the same run, for bare
price-parser as the baseline. Speed: ``extract_offers`` on representative pages (padded to
real page size), against extruct asked for every syntax, which is what a naive extractor does.
"""

from __future__ import annotations

import csv
import os
import time
from decimal import Decimal
from pathlib import Path

import click
import extruct
from price_parser import Price

from crawler.bench.sample_pages import REPRESENTATIVE, padded
from crawler.extract import extract_offers, parse_price_details
from crawler.extraction.prices import clear_price_cache
from pricing.bench.report import emit, json_option

ENV_REALDATA = "PRICEWATCH_REALDATA"
ALL_SYNTAXES = ["microdata", "opengraph", "json-ld", "microformat", "rdfa", "dublincore"]


def realdata_path() -> Path:
    """``$PRICEWATCH_REALDATA/prices.tsv``, else ``shared/realdata`` beside the checkout."""
    base = os.environ.get(ENV_REALDATA)
    if base:
        return Path(base) / "prices.tsv"
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "realdata" / "prices.tsv"
        if candidate.exists():
            return candidate
    return here.parents[3] / "shared" / "realdata" / "prices.tsv"


def load_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def accuracy(rows: list[dict[str, str]]) -> dict[str, object]:
    """Amount and ISO accuracy of parse_price and of bare price-parser on the same rows."""
    ours = base = ours_iso = base_iso = iso_rows = wellformed = ours_wellformed = 0
    for row in rows:
        hint = row["currency_hint"] or None
        sep = row["decimal_separator"] or None
        expected = Decimal(row["expected_amount"]) if row["expected_amount"] else None
        parsed = parse_price_details(row["raw_string"], currency_hint=hint, decimal_separator=sep)
        baseline = Price.fromstring(row["raw_string"], currency_hint=hint, decimal_separator=sep)
        ours += parsed.amount == expected
        base += baseline.amount == expected
        # Rows expecting a number from a string without any digit are an upstream quirk.
        if not (expected and not any(ch.isdigit() for ch in row["raw_string"])):
            wellformed += 1
            ours_wellformed += parsed.amount == expected
        iso = row["expected_currency_iso_guess"]
        if iso:
            iso_rows += 1
            ours_iso += parsed.currency == iso
            base_iso += (baseline.currency or "").upper() == iso
    n = len(rows)
    return {
        "rows": n,
        "amount_right": ours,
        "amount_accuracy": round(ours / n, 4),
        "baseline_amount_right": base,
        "baseline_amount_accuracy": round(base / n, 4),
        "wellformed_rows": wellformed,
        "wellformed_amount_accuracy": round(ours_wellformed / wellformed, 4),
        "iso_rows": iso_rows,
        "iso_accuracy": round(ours_iso / iso_rows, 4),
        "baseline_iso_accuracy": round(base_iso / iso_rows, 4),
    }


def _rate(fn, items, min_seconds: float, before_round=None) -> float:
    """Items per second of ``fn`` over ``items``, repeated for at least ``min_seconds``."""
    done, start = 0, time.perf_counter()
    while True:
        if before_round is not None:
            before_round()
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def speed(rows: list[dict[str, str]], min_seconds: float, page_kb: int) -> dict[str, object]:
    strings = [r["raw_string"] for r in rows]
    pages = [(padded(html, page_kb), url) for _, html, url in REPRESENTATIVE]
    # Cold: the cache is cleared every round, so repeats do not flatter parse_price.
    ours = _rate(parse_price_details, strings, min_seconds, clear_price_cache)
    base = _rate(lambda s: Price.fromstring(s), strings, min_seconds)
    extract = _rate(lambda p: extract_offers(p[0], p[1]), pages, min_seconds)
    everything = _rate(
        lambda p: extruct.extract(p[0], base_url=p[1], syntaxes=ALL_SYNTAXES, uniform=True),
        pages,
        min_seconds,
    )
    return {
        "parse_price_per_s": round(ours),
        "baseline_parse_price_per_s": round(base),
        "parse_price_vs_baseline_speed": round(ours / base, 3),
        "page_kb": page_kb,
        "extract_pages_per_s": round(extract, 1),
        "extruct_all_syntaxes_pages_per_s": round(everything, 1),
        "extract_vs_all_syntaxes": round(extract / everything, 2),
        **simulator_speed(min_seconds),
    }


def simulator_speed(min_seconds: float) -> dict[str, object]:
    """extract_offers on the shop simulator's listing and product pages (every markup family),
    rendered in-process: the offers/s one crawler core can extract."""
    try:
        from shopsim import configs
        from shopsim.market import Market
        from shopsim.site import SiteRouter
        from shopsim.vocab import CATEGORIES
    except ImportError:
        return {}
    from crawler.siteconfig import parse_site_config

    market = Market.generate(sites=12, products=6000, seed=1, faults="realistic")
    state = market.state()
    listings, products = [], []
    for site in market.sites:
        if site.family == "api":
            continue
        config = parse_site_config(configs.site_config(market, site, "http://sim"))
        router = SiteRouter(market, site, "http://sim")
        for c in market.categories(site, state)[:4]:
            path, _, query = site.listing_path(CATEGORIES[c].slug, 1).partition("?")
            page = router.route(path, query, state)
            if page.status == 200:
                listings.append((page.body, "http://sim" + path, config, len(page.offers)))
        for i in router.shop_offers(state)[:20]:
            view = market.view(site, int(i), state)
            page = router.route(view.path, "", state)
            if page.status == 200:
                products.append((page.body, "http://sim" + view.path, config, 1))
    listing_pages = _rate(lambda p: extract_offers(p[0], p[1], p[2]), listings, min_seconds)
    per_listing = sum(p[3] for p in listings) / len(listings)
    product_pages = _rate(lambda p: extract_offers(p[0], p[1], p[2]), products, min_seconds)
    return {
        "sim_listing_pages_per_s": round(listing_pages, 1),
        "sim_listing_offers_per_s": round(listing_pages * per_listing),
        "sim_product_pages_per_s": round(product_pages, 1),
    }


@click.command("parse-price")
@click.option("--realdata", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="prices.tsv to score (default: shared/realdata/prices.tsv).")  # fmt: skip
@click.option(
    "--seconds", default=2.0, show_default=True, help="Minimum time per speed measurement."
)
@click.option("--page-kb", default=80, show_default=True, help="Pad sample pages to this size.")
@json_option
def bench_parse_price(realdata: Path | None, seconds: float, page_kb: int, as_json: bool) -> None:
    """parse_price accuracy on 1,185 real price strings vs bare price-parser, and
    extract_offers pages/s (only the syntaxes present) vs extruct with all syntaxes."""
    path = realdata or realdata_path()
    if not path.exists():
        raise click.ClickException(f"{path}: not found (set {ENV_REALDATA} or pass --realdata)")
    rows = load_rows(path)
    figures = {**accuracy(rows), **speed(rows, seconds, page_kb)}
    lead = ("amount_accuracy", "baseline_amount_accuracy", "iso_accuracy", "extract_pages_per_s")
    figures = {**{k: figures[k] for k in lead}, **figures}
    if not as_json:
        click.echo(
            f"amount right: {figures['amount_right']}/{figures['rows']} "
            f"(price-parser alone {figures['baseline_amount_right']}); ISO right on "
            f"{figures['iso_accuracy']:.2%} of {figures['iso_rows']} unambiguous rows"
        )
    emit("parse-price", figures, as_json)
