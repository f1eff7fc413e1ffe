"""Site configs: one YAML file per competitor site, validated at the edge.

A new site is a YAML file, not new code. The file is checked here once, with errors that name
the file, the key and the problem; everything inward receives a typed :class:`SiteConfig`.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crawler.urls import join_url

SITES_DIR = Path(__file__).parent / "sites"
# libyaml's safe loader when present: 10x faster on configs that list thousands of URLs.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ENV_SITES_DIR = "PRICEWATCH_SITES_DIR"

FIELDS = (
    "title",
    "price",
    "regular_price",
    "currency",
    "availability",
    "stock_quantity",
    "gtin",
    "mpn",
    "sku",
    "brand",
    "review_count",
    "rating",
    "sold_count",
    "rank",
    "shipping",
)


class SiteConfigError(ValueError):
    """A site config is wrong. Names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{self.path}: {key}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """A CSS or XPath selector. In YAML, a plain string is CSS; ``xpath:...`` is XPath."""

    css: str | None = None
    xpath: str | None = None
    attr: str | None = None  # read this attribute instead of the text

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        if isinstance(value, str):
            if value.startswith("xpath:"):
                return {"xpath": value.removeprefix("xpath:").strip()}
            return {"css": value.removeprefix("css:").strip()}
        return value

    @model_validator(mode="after")
    def _exactly_one(self):
        if bool(self.css) == bool(self.xpath):
            raise ValueError("give exactly one of css or xpath")
        return self

    @field_validator("css")
    @classmethod
    def _valid_css(cls, value: str | None) -> str | None:
        if value:
            from cssselect import GenericTranslator, SelectorError

            try:
                GenericTranslator().css_to_xpath(value.split("::", 1)[0])
            except SelectorError as exc:
                raise ValueError(f"{value!r} is not a valid CSS selector: {exc}") from None
        return value

    @field_validator("xpath")
    @classmethod
    def _valid_xpath(cls, value: str | None) -> str | None:
        if value:
            from lxml import etree

            try:
                etree.XPath(value)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"{value!r} is not a valid XPath: {exc}") from None
        return value


class Selectors(_Strict):
    """Per-field selectors that complement or override structured data."""

    title: Selector | None = None
    price: Selector | None = None
    regular_price: Selector | None = None
    currency: Selector | None = None
    availability: Selector | None = None
    stock_quantity: Selector | None = None
    gtin: Selector | None = None
    mpn: Selector | None = None
    sku: Selector | None = None
    brand: Selector | None = None
    review_count: Selector | None = None
    rating: Selector | None = None
    sold_count: Selector | None = None
    rank: Selector | None = None
    shipping: Selector | None = None
    # Navigation
    listing_item: Selector | None = None  # one element per offer on a listing page
    product_link: Selector | None = None  # within a listing item, or the whole page
    next_page: Selector | None = None
    # A marker whose presence means "this is a ban/captcha page", whatever the status.
    ban_marker: Selector | None = None


class JsonApi(_Strict):
    """A paginated JSON API. Paths are JMESPath expressions into each response."""

    url: str
    items: str = "items"
    next: str | None = None  # path to the next page URL; absent: stop
    fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FIELDS) - {"url"})
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; known: url, {', '.join(FIELDS)}"
            )
        if "url" not in value:
            raise ValueError("give a path for url: every offer needs its own URL")
        for name, path in value.items():
            _check_jmespath(path, name)
        return value

    @field_validator("items", "next")
    @classmethod
    def _valid_paths(cls, value: str | None) -> str | None:
        if value is not None:
            _check_jmespath(value)
        return value


def _check_jmespath(path: str, where: str = "") -> None:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        jmespath.compile(path)
    except JMESPathError as exc:
        prefix = f"{where}: " if where else ""
        message = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        message = message.split(", for expression")[0].rstrip(":")
        raise ValueError(
            f"{prefix}{path!r} is not a valid JMESPath expression: {message}"
        ) from None


class StartPoints(_Strict):
    sitemap: str | None = None
    listings: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    api: JsonApi | None = None
    # Sitemap URLs matching this regular expression are product pages; the others, listings.
    product_pattern: str | None = None

    @field_validator("product_pattern")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _at_least_one(self):
        if not (self.sitemap or self.listings or self.products or self.api):
            raise ValueError("give at least one of sitemap, listings, products or api")
        return self


