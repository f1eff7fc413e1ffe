"""The market itself: deterministic, the right size, identity across shops, time, demand."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from shopsim import Market
from shopsim.market import TRUTH_COLUMNS
from shopsim.shops import FAMILIES


def test_same_seed_same_market_other_seed_other_market():
    a = Market.generate(sites=6, products=600, seed=11)
    b = Market.generate(sites=6, products=600, seed=11)
    c = Market.generate(sites=6, products=600, seed=12)
    pd.testing.assert_frame_equal(a.truth("shop-02"), b.truth("shop-02"))
    assert not a.truth("shop-02")["title"].equals(c.truth("shop-02")["title"])


def test_offer_count_and_shops_per_product(market):
    offers = market.offers
    assert len(offers) == 3000
    pairs = pd.DataFrame({"product": offers.product, "shop": offers.shop})
    assert not pairs.duplicated().any(), "a product is listed twice in one shop"
    per_product = pairs.groupby("product").size()
    assert per_product.min() >= 1 and per_product.max() <= 6
    assert per_product.nunique() == 6  # every count 1..6 occurs
    assert [s.family for s in market.sites[:6]] == list(FAMILIES)


def test_truth_has_the_interface_columns(market):
    frame = market.truth("shop-01")
    for col in [
        "url",
        "title",
        "brand",
        "gtin",
        "mpn",
        "price",
        "regular_price",
        "currency",
        "availability",
        "stock_quantity",
        "review_count",
        "rating",
        "sold_count",
        "rank",
        "true_sku",
        "shown_price_kind",
    ]:
        assert col in frame.columns
    assert list(frame.columns) == TRUTH_COLUMNS
    assert set(frame["availability"]) <= {"in_stock", "out_of_stock", "preorder", "backorder"}
    assert frame["url"].is_unique


def test_catalog_covers_most_products_and_truth_skus_exist(market):
    catalog = market.catalog_frame()
    assert list(catalog.columns) == (
        [
            "sku",
            "title",
            "brand",
            "gtin",
            "mpn",
            "category",
            "tags",
            "cost",
            "price",
            "floor",
            "ceiling",
            "map",
            "currency",
        ]
    )
    assert catalog["sku"].is_unique and catalog["gtin"].is_unique
    assert len(catalog) >= 0.8 * len(market.products)
    assert (catalog["floor"] <= catalog["ceiling"]).all()
    skus = set(catalog["sku"])
    truth = pd.concat([market.truth(s.name) for s in market.sites])
    mapped = truth["true_sku"].dropna()
    assert set(mapped) <= skus
    assert truth["true_sku"].isna().any(), "some competitor products are not ours"


def test_near_duplicates_are_different_products(market):
    p = market.products
    family = pd.Series(p.family)
    fam = family[family.duplicated(keep=False)].iloc[0]
    members = np.flatnonzero(p.family == fam)
    titles = {p.title(i) for i in members}
    gtins = {p.gtin[i] for i in members}
    skus = {p.sku(i) for i in members}
    assert len(titles) == len(members) == len(gtins)
    assert len(skus - {None}) == sum(p.in_catalog[members])  # each variant its own SKU
    # Variants share brand, line and category: only size, colour or model number differ.
    assert len({(p.brand[i], p.line[i], p.category[i]) for i in members}) == 1


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_product_differs_from_every_other_in_a_stated_attribute(seed):
    """Title and MPN tell any two products apart, not only the GTIN: families with more size
    variants than their category has sizes once wrapped round to a size already taken, and
    Black/Blue shared an MPN colour code. Large n, so such families certainly occur."""
    from shopsim.products import generate_products

    p = generate_products(40_000, np.random.default_rng(seed))
    titles = pd.Series([p.title(i) for i in range(len(p))])
    mpns = pd.Series([p.mpn(i) for i in range(len(p))])
    assert not titles.duplicated().any(), titles[titles.duplicated(keep=False)].head().tolist()
    assert not mpns.duplicated().any(), mpns[mpns.duplicated(keep=False)].head().tolist()
    sizes = pd.Series(p.size[p.axis == 1]).groupby(p.family[p.axis == 1]).nunique()
    members = pd.Series(p.family[p.axis == 1]).value_counts().sort_index()
    assert (sizes == members).all()  # a size family's variants each have their own size


def test_same_product_has_different_titles_across_shops(market):
    truth = pd.concat([market.truth(s.name) for s in market.sites])
    multi = truth.dropna(subset=["true_sku"]).groupby("true_sku")["title"].nunique()
    assert (multi > 1).sum() > 50
    no_brand = truth[truth["brand"].notna()]
    missing = no_brand[
        [b.lower() not in t.lower() for b, t in zip(no_brand.brand, no_brand.title, strict=True)]
    ]
    assert len(missing) > 0, "some titles leave the brand out"
    assert truth["gtin"].isna().any() and truth["gtin"].notna().any()


def test_time_evolves_prices_stock_and_listings():
    m = Market.generate(sites=6, products=1500, seed=2)
    before = pd.concat([m.truth(s.name) for s in m.sites]).set_index("path")
    later_at = m.clock.now() + timedelta(days=20)
    predicted = pd.concat([m.truth(s.name, at=later_at) for s in m.sites]).set_index("path")
    m.clock.advance(timedelta(days=20))
    after = pd.concat([m.truth(s.name) for s in m.sites]).set_index("path")
    pd.testing.assert_frame_equal(predicted, after)  # truth at a moment is a pure function
    both = before.index.intersection(after.index)
    changed = (before.loc[both, "price"] != after.loc[both, "price"]).mean()
    assert 0.2 < changed < 1.0
    stock_changed = (before.loc[both, "availability"] != after.loc[both, "availability"]).sum()
    assert stock_changed > 0
    assert len(after.index.difference(before.index)) > 0, "new (or moved) products appear"
    assert len(before.index.difference(after.index)) > 0, "delisted (or moved) products vanish"
    assert (after["shown_price_kind"] == "sale").any()
    with pytest.raises(ValueError):
        m.clock.advance(timedelta(hours=-1))


def test_clicks_follow_the_true_elasticity(market):
    clicks = market.clicks_frame(days=90)
    assert list(clicks.columns) == [
        "date",
        "sku",
        "views",
        "clicks",
        "add_to_cart",
        "orders",
        "revenue",
        "price",
    ]
    assert (clicks["clicks"] <= clicks["views"]).all()
    assert (clicks["orders"] <= clicks["add_to_cart"]).all()
    assert np.allclose(clicks["revenue"], clicks["orders"] * clicks["price"])
    assert clicks["date"].nunique() == 90
    # Conversion falls as our price rises relative to the market: cheap rows convert better.
    p = market.products
    pid = clicks["sku"].str[3:].astype(int).to_numpy()
    ratio = clicks["price"].to_numpy() / p.base_usd[pid]
    cheap, dear = ratio < 0.95, ratio > 1.1
    conv = lambda mask: clicks["add_to_cart"][mask].sum() / clicks["clicks"][mask].sum()  # noqa: E731
    assert conv(cheap) > 1.2 * conv(dear)
    assert set(market.true_elasticity) >= set(market.catalog_frame()["category"])


def test_time_scale_moves_the_clock_by_itself():
    from shopsim.clock import SimClock

    clock = SimClock(scale=3600 * 24)  # a real second is a simulated day
    start = clock.now()
    time.sleep(0.05)
    assert clock.now() - start >= timedelta(hours=1)
    frozen = SimClock()
    assert frozen.now() == frozen.now()


def test_true_elasticity_is_recoverable_from_the_clicks(market):
    """A binomial fit of add-to-cart per click on log(price / market price), per category,
    finds the elasticity the simulator used (within sampling noise of a 3,000-offer market)."""
    from scipy.optimize import minimize

    from shopsim.vocab import CATEGORIES

    clicks = market.clicks_frame(days=90)
    p = market.products
    pid = clicks["sku"].str[3:].astype(int).to_numpy()
    log_ratio = np.log(clicks["price"].to_numpy() / p.base_usd[pid])
    cat = p.category[pid]
    fitted, true = [], []
    for k, category in enumerate(CATEGORIES):
        mask = cat == k
        x, n, y = (
            log_ratio[mask],
            clicks["clicks"].to_numpy()[mask],
            clicks["add_to_cart"].to_numpy()[mask],
        )

        def nll(theta, x=x, n=n, y=y):
            prob = np.clip(np.exp(theta[0] + theta[1] * x), 1e-9, 1 - 1e-9)
            return -(y * np.log(prob) + (n - y) * np.log(1 - prob)).sum()

        fitted.append(minimize(nll, [np.log(0.1), -1.0]).x[1])
        true.append(market.true_elasticity[category.slug])
    fitted, true = np.array(fitted), np.array(true)
    assert np.abs(fitted - true).mean() < 0.6
    assert np.corrcoef(fitted, true)[0, 1] > 0.7


def test_price_wars_cut_a_whole_category_at_once_on_fighting_shops():
    from shopsim.dynamics import compute_state

    m = Market.generate(sites=6, products=3000, seed=2)
    h0 = m.clock.hour() + 12  # noon: daily windows are stable around it
    group = m.tables.group
    fighters = {s.index for s in m.sites if s.price_war}
    assert 0 < len(fighters) < len(m.sites)
    wars = set()
    prev = compute_state(m.seed, h0, m.offers, m.tables, len(m.sites))
    for day in range(1, 30):
        state = compute_state(m.seed, h0 + 24 * day, m.offers, m.tables, len(m.sites))
        cut = (state.price < prev.price) & (prev.price > 0)
        frame = pd.DataFrame({"g": group, "cut": cut}).groupby("g")["cut"].agg(["mean", "size"])
        for g in frame.index[(frame["mean"] > 0.8) & (frame["size"] >= 5)]:
            wars.add((int(g) // m.tables.n_cat, day))
        prev = state
    assert wars, "no price war in a month"
    assert {shop for shop, _ in wars} <= fighters
