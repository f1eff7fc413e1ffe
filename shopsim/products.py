"""The distinct products of the market, as columns (numpy arrays), and our own catalog.

Products come in families of near-duplicates: variants that share brand, line and model
family but differ in size, colour or model number. Each variant is its own product with its
own GTIN, MPN and (when we sell it) its own SKU, so a matcher that merges them is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopsim.vocab import CATEGORIES, COLOURS

AXES = ("colour", "size", "model")
# Part-number colour codes, one per colour of COLOURS: the first two letters would give Black and
# Blue (and Grey and Green) the same MPN, and an MPN names exactly one trade item.
COLOUR_CODES = ("BK", "WH", "SV", "BL", "RD", "GN", "GY", "RG", "NV", "BG")


def ean13(body: np.ndarray) -> np.ndarray:
    """12-digit bodies -> 13-digit EANs with a valid check digit, as strings."""
    digits = np.stack([(body // 10**k) % 10 for k in range(11, -1, -1)], axis=1)
    weights = np.tile([1, 3], 6)
    check = (10 - (digits * weights).sum(axis=1) % 10) % 10
    return np.char.add(body.astype("U12"), check.astype("U1"))


@dataclass
class Products:
    """Column store of distinct products; index i is the product id."""

    category: np.ndarray  # int8 index into CATEGORIES
    brand: np.ndarray  # int8 index into the category's brands
    line: np.ndarray  # int8 index into the category's lines
    model_num: np.ndarray  # int32
    size: np.ndarray  # int8 index into the category's sizes
    colour: np.ndarray  # int8 index into COLOURS
    family: np.ndarray  # int32 near-duplicate group
    axis: np.ndarray  # int8 index into AXES: what differs inside the family
    base_usd: np.ndarray  # float64 reference price
    gtin: np.ndarray  # <U13
    in_catalog: np.ndarray  # bool: we sell it (has a SKU)
    our_price_factor: np.ndarray  # float64, our price / base_usd at the start
    cost_factor: np.ndarray  # float64
    preorder_until_h: np.ndarray  # int32 hours since the epoch; 0: never a pre-order

    def __len__(self) -> int:
        return len(self.category)

    # Strings are built on demand: a product is asked for by one page at a time.
    def brand_name(self, i: int) -> str:
        return CATEGORIES[self.category[i]].brands[self.brand[i]]

    def model(self, i: int) -> str:
        cat = CATEGORIES[self.category[i]]
        brand = cat.brands[self.brand[i]]
        line = cat.lines[self.line[i]]
        return f"{brand[:2].upper()}{line[0].upper()}-{int(self.model_num[i])}"

    def mpn(self, i: int) -> str:
        return f"{self.model(i)}-{COLOUR_CODES[self.colour[i]]}{int(self.size[i])}"

    def sku(self, i: int) -> str | None:
        return f"PW-{i:06d}" if self.in_catalog[i] else None

    def title_parts(self, i: int) -> dict[str, str]:
        cat = CATEGORIES[self.category[i]]
        return {
            "brand": cat.brands[self.brand[i]],
            "line": cat.lines[self.line[i]],
            "model": self.model(i),
            "noun": cat.noun,
            "size": cat.sizes[self.size[i]],
            "colour": COLOURS[self.colour[i]],
        }

    def title(self, i: int) -> str:
        p = self.title_parts(i)
        words = [p["brand"], p["line"], p["model"], p["noun"], p["size"], p["colour"]]
        return " ".join(w for w in words if w)


def _unique_models(family, j, axis, f_model, f_cat, f_brand, f_line, size, colour) -> np.ndarray:
    """Model numbers such that no two products share an MPN (and so a title): two families of
    one brand prefix and line initial may draw the same number; the later one moves up by one
    until it is alone. Deterministic, no random draws."""
    prefix = pd.Series(
        [
            CATEGORIES[c].brands[b][:2].upper() + CATEGORIES[c].lines[ln][0].upper()
            for c, b, ln in zip(f_cat, f_brand, f_line, strict=True)
        ]
    )[family].to_numpy()
    f_model = f_model.copy()
    while True:
        model_num = np.where(axis == 2, f_model[family] + 10 * j, f_model[family])
        keys = pd.DataFrame({"p": prefix, "m": model_num, "s": size, "c": colour})
        clash = keys.duplicated().to_numpy()
        if not clash.any():
            return model_num
        f_model[np.unique(family[clash])] += 1


def generate_products(n: int, rng: np.random.Generator, *, catalog_share: float = 0.9) -> Products:
    """``n`` distinct products in near-duplicate families of 1-4 variants."""
    n_fam = max(1, int(n / 1.8) + 1)
    sizes = rng.choice([1, 2, 3, 4], size=n_fam, p=[0.45, 0.3, 0.15, 0.1])
    family = np.repeat(np.arange(n_fam, dtype=np.int32), sizes)[:n]
    if len(family) < n:  # only for tiny n: pad with singletons
        family = np.concatenate([family, np.arange(n_fam, n_fam + n - len(family), dtype=np.int32)])
        n_fam = int(family.max()) + 1
    j = np.arange(n) - np.searchsorted(family, family)  # variant number inside its family

    f_cat = rng.integers(0, len(CATEGORIES), n_fam).astype(np.int8)
    f_brand = rng.integers(0, 6, n_fam).astype(np.int8)
    f_line = rng.integers(0, 6, n_fam).astype(np.int8)
    f_model = rng.integers(100, 9900, n_fam).astype(np.int32)
    f_size = rng.integers(0, 5, n_fam).astype(np.int8)
    f_colour = rng.integers(0, len(COLOURS), n_fam).astype(np.int8)
    f_axis = rng.integers(0, len(AXES), n_fam).astype(np.int8)
    lo = np.array([c.base_price[0] for c in CATEGORIES])[f_cat]
    hi = np.array([c.base_price[1] for c in CATEGORIES])[f_cat]
    f_price = np.exp(rng.uniform(np.log(lo), np.log(hi)))

    # A family cannot have more size variants than its category has sizes: wrapping round would
    # make two products with one title and MPN (only the GTIN differing), which no shop or
    # matcher could tell apart. Such families vary by model number instead (no extra draws, so
    # everything generated after this stays as it was).
    cat_sizes = np.array([len(c.sizes) for c in CATEGORIES])
    too_many = (f_axis == 1) & (np.bincount(family, minlength=n_fam) > cat_sizes[f_cat])
    f_axis = np.where(too_many, np.int8(2), f_axis)
    cat = f_cat[family]
    axis = f_axis[family]
    n_sizes = cat_sizes[cat]
    size = np.where(axis == 1, (f_size[family] + j) % n_sizes, f_size[family] % n_sizes)
    colour = np.where(axis == 0, (f_colour[family] + j) % len(COLOURS), f_colour[family])
    model_num = _unique_models(family, j, axis, f_model, f_cat, f_brand, f_line, size, colour)
    step = np.where(axis == 1, 1.08, np.where(axis == 2, 1.10, 1.0))
    base = f_price[family] * step**j

    offset = int(rng.integers(0, 10**11))
    bodies = 400_000_000_000 + (np.arange(n, dtype=np.int64) * 982_451_653 + offset) % 10**11
    in_catalog = rng.random(n) < catalog_share
    preorder = np.where(rng.random(n) < 0.02, rng.integers(24, 24 * 40, n), 0).astype(np.int32)
    return Products(
        category=cat.astype(np.int8),
        brand=f_brand[family],
        line=f_line[family],
        model_num=model_num.astype(np.int32),
        size=size.astype(np.int8),
        colour=colour.astype(np.int8),
        family=family,
        axis=axis.astype(np.int8),
        base_usd=base,
        gtin=ean13(bodies),
        in_catalog=in_catalog,
        our_price_factor=rng.uniform(0.97, 1.08, n),
        cost_factor=rng.uniform(0.55, 0.8, n),
        preorder_until_h=preorder,
    )


def catalog_frame(products: Products, currency: str = "USD") -> pd.DataFrame:
    """Our catalog: the CSV ``pricewatch catalog import`` takes."""
    idx = np.flatnonzero(products.in_catalog)
    price = np.round(products.base_usd[idx] * products.our_price_factor[idx], 2)
    cost = np.round(products.base_usd[idx] * products.cost_factor[idx], 2)
    mapped = np.isin(products.brand[idx], (0, 3))  # some brands enforce a minimum advertised price
    tags = np.where(products.family[idx] % 7 == 0, "seasonal", "")
    tags = np.where(products.preorder_until_h[idx] > 0, "new", tags)
    return pd.DataFrame(
        {
            "sku": [f"PW-{i:06d}" for i in idx],
            "title": [products.title(i) for i in idx],
            "brand": [products.brand_name(i) for i in idx],
            "gtin": products.gtin[idx],
            "mpn": [products.mpn(i) for i in idx],
            "category": [CATEGORIES[c].slug for c in products.category[idx]],
            "tags": tags,
            "cost": cost,
            "price": price,
            "floor": np.round(cost * 1.1, 2),
            "ceiling": np.round(products.base_usd[idx] * 1.4, 2),
            "map": np.where(mapped, np.round(products.base_usd[idx] * 0.85, 2), np.nan),
            "currency": currency,
        }
    )
