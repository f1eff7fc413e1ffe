"""One shop's URL space: which page a path is, and what it says right now.

Independent of HTTP transport: :func:`route` returns a :class:`Page` (status, body, validators,
redirect); the server adds faults, compression and conditional requests around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType

from shopsim import (
    render_api,
    render_jsonld,
    render_microdata,
    render_mismatch,
    render_opengraph,
    render_plain,
)
from shopsim.clock import hour_to_datetime
from shopsim.dynamics import State
from shopsim.market import Market
from shopsim.render_common import Ctx, esc, page
from shopsim.shops import SiteSpec
from shopsim.vocab import CATEGORIES

RENDERERS: dict[str, ModuleType] = {
    "jsonld": render_jsonld,
    "microdata": render_microdata,
    "opengraph": render_opengraph,
    "plain": render_plain,
    "api": render_api,
    "mismatch": render_mismatch,
}
DISALLOWED = ("/cart", "/account/", "/search", "/checkout", "/__sim/")
SITEMAP_CHUNK = 5000
API_PER_PAGE = 100
HTML, XML, JSON, TEXT = (
    "text/html; charset=utf-8",
    "application/xml; charset=utf-8",
    "application/json; charset=utf-8",
    "text/plain; charset=utf-8",
)

_PRODUCT = (
    re.compile(r"^/p/([a-z0-9-]*)-(\d+)\.html$"),
    re.compile(r"^/products/(\d+)/([a-z0-9-]*)$"),
)
_LISTING = (
    re.compile(r"^/c/([a-z0-9-]+)$"),
    re.compile(r"^/category/([a-z0-9-]+)/(?:page/(\d+)/)?$"),
)
_SITEMAP = re.compile(r"^/sitemap-(\d+)\.xml$")
_CAT_BY_SLUG = {c.slug: k for k, c in enumerate(CATEGORIES)}


@dataclass(slots=True)
class Page:
    status: int = 200
    body: str = ""
    content_type: str = HTML
    last_modified: int | None = None  # hour; None: not cacheable
    location: str | None = None
    offers: list[int] = field(default_factory=list)  # offer indexes shown (for the request log)
    kind: str = "other"  # product, listing, api, sitemap, robots, home, gone, missing


def disallowed(path: str) -> bool:
    return path.startswith(DISALLOWED)


def robots_txt(site: SiteSpec, base_url: str) -> str:
    lines = ["User-agent: *"] + [f"Disallow: {p}" for p in DISALLOWED]
    if site.crawl_delay:
        lines.append(f"Crawl-delay: {site.crawl_delay}")
    lines += ["", f"Sitemap: {base_url}/sitemap.xml", ""]
    return "\n".join(lines)


class SiteRouter:
    """Routes requests for one shop of a market."""

    def __init__(self, market: Market, site: SiteSpec, base_url: str):
        self.market, self.site, self.base_url = market, site, base_url
        self.renderer = RENDERERS[site.family]
        self._nav: tuple[int, str] | None = None

    def ctx(self, state: State, layout_changed: bool = False) -> Ctx:
        if self._nav is None or self._nav[0] != state.hour:
            cats = self.market.categories(self.site, state)
            links = " ".join(
                f'<a href="{self.site.listing_path(CATEGORIES[c].slug, 1)}">{esc(CATEGORIES[c].name)}</a>'
                for c in cats
            )
            self._nav = (state.hour, links)
        return Ctx(self.site, self.base_url, self._nav[1], layout_changed)

    def route(self, path: str, query: str, state: State, layout_changed: bool = False) -> Page:
        if path == "/robots.txt":
            return Page(body=robots_txt(self.site, self.base_url), content_type=TEXT, kind="robots")
        ctx = self.ctx(state, layout_changed)
        for pattern in _PRODUCT:
            m = pattern.match(path)
            if m:
                slug, code = m.groups() if pattern is _PRODUCT[0] else m.groups()[::-1]
                return self.product(ctx, state, slug, int(code))
        for pattern in _LISTING:
            m = pattern.match(path)
            if m:
                page_no = m.group(2) if pattern is _LISTING[1] else _query_page(query)
                return self.listing(ctx, state, m.group(1), int(page_no or 1))
        if path == "/sitemap.xml":
            return self.sitemap(state, None)
        m = _SITEMAP.match(path)
        if m:
            return self.sitemap(state, int(m.group(1)))
        if path == render_api.API_PATH and self.site.family == "api":
            return self.api(ctx, state, _query_page(query) or 1)
        if path == "/":
            return Page(body=page(ctx, self.site.name, f"<h1>{self.site.name}</h1>"), kind="home")
        if disallowed(path):
            return Page(body=page(ctx, "Sign in", "<p>Please sign in.</p>"), kind="private")
        return self.missing(ctx)

    def missing(self, ctx: Ctx, status: int = 404) -> Page:
        text = "Not found" if status == 404 else "This product is no longer available"
        return Page(
            status, page(ctx, text, f"<h1>{text}</h1>"), kind="missing" if status == 404 else "gone"
        )

    def product(self, ctx: Ctx, state: State, slug: str, code: int) -> Page:
        market, site = self.market, self.site
        i = market.lookup(site, code)
        if i is None:
            return self.missing(ctx)
        offers = market.offers
        if code != state.code[i]:
            if code == offers.new_code[i]:  # the future URL of a product not yet moved
                return self.missing(ctx)
            if state.listed[i]:  # moved: the old URL redirects for good
                return Page(301, location=market.path(site, i, state), kind="redirect")
        if not state.listed[i]:
            gone = state.hour >= offers.until_h[i]
            return self.missing(ctx, site.gone_status if gone else 404)
        if slug != market.slug(i):
            return Page(301, location=market.path(site, i, state), kind="redirect")
        v = market.view(site, i, state)
        body = self.renderer.product(ctx, v)
        return Page(body=body, last_modified=v.last_modified, offers=[i], kind="product")

    def listing(self, ctx: Ctx, state: State, slug: str, page_no: int) -> Page:
        cat = _CAT_BY_SLUG.get(slug)
        if cat is None:
            return self.missing(ctx)
        items = self.market.listing(self.site, cat, state)
        per = self.site.per_page
        pages = max(1, -(-len(items) // per))
        if page_no < 1 or page_no > pages or len(items) == 0:
            return self.missing(ctx)
        chunk = items[(page_no - 1) * per : page_no * per]
        views = [self.market.view(self.site, int(i), state) for i in chunk]
        name = CATEGORIES[cat].name
        body = self.renderer.listing(ctx, views, name, slug, page_no, pages)
        last = max(v.last_modified for v in views)
        return Page(body=body, last_modified=last, offers=[int(i) for i in chunk], kind="listing")

    def shop_offers(self, state: State):
        """All listed offers of the shop, category by category, bestsellers first."""
        n_cat = self.market.tables.n_cat
        b = state.listing_bounds
        return state.listing_order[b[self.site.index * n_cat] : b[(self.site.index + 1) * n_cat]]

    def api(self, ctx: Ctx, state: State, page_no: int) -> Page:
        items = self.shop_offers(state)
        pages = max(1, -(-len(items) // API_PER_PAGE))
        if page_no < 1 or page_no > pages:
            return self.missing(ctx)
        chunk = items[(page_no - 1) * API_PER_PAGE : page_no * API_PER_PAGE]
        views = [self.market.view(self.site, int(i), state) for i in chunk]
        body = render_api.api_page(ctx, views, page_no, pages, API_PER_PAGE)
        last = max((v.last_modified for v in views), default=state.hour)
        return Page(
            body=body,
            content_type=JSON,
            last_modified=last,
            offers=[int(i) for i in chunk],
            kind="api",
        )

    def sitemap(self, state: State, part: int | None) -> Page:
        market, site = self.market, self.site
        items = self.shop_offers(state)
        chunks = max(1, -(-len(items) // SITEMAP_CHUNK))
        last = int(state.last_modified[items].max()) if len(items) else state.hour
        if part is None and chunks > 1:
            entries = "".join(
                f"<sitemap><loc>{self.base_url}/sitemap-{k}.xml</loc>"
                f"<lastmod>{_iso(last)}</lastmod></sitemap>"
                for k in range(1, chunks + 1)
            )
            body = f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
            return Page(body=body, content_type=XML, last_modified=last, kind="sitemap")
        part = part or 1
        if part > chunks:
            return Page(404, "not found", TEXT, kind="missing")
        urls = []
        if part == 1:
            for c in market.categories(site, state):
                urls.append(
                    f"<url><loc>{self.base_url}{site.listing_path(CATEGORIES[c].slug, 1)}</loc></url>"
                )
        lm = state.last_modified
        for i in items[(part - 1) * SITEMAP_CHUNK : part * SITEMAP_CHUNK]:
            urls.append(
                f"<url><loc>{self.base_url}{market.path(site, int(i), state)}</loc>"
                f"<lastmod>{_iso(int(lm[i]))}</lastmod></url>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(urls)
            + "</urlset>"
        )
        return Page(body=body, content_type=XML, last_modified=last, kind="sitemap")


def _query_page(query: str) -> int | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "page":
            return int(value) if value.isdigit() else -1
    return None


def _iso(hour: int) -> str:
    return hour_to_datetime(hour).strftime("%Y-%m-%dT%H:%M:%S+00:00")
