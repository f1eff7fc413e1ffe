"""Site configs for the simulated shops, in the crawler's YAML format (crawler/siteconfig.py).

Each config is validated with the crawler's own schema before anything is written, and all
files are written or none: a config the crawler would reject is a simulator bug.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from crawler.siteconfig import parse_site_config
from shopsim.market import Market
from shopsim.render_api import API_PATH
from shopsim.render_common import CAPTCHA_ID
from shopsim.shops import SiteSpec
from shopsim.vocab import CATEGORIES

API_FIELDS = {
    "url": "url",
    "title": "name",
    "brand": "brand",
    "gtin": "gtin",
    "mpn": "mpn",
    "price": "price.amount",
    "regular_price": "price.regular",
    "currency": "price.currency",
    "availability": "availability",
    "stock_quantity": "stock.quantity",
    "review_count": "reviews.count",
    "rating": "reviews.rating",
    "sold_count": "sold",
    "rank": "rank",
}


def selectors(site: SiteSpec) -> dict:
    t = site.theme
    return {
        "title": f".{t.title}",
        "price": f".{t.price}",
        "regular_price": f".{t.regular}",
        "availability": f".{t.stock}",
        "stock_quantity": f".{t.stock}",
        "brand": ".brand",
        "gtin": ".gtin",
        "mpn": ".mpn",
        "review_count": ".reviews",
        "rating": ".rating",
        "sold_count": ".sold",
        "rank": ".rank",
        "listing_item": f"li.{t.card}",
        "product_link": {"css": f"a.{t.title}", "attr": "href"},
        "next_page": {"css": f"a.{t.next}", "attr": "href"},
        "ban_marker": f"#{CAPTCHA_ID}",
    }


def site_config(market: Market, site: SiteSpec, base_url: str) -> dict:
    """The YAML data of one shop's config."""
    state = market.state()
    if site.family == "api":
        start: dict = {
            "api": {
                "url": f"{API_PATH}?page=1",
                "items": "items",
                "next": "next",
                "fields": dict(API_FIELDS),
            }
        }
    elif site.mode == "listing":
        start = {
            "listings": [
                site.listing_path(CATEGORIES[c].slug, 1) for c in market.categories(site, state)
            ]
        }
    else:
        start = {"sitemap": "/sitemap.xml"}
    return {
        "name": site.name,
        "base_url": base_url,
        "start": start,
        "mode": "listing" if site.family == "api" else site.mode,
        "politeness": {
            "concurrency": 8,
            "delay": site.crawl_delay or 0,
            "obey_robots": True,
            "timeout": 5,
            "retries": 3,
        },
        "cadence": {"every": "6h"},
        "currency": site.currency,
        "locale": site.locale.code,
        "decimal_separator": site.locale.decimal,
        "price_rule": "visible" if site.family == "mismatch" else "structured",
        "selectors": selectors(site),
    }


def write_site_configs(market: Market, urls: dict[str, str], directory: str | Path) -> list[Path]:
    """Write ``DIRECTORY/shop-NN.yaml`` for every served shop; validate all first."""
    directory = Path(directory)
    docs = []
    for site in market.sites:
        if site.name not in urls:
            raise KeyError(f"{site.name} is not being served; start the server first")
        data = site_config(market, site, urls[site.name])
        parse_site_config(data, directory / f"{site.name}.yaml")  # raises SiteConfigError
        docs.append((directory / f"{site.name}.yaml", data))
    directory.mkdir(parents=True, exist_ok=True)
    for path, data in docs:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return [path for path, _ in docs]
