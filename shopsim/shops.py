"""Shop specs: what makes one simulated shop differ from the next.

Each property is a fixed cycle over the shop index (mixed with the seed where it does not
matter for coverage), so a market of only a dozen shops still shows every markup family,
price format, stock wording and URL style; tests rely on that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shopsim.locales import LOCALE_CYCLE, LOCALES, Locale

FAMILIES = ("jsonld", "microdata", "opengraph", "plain", "api", "mismatch")
STOCK_STYLES = ("simple", "quantity", "low", "schema")  # how stock is worded on the page
POPULARITY = ("reviews", "rating", "sold", "rank")


@dataclass(frozen=True, slots=True)
class Theme:
    """CSS class names of a shop's templates (what the YAML selectors point at)."""

    card: str
    title: str
    price: str
    regular: str
    stock: str
    next: str


THEMES = (
    Theme("product-card", "product-title", "price", "price-old", "stock", "next"),
    Theme("item", "item-name", "item-price", "was", "availability", "pagination-next"),
    Theme("tile", "tile__title", "tile__price", "tile__strike", "tile__stock", "pager__next"),
    Theme("prod", "prod-name", "amount", "amount-regular", "delivery", "more"),
)
# After a layout-change fault, prices move to this class and the old selectors stop matching.
CHANGED_PRICE_CLASS = "pr-2026-now"


@dataclass(slots=True)
class SiteSpec:
    index: int
    name: str
    host: str
    family: str
    locale: Locale
    mode: str  # listing | product: how the crawler config tells the spider to read it
    per_page: int
    theme: Theme
    split_price: bool  # <span>12</span><sup>99</sup>
    stock_style: str
    popularity: tuple[str, ...]
    sold_k: bool  # "1.2k sold" instead of "1,234 sold"
    show_ids: bool  # GTIN/MPN shown
    show_brand: bool
    from_share: float  # share of offers shown as "From $9.99"
    range_share: float  # ... as "$9.99 - $14.99"
    call_share: float  # ... as "Call for price"
    crawl_delay: float | None
    gone_status: int  # 404 or 410 for delisted products
    url_style: int
    weight: float  # relative number of offers
    price_level: float
    promo_rate: float
    price_war: bool
    oos_rate: float
    title_noise: float  # how often titles are reworded
    ending: float  # price ending (.99, .95, .00)
    extra: dict = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.locale.currency

    def product_path(self, slug: str, code: int) -> str:
        if self.url_style == 0:
            return f"/p/{slug}-{code}.html"
        return f"/products/{code}/{slug}"

    def listing_path(self, category: str, page: int) -> str:
        if self.url_style == 0:
            return f"/c/{category}" if page == 1 else f"/c/{category}?page={page}"
        return f"/category/{category}/" if page == 1 else f"/category/{category}/page/{page}/"


def make_sites(n: int, rng: np.random.Generator) -> list[SiteSpec]:
    sites = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        locale = LOCALES[LOCALE_CYCLE[i % len(LOCALE_CYCLE)]]
        # Structured families can be read from listings; the API is always "listing".
        mode = "product" if family == "mismatch" or (i % 5 == 4 and family != "api") else "listing"
        sites.append(
            SiteSpec(
                index=i,
                name=f"shop-{i + 1:02d}",
                host=f"127.0.0.{i + 2}",
                family=family,
                locale=locale,
                mode=mode,
                per_page=(24, 36, 48, 60, 96)[i % 5],
                theme=THEMES[i % len(THEMES)],
                split_price=i % 4 == 3,
                stock_style=STOCK_STYLES[(i // 2) % len(STOCK_STYLES)],
                popularity=tuple(p for k, p in enumerate(POPULARITY) if (i + k) % 3 != 2),
                sold_k=i % 2 == 0,
                show_ids=i % 3 != 2,
                show_brand=i % 7 != 3,
                from_share=0.15 if i % 5 == 1 else 0.0,
                range_share=0.15 if i % 5 == 2 else 0.0,
                call_share=0.03 if i % 4 == 1 else 0.0,
                crawl_delay=0.25 if i % 8 == 7 else None,
                gone_status=410 if i % 2 else 404,
                url_style=i % 2,
                weight=float(rng.lognormal(0.0, 0.6)),
                price_level=float(rng.uniform(0.93, 1.07)),
                promo_rate=float(rng.uniform(0.05, 0.2)),
                price_war=bool(rng.random() < 0.5),
                oos_rate=float(rng.uniform(0.03, 0.12)),
                title_noise=float(rng.uniform(0.2, 0.8)),
                ending=(0.99, 0.95, 0.0, 0.49)[(i // 3) % 4],
            )
        )
    return sites
