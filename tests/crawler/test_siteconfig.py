"""Every site-config error names the file, the key and the problem (one test per message)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import yaml

from crawler.siteconfig import (
    SITES_DIR,
    SiteConfigError,
    find_site_config,
    load_all_site_configs,
    load_site_config,
    parse_site_config,
)

BASE = {"name": "shop", "base_url": "http://127.0.0.9:8000/", "start": {"listings": ["/c/1"]}}


def with_(**changes):
    return {**BASE, **changes}


ERRORS = [
    pytest.param([1, 2], "(top level)", "expected a mapping of keys to values", id="not-mapping"),
    pytest.param(with_(colour="red"), "colour", "unknown key", id="unknown-key"),
    pytest.param(
        {k: v for k, v in BASE.items() if k != "start"},
        "start",
        "required key is missing",
        id="missing-key",
    ),
    pytest.param(with_(name="Shop One"), "name", "is not a site name", id="bad-name"),
    pytest.param(with_(base_url="ftp://x"), "base_url", "is not an http(s) URL", id="bad-url"),
    pytest.param(
        with_(selectors={"price": {"css": "a", "xpath": "//a"}}),
        "selectors.price",
        "give exactly one of css or xpath",
        id="selector-both",
    ),
    pytest.param(
        with_(selectors={"price": {"attr": "content"}}),
        "selectors.price",
        "give exactly one of css or xpath",
        id="selector-none",
    ),
    pytest.param(
        with_(selectors={"price": "div[[x"}),
        "selectors.price.css",
        "is not a valid CSS selector",
        id="selector-css",
    ),
    pytest.param(
        with_(selectors={"price": "xpath://div[@"}),
        "selectors.price.xpath",
        "is not a valid XPath",
        id="selector-xpath",
    ),
    pytest.param(
        with_(selectors={"colour": ".c"}), "selectors.colour", "unknown key", id="selector-field"
    ),
    pytest.param(
        with_(start={"api": {"url": "/a", "fields": {"url": "u", "colour": "c"}}}),
        "start.api.fields",
        "unknown field(s) colour; known: url, title, price",
        id="api-field",
    ),
    pytest.param(
        with_(start={"api": {"url": "/a", "fields": {"price": "p"}}}),
        "start.api.fields",
        "give a path for url",
        id="api-no-url",
    ),
    pytest.param(
        with_(start={"api": {"url": "/a", "fields": {"url": "u", "price": "p[("}}}),
        "start.api.fields",
        "price: 'p[(' is not a valid JMESPath expression",
        id="api-field-path",
    ),
    pytest.param(
        with_(start={"api": {"url": "/a", "items": "a[", "fields": {"url": "u"}}}),
        "start.api.items",
        "'a[' is not a valid JMESPath expression",
        id="api-items-path",
    ),
    pytest.param(
        with_(start={}),
        "start",
        "give at least one of sitemap, listings, products or api",
        id="no-start",
    ),
    pytest.param(
        with_(start={"sitemap": "/sitemap.xml", "product_pattern": "(("}),
        "start.product_pattern",
        "'((' is not a valid regular expression",
        id="bad-regex",
    ),
    pytest.param(
        with_(start={"listings": "/c/1"}), "start.listings", "valid list", id="listings-not-list"
    ),
    pytest.param(
        with_(politeness={"concurrency": 0}),
        "politeness.concurrency",
        "greater than or equal to 1",
        id="concurrency",
    ),
    pytest.param(
        with_(politeness={"delay": -1}),
        "politeness.delay",
        "greater than or equal to 0",
        id="delay",
    ),
    pytest.param(
        with_(politeness={"timeout": 0}), "politeness.timeout", "greater than 0", id="timeout"
    ),
    pytest.param(
        with_(politeness={"retries": 11}),
        "politeness.retries",
        "less than or equal to 10",
        id="retries",
    ),
    pytest.param(
        with_(politeness={"obey_robots": "maybe"}),
        "politeness.obey_robots",
        "valid boolean",
        id="robots",
    ),
    pytest.param(
        with_(cadence={"every": "often"}),
        "cadence.every",
        "'often' is not a duration like 90s, 15m, 6h or 1d",
        id="duration",
    ),
    pytest.param(
        with_(cadence={"every": "1h", "active_hours": "06:00"}),
        "cadence.active_hours",
        "'06:00' is not a range like 06:00-22:00",
        id="hours-range",
    ),
    pytest.param(
        with_(cadence={"every": "1h", "active_hours": "6-22x"}),
        "cadence.active_hours",
        "'6-22x' is not a range like 06:00-22:00",
        id="hours-time",
    ),
    pytest.param(
        with_(cadence={"cron": "* * *"}),
        "cadence.cron",
        "is not a 5-field cron expression",
        id="cron",
    ),
    pytest.param(
        with_(cadence={"jitter": "5m"}), "cadence", "give every (like 6h) or cron", id="no-cadence"
    ),
    pytest.param(
        with_(cadence={"every": "1h", "cron": "* * * * *"}),
        "cadence",
        "give every or cron, not both",
        id="both-cadences",
    ),
    pytest.param(
        with_(currency="euro"), "currency", "'euro' is not an ISO 4217 currency code", id="currency"
    ),
    pytest.param(with_(mode="crawl"), "mode", "'listing' or 'product'", id="mode"),
    pytest.param(with_(decimal_separator=" "), "decimal_separator", "'.' or ','", id="decimal"),
    pytest.param(
        with_(price_rule="cheapest"), "price_rule", "'structured' or 'visible'", id="rule"
    ),
    pytest.param(with_(max_pages=0), "max_pages", "greater than or equal to 1", id="max-pages"),
]


@pytest.mark.parametrize(("data", "key", "problem"), ERRORS)
def test_error_names_file_key_and_problem(tmp_path, data, key, problem):
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    error = caught.value
    assert error.path == str(path)
    assert error.key == key
    assert problem in error.problem
    assert str(error).startswith(f"{path}: {key}: ")


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text("name: shop\nbase_url: [unclosed\nstart: {}\n", encoding="utf-8")
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    assert caught.value.key == "line 3"
    assert "not valid YAML" in caught.value.problem


def test_missing_file(tmp_path):
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(tmp_path / "nope.yaml")
    assert caught.value.key == "(file)"
    assert "No such file" in caught.value.problem


def test_name_must_match_file_name(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    with pytest.raises(SiteConfigError, match=r"other.yaml: name: 'shop' must equal the file name"):
        load_site_config(path)


def test_unknown_site_name(tmp_path):
    with pytest.raises(SiteConfigError, match=r"no site named 'ghost' in"):
        find_site_config("ghost", tmp_path)


def test_one_bad_file_fails_the_whole_load(tmp_path):
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**BASE, "name": "bad", "mode": "x"}))
    with pytest.raises(SiteConfigError, match=r"bad.yaml: mode:"):
        load_all_site_configs(tmp_path)


def test_valid_config_is_typed_with_defaults(tmp_path):
    data = with_(
        mode="listing",
        currency="EUR",
        politeness={"concurrency": 4, "delay": 0.25, "obey_robots": False},
        cadence={"every": "90m", "active_hours": "06:00-22:00"},
        selectors={"price": "span.price", "gtin": "xpath://meta[@itemprop='gtin13']"},
        start={"sitemap": "/sitemap.xml", "product_pattern": r"/p/[^/]+\.html$"},
    )
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    config = find_site_config("shop", tmp_path)
    assert config.base_url == "http://127.0.0.9:8000"
    assert config.allowed_domains == ["127.0.0.9"]
    assert config.absolute("/c/2") == "http://127.0.0.9:8000/c/2"
    assert config.politeness.concurrency == 4 and config.politeness.obey_robots is False
    assert config.cadence.every == timedelta(minutes=90)
    assert config.cadence.active_hours == (time(6), time(22))
    assert config.selectors.price.css == "span.price"
    assert config.selectors.gtin.xpath == "//meta[@itemprop='gtin13']"
    # Defaults: polite and robots.txt obeyed.
    assert parse_site_config(BASE).politeness.obey_robots is True


def test_shipped_site_configs_are_valid():
    configs = load_all_site_configs(SITES_DIR)
    assert "example" in configs and configs["example"].enabled is False
    assert configs["example"].selectors.product_link.attr == "href"