class Politeness(_Strict):
    concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    delay: Annotated[float, Field(ge=0, le=3600)] = 0.5  # seconds between requests
    obey_robots: bool = True
    timeout: Annotated[float, Field(gt=0, le=600)] = 30
    retries: Annotated[int, Field(ge=0, le=10)] = 2


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> timedelta:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` or a number of seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 6h or 1d")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


class RefreshCadence(_Strict):
    """Between full crawls, every ``every``: re-read at most ``pages`` product pages, those
    whose prices matter and go stale fastest (pricing/freshness.py plans them)."""

    every: timedelta
    pages: Annotated[int, Field(ge=1, le=1_000_000)]

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value):
        return parse_duration(value)


class Cadence(_Strict):
    """How often the scheduler crawls this site: an interval or a cron expression."""

    every: timedelta | None = None
    cron: str | None = None
    jitter: timedelta = timedelta(0)
    active_hours: tuple[time, time] | None = None  # local hours during which crawls may start
    refresh: RefreshCadence | None = None  # absent: full crawls only

    @field_validator("every", "jitter", mode="before")
    @classmethod
    def _duration(cls, value):
        return None if value is None else parse_duration(value)

    @field_validator("active_hours", mode="before")
    @classmethod
    def _hours(cls, value):
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            try:
                if not sep:
                    raise ValueError
                return (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
            except ValueError:
                raise ValueError(f"{value!r} is not a range like 06:00-22:00") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(
                f"{value!r} is not a 5-field cron expression (minute hour day month weekday)"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self):
        if self.every is None and self.cron is None:
            raise ValueError("give every (like 6h) or cron")
        if self.every is not None and self.cron is not None:
            raise ValueError("give every or cron, not both")
        if self.refresh is not None and self.every is not None and self.refresh.every >= self.every:
            raise ValueError(
                f"refresh.every ({self.refresh.every}) must be shorter than every ({self.every}): "
                "refresh crawls run between full crawls"
            )
        return self


PriceRule = Literal["structured", "visible"]
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class SiteConfig(_Strict):
    """One competitor site, as its YAML file describes it."""

    name: str
    base_url: str
    allowed_domains: list[str] = Field(default_factory=list)
    start: StartPoints
    # listing: take every offer shown on listing pages (few requests per product);
    # product: follow product links and read each product page.
    mode: Literal["listing", "product"] = "product"
    politeness: Politeness = Politeness()
    cadence: Cadence = Cadence(every=timedelta(hours=6))
    currency: str | None = None
    locale: str | None = None
    decimal_separator: Literal[".", ","] | None = None
    # Which price wins when structured data and the visible page disagree (the data-quality gate).
    price_rule: PriceRule = "structured"
    selectors: Selectors = Selectors()
    max_pages: Annotated[int, Field(ge=1)] | None = None
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a site name: use lowercase letters, digits, - and _ "
                "(like shop-01), at most 100 characters"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.fullmatch(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code like EUR or USD")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_domains(self):
        if not self.allowed_domains:
            host = urlsplit(self.base_url).hostname or ""
            object.__setattr__(self, "allowed_domains", [host])
        return self

    def absolute(self, url: str) -> str:
        """Resolve a config URL (often a path) against the site's base URL."""
        return join_url(self.base_url + "/", url)


def _key(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_site_config(data: object, path: Path | str = "<config>") -> SiteConfig:
    """Validate already-loaded YAML data; raise :class:`SiteConfigError` on the first problem."""
    if not isinstance(data, dict):
        raise SiteConfigError(path, "(top level)", "expected a mapping of keys to values")
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        elif error["type"] == "missing":
            problem = "required key is missing"
        raise SiteConfigError(path, _key(loc), problem) from None


def load_site_config(path: Path | str) -> SiteConfig:
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except OSError as exc:
        raise SiteConfigError(path, "(file)", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise SiteConfigError(
            path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    config = parse_site_config(data, path)
    if config.name != path.stem:
        raise SiteConfigError(
            path, "name", f"{config.name!r} must equal the file name {path.stem!r}"
        )
    return config


def sites_dir(override: Path | str | None = None) -> Path:
    import os

    return Path(override or os.environ.get(ENV_SITES_DIR) or SITES_DIR)


def load_all_site_configs(directory: Path | str | None = None) -> dict[str, SiteConfig]:
    """Every ``*.yaml`` in the sites directory, by name. One bad file fails the whole load."""
    directory = sites_dir(directory)
    return {path.stem: load_site_config(path) for path in sorted(directory.glob("*.yaml"))}


def find_site_config(name: str, directory: Path | str | None = None) -> SiteConfig:
    path = sites_dir(directory) / f"{name}.yaml"
    if not path.exists():
        raise SiteConfigError(path, "(file)", f"no site named {name!r} in {path.parent}")
    return load_site_config(path)
