"""Matching against the shop simulator's truth (a small market; the bench runs the full one)."""

from __future__ import annotations

import pandas as pd
import pytest

from pricing.bench.matching import _market_frames
from pricing.matching.offline import match_frames
from shopsim.market import Market


@pytest.fixture(scope="module")
def result():
    market = Market.generate(sites=8, products=4000, seed=5)
    catalog, offers = _market_frames(market)
    offers = offers.assign(offer_id=offers["site"] + offers["path"])
    ours = catalog[["sku", "title", "brand", "gtin", "mpn", "category", "price"]].astype(str)
    theirs = offers[
        ["offer_id", "site", "title", "brand", "gtin", "mpn", "price", "currency", "url"]
    ]
    theirs = theirs.astype(object).where(theirs.notna(), "").astype(str).replace("None", "")
    matches = match_frames(ours.replace("nan", ""), theirs)
    truth = offers.set_index("offer_id")
    matches["true_sku"] = matches["offer_id"].map(truth["true_sku"])
    matches["family"] = matches["offer_id"].map(truth["family"])
    return matches, truth, catalog


def test_precision_recall_on_truth(result):
    matches, truth, _ = result
    accepted = matches[matches["status"] == "accepted"]
    right = accepted["sku"] == accepted["true_sku"]
    assert right.mean() >= 0.98
    assert right.sum() / truth["true_sku"].notna().sum() >= 0.95


def test_identifier_matches_are_always_right(result):
    matches, _, _ = result
    gtin = matches[matches["method"] == "gtin"]
    assert len(gtin) > 100
    assert (gtin["sku"] == gtin["true_sku"]).all()


def test_near_duplicates_are_not_matched(result):
    matches, truth, catalog = result
    family_of_sku = truth.dropna(subset=["true_sku"]).groupby("true_sku")["family"].first()
    accepted = matches[matches["status"] == "accepted"]
    wrong = accepted[accepted["sku"] != accepted["true_sku"]]
    siblings = (wrong["sku"].map(family_of_sku) == wrong["family"]).sum()
    # Offers that leave the model number out, where we carry one model of the line, wait for a
    # manager when the market lists a sibling they fit too (pricing.matching.siblings).
    assert siblings == 0
    # The market really has near-duplicates for the matcher to resist.
    assert truth["family"].duplicated().any()
    assert isinstance(catalog, pd.DataFrame)
