"""Helpers shared by the crawler's end-to-end tests: compare the store with the simulator's truth."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Engine, text

CENT = Decimal("0.005")


def stored_offers(engine: Engine, site: str) -> pd.DataFrame:
    query = (
        "SELECT o.url, o.cur_price, o.cur_currency, o.cur_availability, o.cur_suspect, "
        "o.cur_run_id FROM offers o JOIN sites s ON s.id = o.site_id WHERE s.name = :site"
    )
    with engine.connect() as conn:
        return pd.read_sql_query(text(query), conn, params={"site": site})


def _price_ok(truth_price, truth_currency, price, currency) -> bool:
    if truth_price is None or pd.isna(truth_price):
        return price is None or pd.isna(price)  # "Call for price": missing, never 0
    if price is None or pd.isna(price):
        return False
    return abs(Decimal(str(price)) - truth_price) < CENT and currency == truth_currency


def compare(market, engine: Engine, site: str) -> pd.DataFrame:
    """Truth joined with what the store holds; ``price_ok``/``availability_ok`` per offer."""
    truth = market.truth(site)
    joined = truth.merge(stored_offers(engine, site), on="url", how="left")
    joined["stored"] = joined["cur_availability"].notna()
    joined["price_ok"] = [
        _price_ok(tp, tc, p, c)
        for tp, tc, p, c in zip(
            joined.price, joined.currency, joined.cur_price, joined.cur_currency, strict=True
        )
    ]
    joined["availability_ok"] = joined.availability == joined.cur_availability
    joined["ok"] = joined.stored & joined.price_ok & joined.availability_ok
    return joined


def rewrite_config(sites_dir: Path, name: str, **changes) -> None:
    """Change keys of a simulator-written site YAML (nested dicts are merged)."""
    path = sites_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def site_crawler(tmp_path: Path, site: dict):
    """A real Crawler with the site spider built as Scrapy builds it (no crawl is started)."""
    from scrapy.crawler import Crawler
    from scrapy.utils.test import get_reactor_settings

    from crawler.runner import crawl_settings
    from crawler.siteconfig import parse_site_config
    from crawler.spiders.site import SiteSpider

    settings = crawl_settings(db_url=f"sqlite:///{tmp_path / 'store.db'}", trigger="test")
    settings.setdict(get_reactor_settings(), priority="cmdline")
    crawler = Crawler(SiteSpider, settings)
    crawler.spider = crawler._create_spider(site=parse_site_config(site))
    crawler._apply_settings()
    return crawler
